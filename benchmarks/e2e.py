"""End to end: the demo's whole path (clip, alignment, spotting, flow, model, explanations) per stage.

Two clips are made here from a real face photograph (scikit-image's astronaut) with a smooth, micro-amplitude
mouth-corner displacement over an onset-apex-offset course, so nothing licensed is needed: 200 frames of
640 x 480 at 200 fps (a CASME II-like sample, given to the Predictor as frames) and 10 s of 1280 x 720 at
30 fps (a phone video, written to an MPEG-4 file first, so reading it is part of the time: issue 11 asks for
<= 2 s). ``mer.inference.Predictor`` runs each a few times; the table holds the median seconds of every stage
it reports in ``Prediction.timings``. The shipped checkpoint is used when it exists, else a
random-weights mer_dbfem_caffm (the row says which). Without the inference module the table has one row
saying so.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

CLIP_FRAMES, CLIP_SIZE, CLIP_FPS = 200, (480, 640), 200.0  # frames, (H, W), frames per second
PHONE_FRAMES, PHONE_SIZE, PHONE_FPS = 300, (720, 1280), 30.0  # 10 s of 720p video


def make_clip(frames: int = CLIP_FRAMES, size: tuple[int, int] = CLIP_SIZE, fps: float = CLIP_FPS) -> Any:
    """A ``mer.spotting.source.Clip`` of a real face with a ~2 px smile-like motion (onset, apex, offset at 20%,
    45%, 70% of the clip)."""
    import cv2
    from skimage import data

    from mer.spotting.source import Clip

    h, w = size
    top, left, side = 0, 75, 300  # a square around the astronaut's head in the 512 x 512 photo (pixels)
    face = data.astronaut()[top : top + side, left : left + side]
    scale = h / side
    face = cv2.resize(face, (h, h), interpolation=cv2.INTER_CUBIC)
    canvas = np.full((h, w, 3), 90, np.uint8)
    x0 = (w - h) // 2
    canvas[:, x0 : x0 + h] = face
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    # mouth corners at (200, 145) and (248, 145) in the photo: lifted up and outwards by a Gaussian bump
    corners = [((200, 145), (-1.0, -1.0)), ((248, 145), (1.0, -1.0))]
    bumps = [((x0 + (x - left) * scale, (y - top) * scale), d) for (x, y), d in corners]
    field_x, field_y = np.zeros((h, w), np.float32), np.zeros((h, w), np.float32)
    for (cx, cy), (dx, dy) in bumps:
        g = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * (8 * scale) ** 2))
        field_x += dx * g
        field_y += dy * g
    onset, apex, offset = (round(frames * f) for f in (0.2, 0.45, 0.7))
    t = np.arange(frames)
    course = np.clip(
        np.where(t <= apex, (t - onset) / max(apex - onset, 1), (offset - t) / max(offset - apex, 1)), 0, 1
    )
    course = (0.5 - 0.5 * np.cos(np.pi * course)).astype(np.float32)  # smooth rise and fall
    out = [
        cv2.remap(
            canvas,
            xx - np.float32(2 * a) * field_x,
            yy - np.float32(2 * a) * field_y,
            cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REFLECT,
        )
        for a in course
    ]
    return Clip(frames=out, fps=fps, source="benchmarks.e2e synthetic clip (astronaut photo, warped)")


def _random_weights_predictor(device: str) -> Any:
    """A Predictor around a random-weights mer_dbfem_caffm, its card built from the model's pretrained_cfg."""
    import timm

    import mer  # noqa: F401  (registers mer_* in timm)
    from mer.engine.checkpoint import card_for
    from mer.inference import Predictor
    from mer.spec import CASME2_5

    model = timm.create_model("mer_dbfem_caffm", num_classes=len(CASME2_5))
    note = "random weights (benchmark only)"
    card = card_for(model, CASME2_5, preprocessing={"flow": "tvl1"}, synthetic=True, note=note)
    return Predictor(model, card, device=device)


def _predictor(checkpoint: str | Path | None, device: str) -> tuple[Any, str]:
    """The Predictor and a description of its weights (given file, shipped checkpoint, or random weights)."""
    from mer.inference import DEFAULT_CHECKPOINT, Predictor

    path = Path(checkpoint) if checkpoint else DEFAULT_CHECKPOINT
    if checkpoint or path.exists():
        return Predictor.from_checkpoint(path, device=device), f"checkpoint {path.name}"
    return _random_weights_predictor(device), "random-weights mer_dbfem_caffm (no checkpoint shipped yet)"


def _timed(predictor: Any, source: Any, runs: int) -> tuple[pd.DataFrame, Any]:
    timings = []
    for _ in range(runs):
        start = time.perf_counter()
        prediction = predictor(source)
        wall = time.perf_counter() - start
        timings.append({**{k: float(v) for k, v in prediction.timings.items()}, "total (wall)": wall})
    return pd.DataFrame(timings), prediction


def e2e_table(
    device: str = "cpu", runs: int = 3, checkpoint: str | Path | None = None, frames: int = CLIP_FRAMES
) -> pd.DataFrame:
    """Median seconds per stage over ``runs`` predictions of each clip; a row per clip and stage, and total."""
    import tempfile

    from mer.spotting.source import write_video

    rows = []
    try:
        predictor, weights = _predictor(checkpoint, device)
        with tempfile.TemporaryDirectory(prefix="mer_e2e_") as folder:
            sample, phone = make_clip(frames), make_clip(PHONE_FRAMES, PHONE_SIZE, PHONE_FPS)
            video = write_video(phone.frames, phone.fps, Path(folder) / "phone_720p.mp4")  # MPEG-4 Part 2
            # (what the Predictor is given, the clip it holds, how it is given)
            for source, clip, given in [(sample, sample, "frames"), (str(video), phone, "MPEG-4 file")]:
                df, prediction = _timed(predictor, source, runs)
                h, w = clip.frames[0].shape[:2]
                described = f"{len(clip)} frames {w}x{h} @ {clip.fps:g} fps ({given})"
                rows += [
                    {"stage": stage, "median_s": float(df[stage].median()), "min_s": float(df[stage].min()),
                     "runs": runs, "clip": described, "weights": weights, "device": device,
                     "label": prediction.label, "status": "ok"}
                    for stage in df.columns
                ]  # fmt: skip
    except Exception as err:  # noqa: BLE001 - the section reports itself unavailable instead of failing the run
        reason = str(err).strip().splitlines()[0] if str(err).strip() else ""
        return pd.DataFrame([{"stage": "all", "status": f"not available: {type(err).__name__}: {reason}"}])
    return pd.DataFrame(rows)
