"""``python -m benchmarks``: the suite's command, ``run``, ``complexity`` and ``report`` (benchmarks.run) with
``accuracy`` (benchmarks.table8) and ``gpu`` (benchmarks.gpu).

The command lives here, above the sections, so that the GPU run can call ``run`` without ``run`` importing it.
"""

from __future__ import annotations

import argparse


def build_parser() -> argparse.ArgumentParser:
    from benchmarks import gpu, run, table8

    return run.build_parser(commands=(table8.add_parser, gpu.add_parser))


def main(argv: list[str] | None = None) -> int:
    from benchmarks import gpu, run, table8

    return run.main(argv, commands=(table8.add_parser, gpu.add_parser))
