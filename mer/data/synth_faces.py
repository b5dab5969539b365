"""Synthetic subjects: real face photos shipped by installed packages, varied into many identities.

Two photographs are the only faces: scikit-image's ``astronaut`` (Eileen Collins) and matplotlib's
``grace_hopper.jpg``. A subject is one of them, maybe mirrored, placed on a 640 x 480 canvas like CASME II's raw
frames (similarity: scale, small rotation, position), bent by a smooth low-frequency displacement field (identity
warp), re-coloured (channel gains, gamma, a lighting gradient) and given a static fine skin texture (so optical flow
has something to track on the upscaled, smooth astronaut photo). The landmarks the motion fields are placed by are
found on the finished canvas by the same dlib code path the pipeline uses (``mer.data.face``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

CANVAS_SIZE: tuple[int, int] = (480, 640)  # (H, W), CASME II raw frames
PHOTOS: tuple[str, ...] = ("astronaut", "grace_hopper")
# Eye distance on the canvas (px): CASME II raw faces are ~250-300 px wide, about 2.4 inter-ocular distances.
TARGET_EYE_DISTANCE = 104.0
TARGET_EYE_MIDDLE = (320.0, 205.0)  # (x, y) on the canvas, before the identity's shift


@lru_cache(maxsize=2)
def load_photo(name: str) -> np.ndarray:
    """The named source photo as (H, W, 3) uint8 RGB."""
    if name == "astronaut":
        import skimage.data

        return np.ascontiguousarray(skimage.data.astronaut()[:, :, :3])
    if name == "grace_hopper":
        import cv2
        import matplotlib.cbook

        path = matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
        return np.ascontiguousarray(cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB))
    raise ValueError(f"unknown photo {name!r}; choose one of {PHOTOS}")


@lru_cache(maxsize=4)
def _photo_eyes(name: str, mirrored: bool) -> tuple[np.ndarray, np.ndarray]:
    """Eye centres (image-left, image-right) of the (mirrored) photo, from dlib landmarks."""
    from mer.data.face import detect_landmarks, eye_centers

    photo = load_photo(name)
    landmarks, _ = detect_landmarks(np.ascontiguousarray(photo[:, ::-1]) if mirrored else photo, name)
    return eye_centers(landmarks)


@dataclass(frozen=True)
class Identity:
    """How one synthetic subject differs from its source photo (all recorded in ground_truth.csv).

    scale: eye distance relative to TARGET_EYE_DISTANCE; rotation_deg: in-plane tilt; shift_x/shift_y: canvas px;
    warp_px: peak of the smooth identity displacement field; gain_r/g/b: colour gains; gamma: tone curve;
    light_x/light_y: relative brightness change across the canvas width/height; texture: skin grain std (grey
    levels); warp_seed: seed of the identity field and the grain.
    """

    photo: str
    mirrored: bool
    scale: float
    rotation_deg: float
    shift_x: float
    shift_y: float
    warp_px: float
    gain_r: float
    gain_g: float
    gain_b: float
    gamma: float
    light_x: float
    light_y: float
    texture: float
    warp_seed: int


def sample_identity(rng: np.random.Generator, index: int) -> Identity:
    """Random identity for subject `index` (0-based): photos and mirroring alternate so every four subjects use
    each photo both ways; the rest is drawn from `rng`."""

    def u(low: float, high: float) -> float:
        return round(float(rng.uniform(low, high)), 4)

    return Identity(
        photo=PHOTOS[index % 2],
        mirrored=(index // 2) % 2 == 1,
        scale=u(0.9, 1.1),
        rotation_deg=u(-4.0, 4.0),
        shift_x=u(-40.0, 40.0),
        shift_y=u(-15.0, 15.0),
        warp_px=u(2.0, 6.0),
        gain_r=u(0.85, 1.15),
        gain_g=u(0.85, 1.15),
        gain_b=u(0.85, 1.15),
        gamma=u(0.8, 1.25),
        light_x=u(-0.3, 0.3),
        light_y=u(-0.2, 0.2),
        texture=u(2.0, 4.0),
        warp_seed=int(rng.integers(0, 2**31 - 1)),
    )


def _smooth_field(rng: np.random.Generator, shape: tuple[int, int], cells: tuple[int, int], peak: float):
    """(H, W) float32 x and y displacements, smooth (cubic from a `cells` grid), largest magnitude `peak` px."""
    import cv2

    coarse = rng.standard_normal((2, cells[0], cells[1])).astype(np.float32)
    dx, dy = (cv2.resize(c, (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC) for c in coarse)
    norm = float(np.sqrt(dx**2 + dy**2).max()) or 1.0
    return dx * (peak / norm), dy * (peak / norm)


def render_identity(identity: Identity) -> np.ndarray:
    """The subject's neutral face: (480, 640, 3) uint8 RGB."""
    import cv2

    height, width = CANVAS_SIZE
    photo = load_photo(identity.photo)
    if identity.mirrored:
        photo = np.ascontiguousarray(photo[:, ::-1])
    left, right = _photo_eyes(identity.photo, identity.mirrored)
    # Similarity photo -> canvas: eyes TARGET apart at the target middle (+ shift), tilted by rotation_deg.
    dx, dy = right - left
    scale = TARGET_EYE_DISTANCE * identity.scale / float(np.hypot(dx, dy))
    angle = np.deg2rad(identity.rotation_deg) - np.arctan2(dy, dx)
    rotation = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    target = np.array([TARGET_EYE_MIDDLE[0] + identity.shift_x, TARGET_EYE_MIDDLE[1] + identity.shift_y])
    forward = np.hstack([rotation, (target - rotation @ ((left + right) / 2))[:, None]])
    inverse = cv2.invertAffineTransform(forward)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    rng = np.random.default_rng(identity.warp_seed)
    wx, wy = _smooth_field(rng, CANVAS_SIZE, (4, 5), identity.warp_px)
    qx, qy = xs + wx, ys + wy  # canvas point -> point on the undistorted canvas -> photo pixel
    map_x = (inverse[0, 0] * qx + inverse[0, 1] * qy + inverse[0, 2]).astype(np.float32)
    map_y = (inverse[1, 0] * qx + inverse[1, 1] * qy + inverse[1, 2]).astype(np.float32)
    face = cv2.remap(photo, map_x, map_y, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT).astype(np.float32)

    gains = np.array([identity.gain_r, identity.gain_g, identity.gain_b], dtype=np.float32)
    light = 1.0 + identity.light_x * (xs / width - 0.5) + identity.light_y * (ys / height - 0.5)
    face = 255.0 * (face / 255.0) ** identity.gamma * gains * light[:, :, None]
    # Fine static grain (pores, sensor pattern): moves with the face, gives the flow texture to track.
    grain = cv2.GaussianBlur(rng.standard_normal((height, width)).astype(np.float32), (0, 0), 0.8)
    face += (identity.texture / float(grain.std() or 1.0)) * grain[:, :, None]
    return np.clip(face + 0.5, 0, 255).astype(np.uint8)
