"""``mer predict --stream -``: a video arriving on standard input, each event printed as soon as it is decided.

    ffmpeg -i clip.mp4 -f matroska - | mer predict --stream - --json
    ffmpeg -f v4l2 -i /dev/video0 -f matroska - | mer predict --stream -

Every frame is analysed (a pipe waits for the reader; nothing is skipped) by the live spotter
(:class:`mer.spotting.live.LiveSession`). Each event goes to stdout as one JSON line (the fields of an entry of the
answer's ``events``) about a second after it ends; at the end comes the whole answer: one JSON line with --json,
else a few readable lines.
"""

from __future__ import annotations

import argparse
import json
import sys

from mer.errors import InputError


def check_stream_args(args: argparse.Namespace) -> None:
    """InputError for what --stream cannot be combined with."""
    if args.stream != "-":
        raise InputError(f"--stream reads standard input only: give --stream - (got --stream {args.stream})")
    if args.clip:
        raise InputError("give clips or --stream -, not both")
    if args.onset is not None or args.apex is not None:
        raise InputError("--onset/--apex belong to one clip file; a stream is searched for every movement")
    if args.save_dir:
        raise InputError("--save-dir is for clip files; a stream's events are printed as they come")


def run_stream(args: argparse.Namespace) -> int:
    """Read the video on standard input, print each event as a JSON line as it is decided, then the answer."""
    from mer.inference import Predictor
    from mer.spotting.live import LiveSession
    from mer.spotting.source import check_length, open_pipe, prefetched

    check_stream_args(args)
    if sys.stdin.isatty():
        raise InputError(
            "--stream - reads a video piped into it, e.g. ffmpeg -i CLIP -f matroska - | mer predict --stream -"
        )
    source = open_pipe(sys.stdin.fileno(), fps=args.fps)  # a pipe that is not a video fails before the model loads
    predictor = Predictor.from_checkpoint(args.checkpoint, device=args.device)
    # micro events named inside push(): a pipe waits for its reader (no frame is lost), and a label from the naming
    # thread would come only with the next frame
    session = LiveSession(predictor, fps=source.fps, name_in_background=False)
    for number, (seconds, frame) in enumerate(prefetched(source.frames())):
        if args.max_frames is not None and number >= args.max_frames:
            source.note(f"only the first {args.max_frames} frames were used, as asked (--max-frames)")
            break
        _print_events(session.push(seconds, frame).new_events)
    _print_events(session.close().new_events)
    check_length(session.frames, "the standard input")
    if not session.face_seen:
        raise InputError(
            "no face found in the video on the standard input; use a well-lit, frontal, unobstructed face that "
            "fills a good part of the frame"
        )
    answer = session.to_json() | {"source": source.source, "summary": session.summary(), "notes": source.notes}
    print(json.dumps(answer) if args.json else format_answer(answer), flush=True)
    return 0


def _print_events(events: list[dict]) -> None:
    for event in events:
        print(json.dumps(event), flush=True)


def format_answer(answer: dict) -> str:
    """The stream's answer as a few readable lines."""
    lines = [
        f"stream:      {answer['source']} ({answer['frames']} frames, {answer['duration_s']:.2f} s at "
        f"{answer['fps']:g} fps)",
        f"answer:      {answer['summary']}",
    ]
    for event in answer["events"]:
        label = event.get("label")
        named = f" {label} ({event['probabilities'][label]:.0%})" if label else ""
        lines.append(
            f"  {event['kind']:<5} {event['start_s']:.2f}-{event['end_s']:.2f} s{named} (reported at "
            f"{event['reported_s']:.2f} s): {event['reason']}"
        )
    lines.extend(f"note:        {note}" for note in answer["notes"])
    return "\n".join(lines)
