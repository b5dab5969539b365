"""``mer synth``: a synthetic micro-expression dataset in the CASME II layout, and the demo clips."""

from __future__ import annotations

import argparse
from pathlib import Path

from mer.errors import InputError
from mer.spec import CASME2_5


def add_cli(subparsers: argparse._SubParsersAction) -> None:
    """Register ``mer synth``."""
    p = subparsers.add_parser(
        "synth",
        help="write a synthetic micro-expression dataset in the CASME II layout (and/or demo clips)",
        description="Synthetic micro-expressions from real face photos, in the CASME II layout "
        "(CASME2_RAW_selected/, a coding sheet with the real columns, ground_truth.csv). Deterministic per seed.",
    )
    p.add_argument("--out", type=Path, help="folder to write the dataset to")
    p.add_argument("--subjects", type=int, default=6, help="number of subjects (default 6)")
    p.add_argument("--per-class", type=int, default=2, help="samples of each of the 5 classes per subject (default 2)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--frames", type=int, default=60, help="frames per sample at 200 fps (default 60)")
    p.add_argument("--workers", type=int, default=None, help="processes (default: one per core)")
    p.add_argument(
        "--photos", nargs="+", metavar="NAME",
        help="source photos subjects take turns on: 'all' (the nine of mer.synth.faces.ALL_PHOTOS), 'every' "
        "(EVERY_PHOTO: eleven) or names from PHOTO_SOURCES (default: astronaut grace_hopper)",
    )  # fmt: skip
    p.add_argument(
        "--video-like", action="store_true",
        help="samples like real video: 24-200 fps, larger head motion, light changes, macro-expression "
        "distractors, MPEG-4 compression",
    )  # fmt: skip
    p.add_argument(
        "--movement", choices=("gaussian", "anatomy", "mixed"), default="gaussian",
        help="how faces move: Gaussian bumps (default), py-feat's AU -> face-mesh model with the real sheets' AU "
        "frequencies (anatomy), or each sample one of the two (mixed); see mer.synth.dataset.MOVEMENTS",
    )  # fmt: skip
    p.add_argument("--pose", action="store_true", help="subjects' faces also turned out of the image plane")
    p.add_argument("--examples", type=Path, metavar="DIR", help="also write the demo clips (WebM) into DIR")
    p.set_defaults(func=_run)


def _photos(names: list[str] | None) -> tuple[str, ...] | None:
    from mer.synth.faces import ALL_PHOTOS, EVERY_PHOTO

    if not names:
        return None
    if names in (["all"], ["every"]):
        return ALL_PHOTOS if names == ["all"] else EVERY_PHOTO
    unknown = [n for n in names if n not in EVERY_PHOTO]
    if unknown:
        raise InputError(
            f"unknown photo(s) {', '.join(unknown)}; choose 'all', 'every' or from: {', '.join(EVERY_PHOTO)}"
        )
    return tuple(names)


def _run(args: argparse.Namespace) -> int:
    from mer.synth.dataset import SHEET_NAME, make_dataset, write_examples

    if args.out is None and args.examples is None:
        raise InputError("mer synth needs --out DIR (a dataset) or --examples DIR (demo clips), or both")
    if args.out is not None:
        out = make_dataset(
            args.out, args.subjects, args.per_class, args.seed, args.frames, args.workers,
            photos=_photos(args.photos), video_like=args.video_like, movement=args.movement, pose=args.pose,
        )  # fmt: skip
        print(f"wrote {args.subjects * args.per_class * len(CASME2_5)} synthetic samples to {out} "
              f"(sheet {SHEET_NAME}, ground truth ground_truth.csv)")  # fmt: skip
    if args.examples is not None:
        for path in write_examples(args.examples):
            print(path)
    return 0
