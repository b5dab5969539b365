"""The ``mer`` command. Each subcommand lives beside the code it drives and registers itself here."""

from __future__ import annotations

import argparse
import importlib
import sys

from mer.errors import InputError

# module path -> it defines add_cli(subparsers), which adds one or more subcommands with set_defaults(func=...)
SUBCOMMAND_MODULES = (
    "mer.data.synth",
    "mer.data.cache",
    "mer.engine.cli",
    "mer.inference",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mer", description="Micro-expression recognition: data, training, prediction."
    )
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in SUBCOMMAND_MODULES:
        importlib.import_module(name).add_cli(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    return run_command(build_parser().parse_args(argv))


def run_command(args: argparse.Namespace) -> int:
    """Call ``args.func(args)``; bad input becomes one line ``error: ...`` on stderr and exit status 2."""
    try:
        return int(args.func(args) or 0)
    except InputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
