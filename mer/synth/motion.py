"""Synthetic facial motion: AU displacement fields placed by 68 landmarks, blinks, time courses.

A field is (H, W, 2) float32 (dx, dy) in pixels: the displacement of the face surface at each pixel. A frame is
rendered by sampling the neutral face at ``x - field(x)`` (cv2.remap), which for these small, smooth fields moves
the skin by ``field`` (the backward-map approximation).

Each action unit is a sum of Gaussian bumps anchored at landmarks, each pushing in a face-relative direction
(``up`` is perpendicular to the eye line, ``out`` points away from the face's midline). Directions follow FACS:
AU1 inner brows up, AU2 outer brows up, AU4 brows down and together, AU6 cheeks up (lower lids pushed up),
AU7 lower lids up and upper lids slightly down, AU9 nose wings and the nose's sides up, AU10 upper lip up,
AU12 lip corners up and out, AU14 lip corners in (dimple), AU15 lip corners down, AU17 chin and lower lip up.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mer.spec import CASME2_5
from mer.spotting.face import eye_centers


@dataclass(frozen=True)
class FaceFrame:
    """Face-relative directions from landmarks: ``right`` along the eye line (image-right), ``up`` perpendicular
    to it towards the forehead, ``middle`` a point on the face's midline, ``iod`` the eye distance (px)."""

    right: np.ndarray
    up: np.ndarray
    middle: np.ndarray
    iod: float

    @classmethod
    def from_landmarks(cls, landmarks: np.ndarray) -> FaceFrame:
        left, right = eye_centers(landmarks)
        iod = float(np.hypot(*(right - left)))
        unit = (right - left) / iod
        return cls(unit, np.array([unit[1], -unit[0]]), (left + right) / 2, iod)

    def out(self, points: np.ndarray) -> np.ndarray:
        """(K, 2) unit vectors pointing away from the midline at each point."""
        side = np.sign((np.atleast_2d(points) - self.middle) @ self.right)
        return side[:, None] * self.right[None, :]


# One bump: (points (K, 2), directions (K, 2) or (2,), weight, sigma in px).
Bump = tuple[np.ndarray, np.ndarray, float, float]


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def au_bumps(au: int, landmarks: np.ndarray) -> list[Bump]:
    """The Gaussian bumps that make action unit `au` on a face with these (68, 2) landmarks."""
    f = FaceFrame.from_landmarks(landmarks)
    return [
        (points, directions, weight, sigma * f.iod) for points, directions, weight, sigma in _recipe(au, f, landmarks)
    ]


