"""A training-free optical-flow spotter, the floor every spotting figure is measured against.

The field's plain baseline (Li et al. 2018's feature difference with a sliding reference; the MEGC optical-flow
baselines): each frame t is compared with the frames ``lag`` before and after it. A movement that goes and comes
back within 2 lag frames moves the face at t away from both; a movement that starts and holds moves it from one
only. With optical flow on a fixed face box:

face box (the face mesh's, first frame with a face) -> grey crop, SIZE x SIZE -> DIS flow from frame t - lag to t, the
median flow taken out (head motion) -> mean flow magnitude per block of a GRID x GRID grid -> score(t) = mean over
the top third of blocks of min(block(t - lag -> t), block(t -> t + lag)) -> peaks above
mean + p x (max - mean) of the video's scores (Li et al.'s threshold), at least lag apart -> intervals
[t - lag, t + lag], micro at the micro lag, macro at the macro lag.

No blink, talk or per-person noise handling: it is the floor, not the product. Settings (lags, p) were chosen
on synthetic tuning clips (``python -m benchmarks.realfaces --tune-baseline``), never on measured videos.

    events = spot_baseline(frames, fps)      # frames: RGB uint8 arrays, any iterable; events: Event list
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

import cv2
import numpy as np
from scipy.signal import find_peaks

from mer.spotting.events import Event

NAME = "flow-peaks"  # as benchmark rows and `mer spot-eval --method baseline` name it
SIZE = 96  # face crop side (pixels) for the flow
GRID = 6  # blocks per side
DETECT_EVERY_S = 0.5  # look for the face this often until it is found
WORK_SIDE = 320  # frames are kept grey at this longer side until the face box is known


@dataclass(frozen=True)
class BaselineSettings:
    """micro_lag_s, macro_lag_s: the sliding reference, seconds before and after (an interval is 2 lags long);
    micro_p, macro_p: the threshold's place between the video's mean and largest score (0: the mean, 1: the max).
    """

    # chosen on the synthetic tuning clips (benchmarks.realfaces.TUNING_CLIPS, 19 injected micro-expressions, grid
    # lag 0.067-0.3 s x p 0.05-0.7): micro F1 0.364 at 0.2 s / 0.1 (0.333 at 0.1 s / 0.3)
    micro_lag_s: float = 0.2
    micro_p: float = 0.1
    # not tuned (the tuning clips' truth is micro only): half a typical 1 s macro-expression, a middling threshold
    macro_lag_s: float = 0.5
    macro_p: float = 0.3


DEFAULT = BaselineSettings()


def face_crops(frames: Iterable[np.ndarray], fps: float, size: int = SIZE) -> np.ndarray:
    """(T, size, size) float32 grey crops of the face box found in the first frame with a face (dlib); (0, size,
    size) when no frame has one. Frames before the box is known are kept grey at WORK_SIDE, then cropped."""
    from mer.spotting.face import detect_faces

    step = max(1, int(round(DETECT_EVERY_S * fps)))
    pending: list[np.ndarray] = []
    crops: list[np.ndarray] = []
    box: tuple[int, int, int, int] | None = None
    for t, frame in enumerate(frames):
        scale = min(1.0, WORK_SIDE / max(frame.shape[:2]))
        grey = cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2GRAY)
        small = grey if scale == 1.0 else cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        if box is None and t % step == 0:
            found = detect_faces(frame)
            if found:
                box = _box(found[0], scale, small.shape)
                crops.extend(_crop(p, box, size) for p in pending)
                pending = []
        if box is None:
            pending.append(small)
        else:
            crops.append(_crop(small, box, size))
    return np.stack(crops) if crops else np.zeros((0, size, size), np.float32)


def _box(face: tuple[float, float, float, float], scale: float, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """The dlib box grown by 10% each way (brows and chin), in the scaled frame, inside it."""
    left, top, right, bottom = (v * scale for v in face)
    grow_x, grow_y = 0.1 * (right - left), 0.1 * (bottom - top)
    h, w = shape[:2]
    return (int(max(0, left - grow_x)), int(max(0, top - grow_y)), int(min(w, right + grow_x)),
            int(min(h, bottom + grow_y)))  # fmt: skip


def _crop(small: np.ndarray, box: tuple[int, int, int, int], size: int) -> np.ndarray:
    left, top, right, bottom = box
    return cv2.resize(small[top:bottom, left:right], (size, size), interpolation=cv2.INTER_AREA)


def block_motion(crops: np.ndarray, lag: int, grid: int = GRID) -> np.ndarray:
    """(T, grid * grid) mean flow magnitude per block from crop t - lag to crop t, median flow (head motion) taken
    out; rows before ``lag`` are 0. Units: crop pixels (SIZE-pixel face)."""
    count, size = len(crops), crops.shape[1] if len(crops) else SIZE
    out = np.zeros((count, grid * grid), np.float32)
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST)
    cell = size // grid
    for t in range(lag, count):
        flow = dis.calc(crops[t - lag], crops[t], None)
        flow -= np.median(flow.reshape(-1, 2), axis=0)
        magnitude = np.linalg.norm(flow[: cell * grid, : cell * grid], axis=2)
        out[t] = magnitude.reshape(grid, cell, grid, cell).mean(axis=(1, 3)).ravel()
    return out


def scores(blocks: np.ndarray, lag: int) -> np.ndarray:
    """(T,) how far frame t stands from both frames t - lag and t + lag: the mean over the top third of blocks of
    min(blocks[t], blocks[t + lag]); 0 where either is outside the clip."""
    count = len(blocks)
    out = np.zeros(count, np.float32)
    if count <= 2 * lag:
        return out
    both = np.minimum(blocks[lag : count - lag], blocks[2 * lag :])
    top = max(1, blocks.shape[1] // 3)
    out[lag : count - lag] = np.sort(both, axis=1)[:, -top:].mean(axis=1)
    return out


def peaks(score: np.ndarray, lag: int, p: float) -> list[tuple[int, int, int, float]]:
    """(onset, apex, offset, score) of each peak above mean + p (max - mean), peaks at least ``lag`` apart;
    the interval is [apex - lag, apex + lag] inside the clip."""
    inside = score[score > 0]
    if len(inside) == 0 or float(inside.max()) <= 0:
        return []
    threshold = float(inside.mean() + p * (inside.max() - inside.mean()))
    found, _ = find_peaks(score, height=threshold, distance=max(1, lag))
    last = len(score) - 1
    return [(max(0, int(t) - lag), int(t), min(last, int(t) + lag), float(score[t])) for t in found]


def lag_frames(lag_s: float, fps: float) -> int:
    return max(1, int(round(lag_s * fps)))


def spot_crops(crops: np.ndarray, fps: float, settings: BaselineSettings = DEFAULT) -> list[Event]:
    """Micro and macro events of face crops (see :func:`face_crops`), in time order."""
    events = []
    for kind, lag_s, p in (("micro", settings.micro_lag_s, settings.micro_p),
                           ("macro", settings.macro_lag_s, settings.macro_p)):  # fmt: skip
        lag = lag_frames(lag_s, fps)
        for onset, apex, offset, strength in peaks(scores(block_motion(crops, lag), lag), lag, p):
            reason = (f"baseline {NAME}: flow peak against frames {lag_s:g} s either side, above mean + {p:g} x "
                      "(max - mean) of the video's scores")  # fmt: skip
            events.append(Event(onset, apex, offset, strength, kind=kind, reason=reason))
    return sorted(events, key=lambda e: (e.onset, e.offset))


def spot_baseline(frames: Iterable[np.ndarray], fps: float, settings: BaselineSettings = DEFAULT) -> list[Event]:
    """Every movement the baseline finds in a clip (RGB uint8 frames, any iterable, read once): Events with
    onset, apex, offset as 0-based frame indices, kind micro or macro. No face in any frame: no events."""
    return spot_crops(face_crops(frames, fps), fps, settings)


def with_settings(**changes: float) -> BaselineSettings:
    """DEFAULT with some settings changed (tuning)."""
    return replace(DEFAULT, **changes)
