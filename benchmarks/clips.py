"""The clips the real-faces figures and the trust tuning share: micro-expressions put into frames at known
times (``Truth``), the long synthetic clips, and matching spotted intervals to the true ones (IoU >= 0.5, each
truth matched at most once).

benchmarks.realfaces measures on these clips; benchmarks.trust tunes the spotting rule on the synthetic ones.
Both import them from here, so neither imports the other for them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

IOU = 0.5
SEED = 11


@dataclass
class Truth:
    """A clip with the micro-expressions put into it (frame indices into ``frames``)."""

    name: str
    frames: list[np.ndarray]
    fps: float
    events: list[Any] = field(default_factory=list)  # mer.synth.inject.Injection


# --------------------------------------------------------------------------------------------- matching
def iou(a: tuple[int, int], b: tuple[int, int]) -> float:
    """Intersection over union of two inclusive frame intervals (onset, offset)."""
    inter = min(a[1], b[1]) - max(a[0], b[0]) + 1
    union = max(a[1], b[1]) - min(a[0], b[0]) + 1
    return max(inter, 0) / union if union > 0 else 0.0


def match(truths: list[tuple[int, int]], spotted: list[tuple[int, int]], threshold: float = IOU) -> dict[int, int]:
    """Truth index -> spotted index, each used at most once: pairs taken in order of decreasing IoU (>= threshold)."""
    pairs = sorted(((iou(t, s), i, j) for i, t in enumerate(truths) for j, s in enumerate(spotted)), reverse=True)
    out: dict[int, int] = {}
    used: set[int] = set()
    for value, i, j in pairs:
        if value >= threshold and i not in out and j not in used:
            out[i] = j
            used.add(j)
    return out


def prf(true_positives: int, n_truth: int, n_spotted: int) -> tuple[float, float, float]:
    """(recall, precision, F1); 0 where undefined."""
    recall = true_positives / n_truth if n_truth else 0.0
    precision = true_positives / n_spotted if n_spotted else 0.0
    f1 = 2 * recall * precision / (recall + precision) if recall + precision else 0.0
    return recall, precision, f1


# --------------------------------------------------------------------------------------------- clips
def face_frames(frames: list[np.ndarray], step: int = 5) -> list[int]:
    """Frames with a face, judged every `step` frames (a frame counts when both checks around it found one)."""
    from mer.spotting.face import detect_faces

    seen = {t: bool(detect_faces(frames[t])) for t in range(0, len(frames), step)}
    last = max(seen)
    return [t for t in range(len(frames)) if seen[t // step * step] and seen[min(t // step * step + step, last)]]


def injected_clip(name: str, frames: list[np.ndarray], fps: float, count: int | None, seed: int) -> Truth:
    """Micro-expressions put into the frames, only where a face is: `count` of them, or (None) one per 2.5 s of
    face, as many as fit."""
    from mer.synth.inject import inject, plan_injections

    present = face_frames(frames)
    count = count or max(1, round(len(present) / fps / 2.5))
    for k in range(count, 0, -1):  # fewer when the face is there only in part of the clip
        try:
            events = plan_injections(len(frames), fps, k, np.random.default_rng(seed), frames=present, margin_s=0.3)
            break
        except ValueError:
            if k == 1:
                raise
    moved, _ = inject(frames, events)
    return Truth(name, moved, fps, events)


def synthetic_clip(index: int, seconds: float = 6.0, fps: float = 30.0, count: int = 3) -> Truth:
    """A long synthetic clip: a new identity of a training photo (the held-out-subject kind), neutral apart from
    head motion, light, one blink and one macro expression, with `count` micro-expressions put in by inject (0: none,
    the ordinary clip)."""
    from mer.synth import dataset as synth
    from mer.synth.faces import ALL_PHOTOS, render_identity, sample_identity
    from mer.synth.motion import CLASS_AUS

    rng = np.random.default_rng([SEED, index])
    n = int(seconds * fps)
    identity = sample_identity(rng, index, ALL_PHOTOS)
    neutral = render_identity(identity)
    landmarks = synth.subject_face({"identity": identity.__dict__, "subject": index})[1]
    plan = synth._sample_plan(rng, "others", n)
    plan.update(synth._video_extras(rng, n), fps=fps, amplitude_px=0.0)  # the plan's own expression: none
    macro_start = int(rng.integers(n // 4, n // 2))
    plan["macro"] = {"aus": {6: 1.0, 12: 1.0} if index % 2 == 0 else dict.fromkeys(CLASS_AUS["surprise"][0], 1.0),
                     "amplitude_px": 8.0, "onset": macro_start, "apex": macro_start + int(0.4 * fps),
                     "offset": macro_start + int(1.5 * fps)}  # fmt: skip
    frames = list(synth.iter_frames(neutral, landmarks, plan, n))
    if plan["codec"]:
        from mer.synth.inject import compress

        frames = compress(frames, fps, plan["codec"])
    if count == 0:  # the ordinary clip itself (head motion, light, a blink, a macro expression): no micro-expression
        return Truth(f"synthetic clip {index + 1} ({identity.photo}, {fps:g} fps), ordinary", frames, fps)
    return injected_clip(f"synthetic clip {index + 1} ({identity.photo}, {fps:g} fps)", frames, fps, count,
                         SEED + index)  # fmt: skip
