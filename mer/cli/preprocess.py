"""``mer preprocess``: a dataset, once, into a cache of model inputs."""

from __future__ import annotations

import argparse
from typing import Any

from mer.spec import DATASET_NAMES, LABEL_SETS, RAW_LABEL_SET


def format_timings(timings: dict[str, Any]) -> str:
    """One line: samples computed and reused, wall time, and the time per stage summed over workers."""
    from mer.data.cache import PREPROCESS_STAGES

    stages = ", ".join(f"{s} {timings.get(s, 0):.1f} s" for s in PREPROCESS_STAGES if timings.get(s))
    if timings.get("cpu"):
        stages += f" (worker CPU time {timings['cpu']:.1f} s)"
    return (
        f"{timings['computed']} computed, {timings['reused']} reused in {timings['wall']:.1f} s wall "
        f"on {timings['workers']} worker(s)" + (f"; per stage, summed over workers: {stages}" if stages else "")
    )


def add_cli(subparsers: argparse._SubParsersAction) -> None:
    """Register ``mer preprocess``."""
    parser = subparsers.add_parser(
        "preprocess",
        help="preprocess a dataset once into a cache of model inputs",
        description="Read, align and turn every sample of a dataset into a model input, saved in a cache "
        "folder keyed by the settings (a rerun reuses what is there; an interrupted run resumes).",
    )
    parser.add_argument("--dataset", required=True, choices=DATASET_NAMES, help="which database")
    parser.add_argument("--root", required=True, help="the folder holding the database's frames")
    parser.add_argument("--sheet", help="the annotation sheet (default: found in --root by its usual name)")
    parser.add_argument("--out", required=True, help="the cache folder to write")
    parser.add_argument("--modality", default="flow", choices=("flow", "apex"), help="model input (default flow)")
    parser.add_argument("--flow", default="tvl1", choices=("tvl1", "dis"), help="optical flow (default tvl1)")
    parser.add_argument(
        "--label-set",
        choices=(*LABEL_SETS, RAW_LABEL_SET),
        help="classes (default: casme2_5 for casme2, megc_3 for samm and megc; 'emotion': the sheet's words)",
    )
    parser.add_argument(
        "--skip-missing", action="store_true", help="leave out samples with problems (listed in skipped.csv)"
    )
    parser.add_argument("--workers", type=int, default=None, help="processes (default: up to 2)")
    parser.add_argument(
        "--derive",
        action="store_true",
        help="also derive now the inputs the comparison models read (mer_fr: flow_uv28; mer_mol, lbptop_svm: "
        "frames8 + MOL's targets); otherwise `mer train` derives them once, on first use",
    )
    parser.set_defaults(func=run_cli)


def run_cli(args: argparse.Namespace) -> int:
    from mer.data.cache import ensure_modality, preprocess
    from mer.spec import DERIVED_FROM

    settings = preprocess(
        args.dataset, args.root, args.out, sheet=args.sheet, modality=args.modality, flow=args.flow,
        label_set=args.label_set, skip_missing=args.skip_missing, workers=args.workers,
    )  # fmt: skip
    print(
        f"{settings['samples']} samples in {args.out} ({settings['skipped']} skipped"
        + (", listed in skipped.csv" if settings["skipped"] else "")
        + f"); {format_timings(settings['timings'])}"
    )
    derivable = [m for m, source in DERIVED_FROM.items() if source in ("clip", settings["modality"])]
    if args.derive:
        for modality in derivable:
            print(f"derived {modality}: {ensure_modality(args.out, modality)}")
    else:
        print(f"inputs {', '.join(derivable)} (comparison models) are derived by `mer train` on first use, or now "
              "with --derive")  # fmt: skip
    return 0
