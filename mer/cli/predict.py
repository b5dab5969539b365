"""``mer predict``: clips in, the answer on stdout (text or JSON)."""

from __future__ import annotations

import argparse
import json
import time
from typing import TYPE_CHECKING

from mer.errors import InputError
from mer.spec import MAX_FRAMES

if TYPE_CHECKING:
    from mer.inference import Prediction


def format_summary(pred: Prediction) -> str:
    """The answer as a few readable lines."""
    info = pred.to_json()
    ck = info["checkpoint"]
    lines = [
        f"clip:        {pred.source} ({len(pred.frames)} frames at {pred.fps:g} fps)",
        f"checkpoint:  {ck['path']} ({ck['architecture']})",
    ]
    if ck.get("note"):
        lines.append(f"             {ck['note']}")
    how = "given" if pred.onset_apex_given else pred.spotting_note
    lines.append(f"onset/apex:  {pred.onset} / {pred.apex} ({how})")
    lines.append(f"prediction:  {pred.label} ({pred.probabilities[pred.label]:.1%})")
    width = max(len(k) for k in pred.probabilities)
    for name, p in sorted(pred.probabilities.items(), key=lambda kv: -kv[1]):
        lines.append(f"  {name:<{width}}  {p:6.1%}  {'#' * round(p * 30)}")
    stages = ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in pred.timings.items())
    lines.append(f"timings:     {stages}")
    if pred.notes:
        lines.append("notes:")
        lines.extend(f"  - {note}" for note in pred.notes)
    return "\n".join(lines)


def run_predict(args: argparse.Namespace) -> int:
    """`mer predict`: one clip -> the answer on stdout (text or JSON); overlays with --save-dir."""
    if (args.onset is None) != (args.apex is None):
        raise InputError("give both --onset and --apex (frame indices from 0), or neither to spot them")
    # the clip first: a bad clip is reported before the model is loaded
    start = time.perf_counter()
    from mer.data.clip import read_clip
    from mer.inference import Predictor, check_onset_apex, save_prediction

    clip = read_clip(args.clip, max_frames=args.max_frames, fps=args.fps)
    read_s = time.perf_counter() - start
    if args.onset is not None:  # checked before the model is loaded, so a typo costs nothing
        check_onset_apex(args.onset, args.apex, clip)
    predictor = Predictor.from_checkpoint(args.checkpoint, device=args.device, max_frames=args.max_frames)
    pred = predictor(clip, onset=args.onset, apex=args.apex)
    pred.timings = {"read": read_s, **pred.timings, "total": pred.timings["total"] + read_s}
    if args.save_dir:
        save_prediction(pred, args.save_dir)
    if args.json:
        print(json.dumps(pred.to_json(), indent=2))
    else:
        print(format_summary(pred))
        if args.save_dir:
            print(f"saved:       overlays, flow, aligned frames and result.json in {args.save_dir}")
    return 0


def add_cli(subparsers: argparse._SubParsersAction) -> None:
    """Register `mer predict`."""
    p = subparsers.add_parser(
        "predict",
        help="predict the micro-expression of one clip, with Grad-CAM and CBAM explanations",
        description="Read a clip (mp4/avi/mov/webm/mkv, a folder of frames or a zip of frames), find the "
        "face, spot the onset and apex (or take them from --onset/--apex), and print the predicted "
        "micro-expression.",
    )
    p.add_argument("clip", help="video file, folder of frames, or .zip of frames")
    p.add_argument("--checkpoint", default=None,
                   help="a .safetensors checkpoint with its .json card (default: the shipped demo checkpoint)")
    p.add_argument("--onset", type=int, default=None, help="onset frame index, counting from 0 (with --apex)")
    p.add_argument("--apex", type=int, default=None, help="apex frame index, counting from 0 (with --onset)")
    p.add_argument("--fps", type=float, default=None,
                   help="frame rate of the clip (default: from the video; 30 for folders and zips)")
    p.add_argument("--max-frames", type=int, default=MAX_FRAMES,
                   help=f"use at most this many frames from the start of the clip (default {MAX_FRAMES})")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--save-dir", default=None,
                   help="write overlays, flow, aligned frames and result.json into this folder")
    p.add_argument("--device", default="cpu", help="torch device (default cpu)")
    p.set_defaults(func=run_predict)


