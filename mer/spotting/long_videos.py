"""Spotting a long video given as frame files (a long-video database's folder), with ours or the baseline.

``spot_frames(paths, fps, method)`` returns Events whose onset, apex and offset index ``paths`` (0-based); the
caller turns them into the database's frame numbers. Frames are read one at a time, so memory stays bounded
whatever the video's length:

- ``baseline``: :func:`mer.spotting.baseline.spot_baseline` reads the frames once (it keeps small face crops).
- ``ours``: the streaming spotter :func:`mer.spotting.spot.spot` (the Predictor's own spotting; no model is
  needed, spotting does not name the events), frames read once. Where that module is absent (older trees): the
  Predictor (``explain=False``) on pieces of CHUNK_S seconds (at most CHUNK_FRAMES frames) that overlap by
  OVERLAP_S; an event belongs to the piece whose own part (the overlap split in the middle) holds its apex, so an
  event near a seam is reported once. :func:`spot_ours` is the one place that chooses.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mer.errors import InputError
from mer.spotting.events import Event

METHODS = ("ours", "baseline")
CHUNK_S = 20.0
CHUNK_FRAMES = 600  # 600 frames at 640 px are about 0.4 GB: 3 s pieces at 200 fps, 20 s at 30 fps
OVERLAP_S = 1.0  # longer than any micro-expression (0.5 s)


def read_frames(paths: Sequence[Path], max_side: int | None = None) -> Iterator[np.ndarray]:
    """RGB uint8 frames of image files, in order, the longer side brought to at most ``max_side`` pixels."""
    import cv2

    from mer.spotting.source import MAX_SIDE

    side = max_side or MAX_SIDE
    for path in paths:
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            raise InputError(f"frame {path} could not be read: the image is damaged or not an image")
        scale = side / max(bgr.shape[:2])
        if scale < 1.0:
            bgr = cv2.resize(bgr, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        yield cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def pieces(count: int, fps: float) -> list[tuple[int, int, int, int]]:
    """(start, stop, own_start, own_stop) of overlapping pieces covering frames 0..count-1: each piece reads
    start..stop-1 and owns the events whose apex lies in own_start..own_stop-1 (the owned parts tile the video)."""
    length = max(2, min(CHUNK_FRAMES, int(round(CHUNK_S * fps))))
    overlap = min(length // 2, max(1, int(round(OVERLAP_S * fps))))
    hop = length - overlap
    starts = list(range(0, max(1, count - overlap), hop))
    out = []
    for k, start in enumerate(starts):
        stop = min(count, start + length)
        own_start = 0 if k == 0 else start + overlap // 2
        own_stop = count if k == len(starts) - 1 else starts[k + 1] + overlap // 2
        out.append((start, stop, own_start, own_stop))
    return out


def spot_ours(paths: Sequence[Path], fps: float, predictor: Any = None) -> list[Event]:
    """Our spotter over the frames: mer.spotting.spot.spot where it exists, else the Predictor piece by piece."""
    try:
        from mer.spotting.spot import spot
    except ImportError:
        return spot_with_predictor(paths, fps, predictor or _predictor())
    return spot(read_frames(paths), fps, name=str(paths[0].parent), expected=len(paths)).events


@functools.cache
def _predictor() -> Any:
    from mer.inference import Predictor

    return Predictor.from_checkpoint()


def spot_with_predictor(paths: Sequence[Path], fps: float, predictor: Any) -> list[Event]:
    """The Predictor (without explanations) over the frames, piece by piece (see the module docstring)."""
    from mer.spotting.source import Clip

    events: list[Event] = []
    for start, stop, own_start, own_stop in pieces(len(paths), fps):
        if stop - start < 2:
            continue
        frames = list(read_frames(paths[start:stop]))
        pred = predictor(Clip(frames, fps, f"{paths[start].parent} [{start}:{stop}]"), explain=False)
        for event in pred.events:
            if own_start <= start + event.apex < own_stop:
                event.onset, event.apex, event.offset = start + event.onset, start + event.apex, start + event.offset
                events.append(event)
    return events


def spot_frames(paths: Sequence[Path], fps: float, method: str = "ours", predictor: Any = None) -> list[Event]:
    """Every event of the video whose frames are ``paths`` (in order), by ``method`` ("ours" or "baseline").

    predictor: a :class:`mer.inference.Predictor` for "ours" where the streaming spotter is absent (default: the
    shipped checkpoint's, loaded once). Returns Events, onset/apex/offset indices into ``paths``, in time order.
    """
    if method == "baseline":
        from mer.spotting.baseline import spot_baseline

        return spot_baseline(read_frames(paths), fps)
    if method == "ours":
        return sorted(spot_ours(paths, fps, predictor), key=lambda e: (e.onset, e.offset))
    raise InputError(f"unknown spotting method '{method}'; choose one of {', '.join(METHODS)}")


def spotted_table(
    videos: Any, method: str, predictor: Any = None, progress: Any = None
) -> tuple[pd.DataFrame, list[dict[str, str]]]:
    """Spot every video present of a :class:`mer.data.datasets.long_video.LongVideos`: a row per event with video,
    onset, apex, offset (the database's frame numbers), kind, strength and method; and the videos the spotter
    refused ({"video", "problem"}, e.g. no face in any frame), which are scored as spotting nothing."""
    rows, refused = [], []
    present = list(videos.frames.items())
    for k, (video, frames) in enumerate(present):
        if progress is not None:
            progress(f"spotting {video} ({k + 1} of {len(present)}, {len(frames.numbers)} frames)")
        numbers = frames.numbers
        try:
            events = spot_frames(frames.paths(), videos.fps, method, predictor)
        except InputError as err:
            refused.append({"video": video, "problem": str(err)})
            continue
        for e in events:
            rows.append({"video": video, "onset": numbers[e.onset], "apex": numbers[e.apex],
                         "offset": numbers[e.offset], "kind": e.kind, "strength": round(float(e.strength), 4),
                         "method": method})  # fmt: skip
    return pd.DataFrame(rows, columns=["video", "onset", "apex", "offset", "kind", "strength", "method"]), refused


def known_videos(spotted: pd.DataFrame, videos: Any) -> tuple[pd.DataFrame, list[str]]:
    """The spotted rows of the videos present, renamed to their ids (a CAS(ME)^2 code "s15/15_0401" finds its
    folder "s15/15_0401girlcrashing"), and the ids that name no video of the sheet (left out; rows of the sheet's
    videos whose frames are absent are left out too, those videos being listed as skipped)."""
    key = videos.dataset.video_key
    by_key = {key(v): v for v in videos.frames}
    renamed = spotted["video"].map(lambda v: v if v in videos.frames else by_key.get(key(v)))
    in_sheet = {key(v) for v in videos.intervals["video"]}
    unknown = sorted({v for v in spotted.loc[renamed.isna(), "video"] if key(v) not in in_sheet})
    return spotted.assign(video=renamed)[renamed.notna()].reset_index(drop=True), unknown


def evaluate_database(
    name: str,
    root: str | Path,
    out: str | Path,
    sheet: str | Path | None = None,
    spotted_csv: str | Path | None = None,
    method: str = "ours",
    progress: Any = None,
) -> dict[str, Any]:
    """`mer spot-eval`: spot every video present of a long-video database (or read the intervals of a CSV) and
    score them against its sheet the MEGC way; writes OUT/spotting.csv (a row per video and kind), OUT/summary.json
    and, when it spotted, OUT/spotted.csv (the intervals, re-scorable with ``spotted_csv``). Returns the summary.

    Raises InputError when no video of the sheet is present under ``root``.
    """
    from mer.data.datasets import load_long_videos
    from mer.spotting.evaluate import evaluate, read_spotted

    videos = load_long_videos(name, root, sheet)
    if not videos.frames:
        shown = "; ".join(f"{s['video']} ({s['problem']})" for s in videos.skipped[:3])
        raise InputError(f"none of the {len(videos.skipped)} videos of {videos.sheet} has frames under {root} (e.g. "
                         f"{shown}); {videos.dataset.layout_hint}")  # fmt: skip
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    refused: list[dict[str, str]] = []
    if spotted_csv is not None:
        spotted, source = read_spotted(spotted_csv), {"spotted_csv": str(spotted_csv)}
    else:
        if method not in METHODS:
            raise InputError(f"unknown spotting method '{method}'; choose one of {', '.join(METHODS)}")
        spotted, refused = spotted_table(videos, method, progress=progress)
        spotted.to_csv(out / "spotted.csv", index=False)
        source = {"method": method if method == "ours" else f"baseline: {_baseline_name()}"}
    spotted, unknown = known_videos(spotted, videos)
    score = evaluate(videos.present(), spotted, videos.minutes())
    score.per_video.to_csv(out / "spotting.csv", index=False)
    summary = {
        "dataset": videos.dataset.name, "sheet": str(videos.sheet), "root": str(root), **source,
        **score.to_json(), "fps": videos.fps,
        "frames": "frame numbers as the sheet and the frame file names count them",
        "skipped": videos.skipped, "not_spotted": refused, "not_in_sheet": unknown,
    }  # fmt: skip
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def _baseline_name() -> str:
    from mer.spotting.baseline import NAME

    return NAME
