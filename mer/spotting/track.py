"""The face over time: where it is in every frame of a clip, and when it is there at all.

A clip from a person's camera is not a dataset sample: the face may enter after the first frame, leave before the
last, and the head turns. :func:`track_face` finds the face in the first frame that has one and follows it, all with
MediaPipe's face mesh (:mod:`mer.spotting.mesh`, trained on real faces):

- presence: the BlazeFace detectors, confirmed by the mesh (:func:`mer.spotting.face.detect_meshes`), run every
  DETECT_EVERY_S; where two detections disagree, every frame between them is checked, so the frame a face appears
  or leaves is exact;
- landmarks: the mesh runs LANDMARK_RATE times a second in the crop interpolated between the meshes of the two
  detections around it (one fit, about 3 ms; at a detection the detection's own mesh), and its points are
  interpolated linearly in between (at 30 fps: every other frame), read in the 68-point layout
  (:data:`mer.spotting.mesh.MESH_68`). A frame's points depend only on its own pixels and its nearest detections,
  not on the frames before it, so a clip tracked in chunks that start on a detection gives the track of the whole
  clip. The per-frame alignment averages the eyes over SMOOTH_S anyway; a micro event's alignment uses the
  landmarks at its onset.

:func:`follow_transforms` turns the landmarks into one similarity per frame (eye centres smoothed over SMOOTH_S, so
landmark jitter does not shake the crops) for the motion curve; the model's input is aligned per event instead
(one similarity at the event's onset, :meth:`mer.spotting.face.FaceAligner.align`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mer.errors import InputError
from mer.spotting import face, mesh
from mer.spotting.signal import moving_mean, runs

DETECT_EVERY_S = 0.3  # a face entering or leaving is found within this, then pinned to the frame
LANDMARK_RATE = 15.0  # landmark fits per second: keeps up with head motion, interpolated in between
SMOOTH_S = 0.2  # eye centres are averaged over this for the per-frame alignment


@dataclass
class FaceTrack:
    """Where the face is in each frame of a clip.

    landmarks: (N, 68, 2) float32 (x, y) source-frame pixels, NaN where the face is absent.
    present: (N,) bool, True where a face was detected (or lies between two frames with one).
    faces_found: the most faces seen in one frame (the largest is followed).
    notes: what a user should know (face appears late, leaves, several faces).
    found: frame -> the faces detected on it (:func:`mer.spotting.face.detect_meshes`), for the frames detected.
    """

    landmarks: np.ndarray
    present: np.ndarray
    faces_found: int
    notes: list[str] = field(default_factory=list)
    found: dict[int, list] = field(default_factory=dict)

    @property
    def first(self) -> int:
        """The first frame with a face."""
        return int(np.argmax(self.present))

    def runs(self) -> list[tuple[int, int]]:
        """Stretches of consecutive frames with the face, as (start, stop) with stop exclusive, in time order."""
        return runs(self.present)


def _detections(frames, step: int, known: dict[int, list] | None = None) -> dict[int, list]:
    """The faces (box, refined mesh; :func:`mer.spotting.face.detect_meshes`) on every `step`-th frame and the last,
    then on every frame between two that disagree; those of `known` frames are taken from it."""
    known = known or {}
    count = len(frames)
    keys = sorted(set(range(0, count, step)) | {count - 1})
    found = {i: known[i] if i in known else face.detect_meshes(frames[i]) for i in keys}
    for a, b in zip(keys, keys[1:], strict=False):
        if bool(found[a]) != bool(found[b]):
            for i in range(a + 1, b):
                found[i] = known[i] if i in known else face.detect_meshes(frames[i])
    return found


def _presence(found: dict[int, list], count: int) -> np.ndarray:
    """(N,) bool: a frame is present when the nearest detections on both sides (or the one on its own frame) saw
    the face."""
    keys = np.array(sorted(found))
    has = np.array([bool(found[k]) for k in keys])
    after = np.searchsorted(keys, np.arange(count), side="left")
    before = np.clip(after - (keys[np.minimum(after, len(keys) - 1)] != np.arange(count)), 0, len(keys) - 1)
    after = np.minimum(after, len(keys) - 1)
    return has[before] & has[after]


def _rois(found: dict[int, list], count: int) -> np.ndarray:
    """(N, 4) float64 mesh crop per frame, (centre x, centre y, side, angle), from the followed face's mesh at each
    detection (:func:`mer.spotting.mesh.roi_from_points`), interpolated between detections; NaN before any."""
    seen = [k for k in sorted(found) if found[k]]
    out = np.full((count, 4), np.nan)
    if seen:
        table = []
        for k in seen:
            roi = mesh.roi_from_points(found[k][0][1].points)
            table.append((*roi.center, roi.side, roi.angle))
        table = np.array(table)
        table[:, 3] = np.unwrap(table[:, 3])
        for c in range(4):
            out[:, c] = np.interp(np.arange(count), seen, table[:, c])
    return out


def _landmarks(frames, found: dict[int, list], present: np.ndarray, step: int) -> np.ndarray:
    """(N, 68, 2) landmarks from the face mesh: every `step`-th present frame (and each run's ends) has its own
    mesh (a detection's where one ran, else one fit in the crop interpolated between the detections' meshes:
    each frame's points depend only on its own pixels and its nearest detections, so a chunk of a clip is
    tracked as the whole clip is), linearly interpolated between those frames."""
    count = len(frames)
    out = np.full((count, 68, 2), np.nan, dtype=np.float32)
    rois = _rois(found, count)
    for start, stop in runs(present):
        fitted = []
        # the frames of the clip's own grid (multiples of step, as a chunk starting on one sees them) and the ends
        for i in sorted({start, stop - 1} | set(range(start + (-start) % step, stop, step))):
            if found.get(i):
                points = found[i][0][1].points
            else:
                x, y, side, angle = rois[i]
                fitted_mesh = mesh.fit(face._as_rgb_uint8(frames[i], f"frame {i}"), mesh.Roi((x, y), side, angle))
                if fitted_mesh.score < face.MIN_FACE_SCORE:
                    continue  # a frame the mesh cannot read (motion blur, a hand): interpolated from its neighbours
                points = fitted_mesh.points
            out[i] = mesh.to_68(points)
            fitted.append(i)
        if not fitted:
            continue
        span = np.arange(start, stop)
        flat = out[fitted].reshape(len(fitted), -1)
        block = out[start:stop].reshape(stop - start, -1)
        for c in range(flat.shape[1]):
            block[:, c] = np.interp(span, fitted, flat[:, c])
    return out


def _seconds(frame: int, fps: float) -> str:
    return f"{frame / fps:.1f} s"


def presence_notes(present: np.ndarray, fps: float, name: str) -> list[str]:
    """What a user should know of where the face is: it appears late, leaves early, is lost in between."""
    count = len(present)
    track = FaceTrack(np.zeros((count, 68, 2)), present, 0)
    runs = track.runs()
    notes = []
    first, last = runs[0][0], runs[-1][1] - 1
    if first > 0:
        notes.append(f"no face in {name} until frame {first} ({_seconds(first, fps)}); analysed from there")
    if last < count - 1:
        notes.append(f"the face leaves {name} after frame {last} ({_seconds(last, fps)}); analysed up to there")
    gaps = [(a, b) for (_, a), (b, _) in zip(runs, runs[1:], strict=False)]
    if gaps:
        spans = ", ".join(f"{a}-{b - 1}" for a, b in gaps)
        notes.append(f"the face is lost in frames {spans} of {name}; those frames were not analysed")
    return notes


def track_face(frames, fps: float, name: str = "the clip", known: dict[int, list] | None = None) -> FaceTrack:
    """Find and follow the largest face through a clip.

    Args:
        frames: sequence or (N, H, W, 3) array of RGB uint8 frames of one size.
        fps: the clip's frame rate (sets how often the face is detected and its landmarks fitted).
        name: names the clip in messages.
        known: frame -> its faces already detected (FaceTrack.found of an earlier chunk that ended on the frame a
            stream's next chunk starts on): not detected again.

    Raises:
        InputError: no face in any frame (or no frames).
    """
    count = len(frames)
    if count == 0:
        raise InputError(f"{name} has no frames; give at least one frame with a face")
    fps = float(fps) if fps and fps > 0 else 30.0
    step = max(1, int(round(DETECT_EVERY_S * fps)))
    found = _detections(frames, step, known)
    if not any(found.values()):
        raise InputError(
            f"no face found in {name} (checked every {step} frames); use a well-lit, frontal, unobstructed face "
            "that fills a good part of the frame"
        )
    present = _presence(found, count)
    landmarks = _landmarks(frames, found, present, max(1, int(round(fps / LANDMARK_RATE))))
    faces = max(len(v) for v in found.values())
    notes = presence_notes(present, fps, name)
    if faces > 1:
        notes.append(f"{faces} faces found in {name}; followed the largest")
    return FaceTrack(landmarks, present, faces, notes, found)


def follow_transforms(track: FaceTrack, fps: float) -> np.ndarray:
    """(N, 2, 3) float64 per-frame similarity (source pixels -> crop) from the eye centres averaged over SMOOTH_S
    within each run of the face; NaN where the face is absent."""
    count = len(track.present)
    out = np.full((count, 2, 3), np.nan)
    window = max(1, int(round(SMOOTH_S * fps)) | 1)
    for start, stop in track.runs():
        eyes = np.stack([np.concatenate(face.eye_centers(lm)) for lm in track.landmarks[start:stop]])
        for i, (lx, ly, rx, ry) in enumerate(moving_mean(eyes, window)):
            out[start + i] = face.similarity_from_eyes(np.array([lx, ly]), np.array([rx, ry]))
    return out


def warp(frame: np.ndarray, transform: np.ndarray) -> np.ndarray:
    """One frame into the 282 x 231 crop by a (2, 3) transform (replicated borders: a black edge would move with
    the face and show up as flow)."""
    import cv2

    height, width = face.CROP_HW
    return cv2.warpAffine(
        np.asarray(frame), transform, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