def _recipe(au: int, f: FaceFrame, landmarks: np.ndarray) -> list[Bump]:
    """Bumps of `au` with sigma as a fraction of the eye distance."""
    p = np.asarray(landmarks, dtype=np.float64)
    up, iod = f.up, f.iod
    corners = p[[48, 54]]
    if au == 1:
        inner = p[[20, 21, 22, 23]]
        return [(inner, up, 1.0, 0.14), (inner + 0.25 * iod * up, up, 0.5, 0.16)]
    if au == 2:
        outer = p[[17, 18, 25, 26]]
        return [(outer, _unit(up + 0.2 * f.out(outer)), 1.0, 0.14), (outer + 0.25 * iod * up, up, 0.5, 0.16)]
    if au == 4:
        brows = p[[19, 20, 21, 22, 23, 24]]
        return [(brows, _unit(-0.6 * up - 0.8 * f.out(brows)), 1.0, 0.13)]
    if au == 6:
        below_eyes = np.stack([p[36:42].mean(axis=0), p[42:48].mean(axis=0)]) - 0.55 * iod * up
        cheeks = below_eyes + 0.1 * iod * f.out(below_eyes)
        lids = p[[40, 41, 46, 47]]
        return [(cheeks, _unit(up + 0.2 * f.out(cheeks)), 1.0, 0.22), (lids, up, 0.4, 0.08)]
    if au == 7:
        return [(p[[40, 41, 46, 47]], up, 1.0, 0.08), (p[[37, 38, 43, 44]], -up, 0.4, 0.07)]
    if au == 9:
        wings = p[[31, 35]]
        sides = np.vstack([p[[28, 29]] - 0.18 * iod * f.right, p[[28, 29]] + 0.18 * iod * f.right])
        return [
            (wings, _unit(up - 0.3 * f.out(wings)), 1.0, 0.12),
            (sides, _unit(0.6 * up - 0.5 * f.out(sides)), 0.7, 0.1),
            (p[[51]], up, 0.4, 0.1),
        ]
    if au == 10:
        return [(p[[49, 50, 51, 52, 53]], up, 1.0, 0.1), (p[[31, 35]] - 0.1 * iod * up, up, 0.4, 0.1)]
    if au == 12:
        cheek = corners + 0.2 * iod * (f.out(corners) + up)
        return [(corners, _unit(0.8 * f.out(corners) + 0.6 * up), 1.0, 0.14), (cheek, up, 0.3, 0.16)]
    if au == 14:
        dimples = corners + 0.12 * iod * f.out(corners)
        return [
            (corners, _unit(-0.8 * f.out(corners) + 0.1 * up), 1.0, 0.1),
            (dimples, -f.out(dimples), 0.6, 0.1),
        ]
    if au == 15:
        return [(corners, _unit(-0.9 * up + 0.2 * f.out(corners)), 1.0, 0.12), (p[[55, 59]], -up, 0.4, 0.1)]
    if au == 17:
        return [(p[[7, 8, 9]] + 0.1 * iod * up, up, 1.0, 0.18), (p[[56, 57, 58]], up, 0.6, 0.1)]
    raise ValueError(f"no displacement recipe for AU{au}")


SUPPORTED_AUS: tuple[int, ...] = (1, 2, 4, 6, 7, 9, 10, 12, 14, 15, 17)

# Per class: the AU combinations a sample of it is drawn from (uniformly).
CLASS_AUS: dict[str, tuple[tuple[int, ...], ...]] = {
    "happiness": ((6, 12),),
    "disgust": ((4, 9), (4, 10), (4, 9, 10)),
    "surprise": ((1, 2),),
    "repression": ((14,), (15,), (17,), (14, 17), (15, 17)),
    "others": ((4,), (7,)),
}
assert tuple(CLASS_AUS) == CASME2_5


def _grid(shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    ys, xs = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float32)
    return xs, ys


def bumps_field(bumps: list[Bump], shape: tuple[int, int]) -> np.ndarray:
    """(H, W, 2) float32 sum of the bumps, normalised so its largest displacement is 1 px."""
    xs, ys = _grid(shape)
    field = np.zeros((*shape, 2), dtype=np.float32)
    for points, directions, weight, sigma in bumps:
        directions = np.broadcast_to(directions, points.shape)
        for (px, py), (vx, vy) in zip(points, directions, strict=True):
            s = sigma
            # Each bump only matters within 4 sigma: compute it on that window.
            x0, x1 = max(int(px - 4 * s), 0), min(int(px + 4 * s) + 2, shape[1])
            y0, y1 = max(int(py - 4 * s), 0), min(int(py + 4 * s) + 2, shape[0])
            if x0 >= x1 or y0 >= y1:
                continue
            g = weight * np.exp(-((xs[y0:y1, x0:x1] - px) ** 2 + (ys[y0:y1, x0:x1] - py) ** 2) / (2 * s * s))
            field[y0:y1, x0:x1, 0] += g * vx
            field[y0:y1, x0:x1, 1] += g * vy
    peak = float(np.sqrt((field**2).sum(axis=2)).max())
    return field / peak if peak > 0 else field


def au_field(aus: dict[int, float], landmarks: np.ndarray, shape: tuple[int, int], amplitude: float) -> np.ndarray:
    """(H, W, 2) float32 apex displacement of the AUs `aus` (AU -> relative intensity in (0, 1]): each AU's field
    has peak = its intensity, the sum is rescaled so its largest displacement is `amplitude` px."""
    total = np.zeros((*shape, 2), dtype=np.float32)
    for au, intensity in aus.items():
        total += intensity * bumps_field(au_bumps(au, landmarks), shape)
    peak = float(np.sqrt((total**2).sum(axis=2)).max())
    return total * (amplitude / peak) if peak > 0 else total


