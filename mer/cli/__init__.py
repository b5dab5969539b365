"""The ``mer`` command. One module per subcommand group; each imports the library only when it runs, so
``mer --help`` stays fast."""

from __future__ import annotations

import argparse
import importlib
import sys

from mer.errors import InputError

# module path -> it defines add_cli(subparsers), which adds one or more subcommands with set_defaults(func=...)
SUBCOMMAND_MODULES = (
    "mer.cli.synth",
    "mer.cli.preprocess",
    "mer.cli.train",
    "mer.cli.predict",
    "mer.cli.grid",
    "mer.cli.spot_eval",
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
    except OSError as err:  # a folder that cannot be written, a full disk: the person's to fix, not a traceback
        where = f" ({err.filename})" if err.filename else ""
        print(f"error: {err.strerror or err}{where}; check the path and its permissions or free space", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
