"""``mer predict``: clips in (files, folders of frames, folders of clips), one answer per clip on stdout."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from mer.errors import InputError

if TYPE_CHECKING:
    from mer.inference import Prediction


def format_prediction(pred: Prediction) -> str:
    """The answer as a few readable lines."""
    info = pred.to_json()
    ck = info["checkpoint"]
    lines = [
        f"clip:        {pred.source} ({pred.frame_count} frames, {_duration(pred)} at {pred.fps:g} fps)",
        f"checkpoint:  {ck['path']} ({ck['architecture']})",
    ]
    if ck.get("note"):
        lines.append(f"             {ck['note']}")
    lines.append(f"answer:      {pred.summary}")
    if pred.onset_apex_given:
        lines.append(f"onset/apex:  {info['index']['given']['onset']} / {info['index']['given']['apex']} (given)")
    for event in info["events"]:
        named = f" {event['label']} ({event['probabilities'][event['label']]:.0%})" if event.get("label") else ""
        lines.append(
            f"  {event['kind']:<5} frames {event['onset']}-{event['apex']}-{event['offset']} "
            f"({event['start_s']:.2f}-{event['end_s']:.2f} s){named}: {event['reason']}"
        )
    if pred.label is not None:
        width = max(len(k) for k in pred.probabilities)
        lines.append(f"most salient micro-expression: {pred.label} (frames {pred.onset} to {pred.apex})")
        for name, p in sorted(pred.probabilities.items(), key=lambda kv: -kv[1]):
            lines.append(f"  {name:<{width}}  {p:6.1%}  {'#' * round(p * 30)}")
    lines.append(f"confidence:  {info['calibration']['note']}")
    lines.append(f"frames:      {info['index']['note']}")
    stages = ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in pred.timings.items())
    lines.append(f"timings:     {stages}")
    if pred.notes:
        lines.append("notes:")
        lines.extend(f"  - {note}" for note in pred.notes)
    return "\n".join(lines)


def _duration(pred: Prediction) -> str:
    times = pred.times if pred.times is not None and len(pred.times) else None
    return f"{times[-1]:.2f} s" if times is not None else f"{pred.frame_count / pred.fps:.2f} s"


def expand_clips(paths: list[str]) -> list[Path]:
    """The clips named on the command line, in order: a video or zip file is one clip; a folder with image files
    directly in it is one clip (a folder of frames); any other folder holds clips: each video, zip and sub-folder
    in it (sorted naturally), expanded the same way. A missing path stays, to be reported as that clip's error."""
    from mer.spotting.source import IMAGE_SUFFIXES, VIDEO_SUFFIXES, ZIP_SUFFIXES, natural_key

    out: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if not path.is_dir() or any(p.suffix.lower() in IMAGE_SUFFIXES for p in path.iterdir() if p.is_file()):
            out.append(path)
            continue
        inside = [
            p
            for p in sorted(path.iterdir(), key=lambda p: natural_key(p.name))
            if not p.name.startswith(".") and (p.is_dir() or p.suffix.lower() in VIDEO_SUFFIXES + ZIP_SUFFIXES)
        ]
        if not inside:
            out.append(path)  # read_clip says what is wrong with it
        out.extend(expand_clips([str(p) for p in inside]))
    return out


def _open(path: Path, args: argparse.Namespace):
    """The clip as a stream (checked now; its frames are read as they are analysed)."""
    from mer.spotting.source import open_source

    return open_source(path, max_frames=args.max_frames, fps=args.fps)


def _progress_bar(args: argparse.Namespace, path: Path):
    """A tqdm bar on stderr for one clip, or None: off with -q, when --json goes to a pipe or a file, or when
    stderr is not a terminal."""
    if args.quiet or not sys.stderr.isatty() or (args.json and not sys.stdout.isatty()):
        return None
    from tqdm import tqdm

    return tqdm(
        total=1000, desc=path.name[:30], file=sys.stderr, leave=False, bar_format="{desc}: {percentage:3.0f}% {postfix}"
    )


def _one_clip(predictor, path: Path, args: argparse.Namespace, index: str, source=None) -> Prediction:
    from mer.demo.view import save

    source = source or _open(path, args)
    bar = _progress_bar(args, path)

    def progress(fraction: float, message: str) -> None:
        bar.n = int(round(1000 * fraction))
        bar.set_postfix_str(message, refresh=True)

    try:
        pred = predictor(source, onset=args.onset, apex=args.apex, index=index, progress=progress if bar else None)
    finally:
        if bar is not None:
            bar.close()
    if args.save_dir:
        folder = Path(args.save_dir)
        fps_source = f"given (--fps {args.fps:g})" if args.fps else "from the file"
        save(pred, folder if len(args.clips_found) == 1 else folder / _stem(path), path.name, fps_source)
    return pred


