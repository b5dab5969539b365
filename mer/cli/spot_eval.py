"""``mer spot-eval``: spot every video of a long-video database (or read a CSV of intervals) and score it the MEGC
way against the database's sheet."""

from __future__ import annotations

import argparse
import sys

LONG_DATASETS = ("samm-lv", "casme2-lv", "casme3")  # as mer.data.datasets.LONG_DATASETS (kept here: fast --help)


def add_cli(subparsers: argparse._SubParsersAction) -> None:
    """Register ``mer spot-eval``."""
    parser = subparsers.add_parser(
        "spot-eval",
        help="score spotting on a long-video database (SAMM-LV, CAS(ME)^2, CAS(ME)^3) the MEGC way",
        description="Spot every video of a long-video database whose frames are under --root (or read the "
        "intervals of --spotted) and score them against the sheet: a spotted interval is a true positive at IoU "
        ">= 0.5 with a truth of its kind, each truth matched at most once, best IoU first. Writes OUT/spotting.csv "
        "(a row per video and kind), OUT/summary.json (micro, macro, overall: tp, fp, fn, recall, precision, f1; "
        "false positives per minute; videos skipped) and, when it spots, OUT/spotted.csv. Frame numbers are the "
        "sheet's; a video's id is its folder (006_1, s15/15_0101disgustingteeth, spNO.1/a).",
    )
    parser.add_argument("--dataset", required=True, choices=LONG_DATASETS, help="which database")
    parser.add_argument("--root", required=True, help="the folder holding the database's frames")
    parser.add_argument("--sheet", help="the annotation sheet (default: found in --root by its usual name)")
    parser.add_argument("--spotted", help="score this CSV of intervals (columns video, onset, offset, kind) instead "
                        "of spotting")  # fmt: skip
    parser.add_argument("--method", default="ours", choices=("ours", "baseline"),
                        help="the spotter: ours (mer.spotting.spot) or the training-free optical-flow one")  # fmt: skip
    parser.add_argument("--out", required=True, help="the folder to write the results to")
    parser.set_defaults(func=run_cli)


def run_cli(args: argparse.Namespace) -> int:
    from mer.spotting.long_videos import evaluate_database

    summary = evaluate_database(
        args.dataset, args.root, args.out, sheet=args.sheet, spotted_csv=args.spotted, method=args.method,
        progress=lambda message: print(message, file=sys.stderr),
    )  # fmt: skip
    parts = [f"{kind} F1 {summary[kind]['f1']:.3f} (TP {summary[kind]['tp']}, FP {summary[kind]['fp']}, "
             f"FN {summary[kind]['fn']})" for kind in ("micro", "macro", "overall")]  # fmt: skip
    print(f"{summary['videos']} videos, {summary['minutes']:.1f} min: " + "; ".join(parts)
          + f"; {summary['fp_per_minute']:.2f} false positives per minute"
          + (f"; {len(summary['skipped'])} videos skipped (frames absent)" if summary["skipped"] else "")
          + f"; wrote {args.out}/summary.json and spotting.csv")  # fmt: skip
    return 0