def blink_field(landmarks: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """(H, W, 2) float32 displacement of a full blink (both eyes closed).

    The upper lid's skin slides down over the eye: the displacement is 1.15 eye-openings at the lower lid, fading
    upwards with a sigma of 0.8 openings (the lid up to its crease, not the brow; the slope stays under 1 so the
    warp never folds) and fast below the lower lid, where the eye is squeezed into a thin dark line (the lashes).
    Sideways it fades towards the eye corners.
    """
    p = np.asarray(landmarks, dtype=np.float64)
    f = FaceFrame.from_landmarks(p)
    xs, ys = _grid(shape)
    field = np.zeros((*shape, 2), dtype=np.float32)
    for eye in (p[36:42], p[42:48]):
        upper, lower = eye[[1, 2]].mean(axis=0), eye[[4, 5]].mean(axis=0)
        opening = max(float(np.dot(upper - lower, f.up)), 0.04 * f.iod)
        half_width = float(np.linalg.norm(eye[3] - eye[0])) / 2
        centre = eye.mean(axis=0)
        rel_x, rel_y = xs - centre[0], ys - centre[1]
        u = (rel_x * f.right[0] + rel_y * f.right[1]) / half_width  # along the eye, corners at +-1
        s = -(rel_x * f.up[0] + rel_y * f.up[1]) / opening  # downwards, lids at about -0.5 / +0.5
        below = s - float(np.dot(lower - centre, -f.up)) / opening  # 0 at the lower lid
        vertical = np.where(below <= 0, np.exp(-(below**2) / (2 * 0.8**2)), np.exp(-(below**2) / (2 * 0.12**2)))
        weight = 1.15 * opening * vertical * np.exp(-(u**2) / (2 * 0.75**2))
        field[:, :, 0] -= (weight * f.up[0]).astype(np.float32)
        field[:, :, 1] -= (weight * f.up[1]).astype(np.float32)
    return field


def expression_course(n: int, onset: int, apex: int, offset: int) -> np.ndarray:
    """(n,) float32 intensity per frame: 0 up to `onset`, a smooth rise to 1 at `apex`, a smooth fall back to 0 at
    `offset` (frame indices into the clip)."""
    t = np.arange(n, dtype=np.float64)
    rise = np.clip((t - onset) / max(apex - onset, 1), 0, 1)
    fall = np.clip((t - apex) / max(offset - apex, 1), 0, 1)
    course = np.where(t <= apex, 0.5 - 0.5 * np.cos(np.pi * rise), 0.5 + 0.5 * np.cos(np.pi * fall))
    return course.astype(np.float32)


def blink_course(n: int, start: int, duration: int, closure: float) -> np.ndarray:
    """(n,) float32 lid closure per frame: a blink from `start` lasting `duration` frames, closing fast (first
    third) and reopening slower, peak `closure` (1 = fully closed)."""
    t = np.arange(n, dtype=np.float64) - start
    close = max(duration // 3, 1)
    rise = np.clip(t / close, 0, 1)
    fall = np.clip((t - close) / max(duration - close, 1), 0, 1)
    course = np.where(t <= close, 0.5 - 0.5 * np.cos(np.pi * rise), 0.5 + 0.5 * np.cos(np.pi * fall))
    return (closure * np.where((t >= 0) & (t <= duration), course, 0.0)).astype(np.float32)


def random_walk(rng: np.random.Generator, n: int, peak: float, smooth: float = 6.0) -> np.ndarray:
    """(n,) float64 smooth drift starting at 0 whose largest absolute value is `peak`."""
    steps = rng.standard_normal(n + int(6 * smooth))
    kernel = np.exp(-0.5 * (np.arange(-3 * smooth, 3 * smooth + 1) / smooth) ** 2)
    walk = np.cumsum(np.convolve(steps, kernel, mode="valid")[:n])
    walk -= walk[0]
    top = float(np.abs(walk).max())
    return walk * (peak / top) if top > 0 else walk
