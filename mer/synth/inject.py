"""Micro-expressions put into real videos at known frames, and what makes a clip look like another camera.

A real video's own motion (head turns, talking, smiles, blinks) stays in; on top of it an AU displacement field
(``synth_motion.au_field``) is placed on EACH FRAME'S OWN dlib landmarks, so it follows the face, with an
onset-apex-offset course of under 0.5 s and a peak of about 1-3 px. The frames are moved by the same backward-map
remap ``mer.synth.dataset`` uses (``x - course_t * field_t(x)``), so a pixel moves by the field.

    frames = resample(frames, 30.0, 90.0)                      # another frame rate (nearest frame)
    events = plan_injections(len(frames), 90.0, 3, rng)         # where, what, how strong
    moved, info = inject(frames, events)                        # info: the landmarks and peak per frame
    moved = compress(moved, 90.0)                               # a camera's MPEG-4 compression, and back

Nothing here reads a file: callers read the video (``mer.spotting.source.read_clip``, ``mer.synth.real_media``).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

MICRO_SECONDS = (0.2, 0.45)  # onset to offset
AMPLITUDE_PX = (1.0, 3.0)  # peak displacement at the apex, px on the video's own frame


@dataclass(frozen=True)
class Injection:
    """One micro-expression to put in: its class, AUs (AU -> relative intensity), peak displacement (px) and
    frames (indices into the clip it is put into)."""

    emotion: str
    aus: dict[int, float]
    amplitude_px: float
    onset: int
    apex: int
    offset: int

    def course(self, n: int) -> np.ndarray:
        """(n,) float32 intensity per frame (0 outside onset..offset, 1 at the apex)."""
        from mer.synth.motion import expression_course

        return expression_course(n, self.onset, self.apex, self.offset)


@dataclass
class InjectionReport:
    """What inject did: per moved frame, the landmarks the field was placed by and its largest displacement (px)."""

    landmarks: dict[int, np.ndarray] = field(default_factory=dict)
    peak_px: dict[int, float] = field(default_factory=dict)
    missed: list[int] = field(default_factory=list)  # frames of an event where no face was found (left as they were)


def plan_injections(
    n: int,
    fps: float,
    count: int,
    rng: np.random.Generator,
    classes: Sequence[str] | None = None,
    margin_s: float = 0.5,
    frames: Sequence[int] | None = None,
) -> list[Injection]:
    """`count` micro-expressions spread over an `n`-frame clip at `fps`: each in its own equal slice of the clip
    (at least `margin_s` from the slice's ends, so events never overlap), class drawn from `classes` (default
    CASME II's five, in turn), AUs from ``synth_motion.CLASS_AUS``, onset-to-offset MICRO_SECONDS, apex at 30-50% of
    it, peak AMPLITUDE_PX. `frames`: only these frame indices may hold an event (e.g. where a face is)."""
    from mer.spec import CASME2_5
    from mer.synth.motion import CLASS_AUS

    classes = tuple(classes or CASME2_5)
    allowed = np.zeros(n, dtype=bool)
    allowed[list(frames) if frames is not None else slice(None)] = True
    bounds = np.linspace(0, n, count + 1).astype(int)
    events = []
    for k in range(count):
        emotion = classes[k % len(classes)]
        combos = CLASS_AUS[emotion]
        length = max(3, round(rng.uniform(*MICRO_SECONDS) * fps))
        rise = max(1, round(length * rng.uniform(0.3, 0.5)))
        pad = round(margin_s * fps)
        starts = [s for s in range(bounds[k] + pad, bounds[k + 1] - pad - length) if allowed[s : s + length + 1].all()]
        if not starts:
            raise ValueError(f"no room for micro-expression {k + 1} of {count} in {n} frames at {fps} fps")
        onset = int(starts[int(rng.integers(len(starts)))])
        events.append(
            Injection(
                emotion,
                {int(au): round(float(rng.uniform(0.6, 1.0)), 3) for au in combos[int(rng.integers(len(combos)))]},
                round(float(rng.uniform(*AMPLITUDE_PX)), 3),
                onset,
                onset + rise,
                onset + length,
            )
        )
    return events


def anatomical(events: Sequence[Injection], seed: int) -> list[Injection]:
    """The same micro-expressions (class, timing, amplitude) with AU combinations drawn at the real coding sheets'
    frequencies (``mer.synth.au_table``) instead of the design's table, for ``inject(..., movement="anatomy")``:
    a paired variant of a plan, so a figure on both differs only in how the face moves."""
    from dataclasses import replace

    from mer.synth.au_table import draw_aus

    rng = np.random.default_rng([seed, 23])
    return [
        replace(e, aus={int(au): round(float(rng.uniform(0.6, 1.0)), 3) for au in draw_aus(rng, e.emotion)})
        for e in events
    ]


def _mesh_points(frame: np.ndarray) -> np.ndarray | None:
    from mer.errors import InputError
    from mer.spotting.face import detect_mesh

    try:
        return detect_mesh(frame)[0].points
    except InputError:
        return None


def _dlib_landmarks(frame: np.ndarray) -> np.ndarray | None:
    from mer.errors import InputError
    from mer.spotting.face import detect_landmarks

    try:
        return detect_landmarks(frame)[0]
    except InputError:
        return None


def inject(
    frames: Sequence[np.ndarray],
    events: Iterable[Injection],
    landmarks: Callable[[np.ndarray], np.ndarray | None] | None = None,
    movement: str = "gaussian",
) -> tuple[list[np.ndarray], InjectionReport]:
    """The clip with `events` put in, and what was done.

    frames: (H, W, 3) uint8 RGB each; only frames inside an event change (a new array), the rest are the same
    objects. For each such frame the AU field of every event active there is built on that frame's landmarks
    (``landmarks(frame)``, dlib's 68 by default; None: no face, the frame stays as it was and is reported in
    ``missed``), scaled by the event's course, and the frame is resampled at ``x - field(x)``. `movement`:
    "gaussian" (``synth_motion.au_field`` on 68 landmarks) or "anatomy" (``synth_anatomy.anatomy_field`` on the
    frame's 468-point mesh, the default `landmarks` then).
    """
    import cv2

    from mer.synth.anatomy import anatomy_field
    from mer.synth.motion import au_field

    if movement not in ("gaussian", "anatomy"):
        raise ValueError(f"movement must be 'gaussian' or 'anatomy', got {movement!r}")
    landmarks = landmarks or (_mesh_points if movement == "anatomy" else _dlib_landmarks)
    field = anatomy_field if movement == "anatomy" else au_field

    frames = list(frames)
    events = list(events)
    report = InjectionReport()
    courses = [e.course(len(frames)) for e in events]
    for t in range(len(frames)):
        active = [(e, float(c[t])) for e, c in zip(events, courses, strict=True) if c[t] > 0]
        if not active:
            continue
        points = landmarks(frames[t])
        if points is None:
            report.missed.append(t)
            continue
        height, width = frames[t].shape[:2]
        total = np.zeros((height, width, 2), dtype=np.float32)
        for event, weight in active:
            total += weight * field(event.aus, points, (height, width), event.amplitude_px)
        ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
        moved = cv2.remap(
            frames[t], xs - total[:, :, 0], ys - total[:, :, 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
        )
        frames[t] = moved
        report.landmarks[t] = np.asarray(points, dtype=np.float32)
        report.peak_px[t] = float(np.sqrt((total**2).sum(axis=2)).max())
    return frames, report


def resample(frames: Sequence[np.ndarray], fps: float, new_fps: float) -> list[np.ndarray]:
    """The clip as a camera at `new_fps` would have taken it, by nearest frame in time: frame i of the result is
    the source frame nearest to i / new_fps seconds (frames repeat when going up, are dropped when going down).
    Motion within a frame interval is not interpolated: a 30 fps clip shown at 200 fps has steps every ~7 frames."""
    if fps <= 0 or new_fps <= 0:
        raise ValueError(f"frame rates must be positive (got {fps}, {new_fps})")
    count = max(1, int(np.floor((len(frames) - 1) * new_fps / fps)) + 1)
    picks = np.minimum(np.round(np.arange(count) * fps / new_fps).astype(int), len(frames) - 1)
    return [frames[i] for i in picks]


def compress(frames: Sequence[np.ndarray], fps: float, codec: str = "mp4v") -> list[np.ndarray]:
    """The frames after a round trip through OpenCV's `codec` encoder (default MPEG-4 Part 2, OpenCV's default
    bitrate) and its decoder: block artefacts and smoothed fine texture, as a camera or phone leaves them.
    (H, W, 3) uint8 RGB in and out, the same number of frames."""
    import cv2

    from mer.spotting.source import write_video

    frames = list(frames)
    if not frames:
        return []
    with tempfile.TemporaryDirectory(prefix="mer_compress_") as tmp:
        path = str(write_video(frames, fps, Path(tmp) / "clip.mp4", codec))
        capture = cv2.VideoCapture(path)
        out = []
        while len(out) < len(frames):
            ok, bgr = capture.read()
            if not ok:
                break
            out.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        capture.release()
    if len(out) != len(frames):
        raise OSError(f"the {codec} round trip gave {len(out)} frames for {len(frames)}")
    return out