def _stem(path: Path) -> str:
    return path.stem or path.name or "clip"


def run_predict(args: argparse.Namespace) -> int:
    """`mer predict`: each clip -> its answer on stdout (text, or one JSON line per clip with --json); a bad clip
    gives an error line and the others go on; exit status 2 when any clip failed. --stream -: the video on
    standard input, its events printed as they are decided (:mod:`mer.cli.predict_stream`)."""
    if getattr(args, "stream", None) is not None:
        from mer.cli.predict_stream import run_stream

        return run_stream(args)
    if not args.clip:
        raise InputError("give at least one clip, or --stream - to read a video from standard input")
    if (args.onset is None) != (args.apex is None):
        raise InputError("give both --onset and --apex, or neither to find every movement")
    clips = expand_clips(args.clip)
    if args.onset is not None and len(clips) != 1:
        raise InputError(f"--onset/--apex belong to one clip, but {len(clips)} clips were given; give one clip")
    args.clips_found = clips
    index = "file_number" if args.frame_numbers else "position"
    # one clip: a bad clip is reported before the model is loaded, and an onset/apex typo costs nothing
    first = _open(clips[0], args) if len(clips) == 1 else None
    if first is not None and args.onset is not None:
        from mer.inference import check_onset_apex, to_positions

        check_onset_apex(*to_positions(args.onset, args.apex, first, index), first)
    from mer.inference import Predictor

    predictor = Predictor.from_checkpoint(args.checkpoint, device=args.device)
    failed = 0
    for number, path in enumerate(clips):
        try:
            pred = _one_clip(predictor, path, args, index, first if number == 0 else None)
        except InputError as err:
            if len(clips) == 1:
                raise  # one clip: the one `error: ...` line and status 2 of every mer command
            failed += 1
            if args.json:
                print(json.dumps({"source": str(path), "error": str(err)}), flush=True)
            else:
                print(f"error: {path}: {err}", file=sys.stderr, flush=True)
            continue
        if args.json:
            print(json.dumps(pred.to_json()), flush=True)
        else:
            print(("\n" if number else "") + format_prediction(pred), flush=True)
    if args.save_dir and not args.json:
        print(f"saved:       the page's pictures, maps, timeline.html, answer.md and result.json in {args.save_dir}")
    return 2 if failed else 0


def add_cli(subparsers: argparse._SubParsersAction) -> None:
    """Register `mer predict`."""
    p = subparsers.add_parser(
        "predict",
        help="find and name the micro-expressions of clips, with Grad-CAM and CBAM explanations",
        description="Read each clip (mp4/avi/mov/webm/mkv, a folder of frames, a zip of frames, or a folder of "
        "such clips), follow the face, find every facial movement (micro or macro), name each micro-expression "
        "and print one answer per clip. The model is loaded once for all clips.",
    )
    p.add_argument("clip", nargs="*", help="video files, folders of frames, .zip files of frames or folders of clips")
    p.add_argument(
        "--stream",
        metavar="-",
        default=None,
        help="read one video from standard input (e.g. ffmpeg -i CLIP -f matroska -) and print each event as a JSON "
        "line as soon as it is decided, then the whole answer",
    )
    p.add_argument(
        "--checkpoint",
        default=None,
        help="a checkpoint folder, or a .safetensors file with its .json card (default: the shipped demo checkpoint)",
    )
    p.add_argument(
        "--onset",
        type=int,
        default=None,
        help="onset frame of one known movement (index from 0, or file number with --frame-numbers)",
    )
    p.add_argument("--apex", type=int, default=None, help="apex frame of that movement (with --onset)")
    p.add_argument(
        "--frame-numbers",
        action="store_true",
        help="--onset/--apex are the numbers in the frame files' names (CASME II's img46.jpg is 46), "
        "as the coding sheets give them, not indices from 0",
    )
    p.add_argument(
        "--fps",
        type=float,
        default=None,
        help="frame rate of the clips (default: from the video; 30 for folders and zips)",
    )
    p.add_argument(
        "--max-frames",
        type=int,
        default=None,
        help="use at most this many frames from the start of each clip (default: the whole clip, any length)",
    )
    p.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="no progress bar on stderr (it is off anyway when --json goes to a pipe)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object per clip, one per line")
    p.add_argument(
        "--save-dir",
        default=None,
        help="write what the page shows (pictures, maps, timeline.html, answer.md, result.json) into this folder "
        "(one sub-folder per clip when there are several)",
    )
    p.add_argument("--device", default="cpu", help="torch device (default cpu)")
    p.set_defaults(func=run_predict)
