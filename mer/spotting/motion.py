"""Motion: onset->apex optical flow (TV-L1, DIS), optical strain, and the motion curve of a clip (the events on it:
:mod:`mer.spotting.events`, :mod:`mer.spotting.spot`).

All flows are (H, W, 2) float32 in pixels of the aligned crop, (u, v) = (right, down), from the first image to the
second. TV-L1 is OpenCV-contrib's DualTVL1 with reduced pyramid and iteration counts (see TVL1_PARAMS).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import cv2
import numpy as np

# TV-L1 settings chosen for speed at equal accuracy. Measured on 12 pairs of 282 x 231 face crops (astronaut, Grace
# Hopper) warped by known smooth fields (0.5-3 px bumps + a sub-pixel shift, sensor noise sigma 1.5), one thread,
# CPU time per pair on the shared, busy 2-core machine (compare ratios) / end-point error (all pixels; AU regions):
#   OpenCV defaults (5 scales, 5 warps, 30 inner / 10 outer, epsilon 0.01)  1494 ms  0.076 px; 0.080 px
#   3 scales, 3 warps, 10 / 5, epsilon 0.05                                   139 ms  0.104 px; 0.094 px
#   3 scales, 5 warps, 10 / 5, epsilon 0.05 (these)                           209 ms  0.091 px; 0.082 px
# The stopping threshold epsilon sets the cost (0.01 alone: 1061 ms); higher iteration caps (20 inner or 10 outer)
# change nothing, and micro (< 3 px) motion needs no deep pyramid. Two more warps buy back the AU-region accuracy.
TVL1_PARAMS = dict(nscales=3, warps=5, innnerIterations=10, outerIterations=5, epsilon=0.05)
CURVE_SCALE = 0.25  # the motion curve is computed on quarter-size crops (71 x 58): it only has to find the peak


def _gray(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    if image.dtype != np.uint8:
        image = np.clip(image, 0, 255).astype(np.uint8)
    return image


def tvl1_flow(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """TV-L1 optical flow from `first` to `second` (gray or RGB uint8, same size): (H, W, 2) float32 pixels."""
    tvl1 = cv2.optflow.DualTVL1OpticalFlow_create(**TVL1_PARAMS)
    return tvl1.calc(_gray(first), _gray(second), None).astype(np.float32)


def dis_flow(first: np.ndarray, second: np.ndarray, preset: int = cv2.DISOPTICAL_FLOW_PRESET_MEDIUM) -> np.ndarray:
    """DIS optical flow (fast): (H, W, 2) float32 pixels."""
    dis = cv2.DISOpticalFlow_create(preset)
    return dis.calc(_gray(first), _gray(second), None).astype(np.float32)


FLOWS = {"tvl1": tvl1_flow, "dis": dis_flow}


def optical_flow(first: np.ndarray, second: np.ndarray, method: str = "tvl1") -> np.ndarray:
    """Flow by method name, 'tvl1' or 'dis'."""
    return FLOWS[method](first, second)


def optical_strain(flow: np.ndarray) -> np.ndarray:
    """Magnitude of the optical strain tensor of a flow: (H, W) float32.

    eps = 1/2 (grad w + grad w^T); magnitude sqrt(e_xx^2 + e_yy^2 + 2 e_xy^2). A pure translation gives 0.
    """
    u, v = flow[..., 0], flow[..., 1]
    u_y, u_x = np.gradient(u)
    v_y, v_x = np.gradient(v)
    e_xy = 0.5 * (u_y + v_x)
    return np.sqrt(u_x**2 + v_y**2 + 2.0 * e_xy**2).astype(np.float32)


def flow_to_rgb(flow: np.ndarray, max_magnitude: float | None = None) -> np.ndarray:
    """Colour-wheel picture of a flow: hue = direction, brightness = magnitude. (H, W, 3) uint8 RGB.

    Brightness is scaled to `max_magnitude` pixels (default: the 99th percentile, at least 0.5 px, so that sensor
    noise in a still clip stays dark instead of being stretched to full brightness).
    """
    magnitude, angle = cv2.cartToPolar(flow[..., 0].astype(np.float32), flow[..., 1].astype(np.float32))
    if max_magnitude is None:
        max_magnitude = max(float(np.percentile(magnitude, 99)), 0.5)
    hsv = np.zeros((*flow.shape[:2], 3), dtype=np.uint8)
    hsv[..., 0] = (angle * (90.0 / np.pi)).astype(np.uint8)  # OpenCV hue is 0..180
    hsv[..., 1] = 255
    hsv[..., 2] = np.clip(magnitude / max_magnitude * 255.0, 0, 255).astype(np.uint8)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)


CURVE_TOP_FRACTION = 0.1  # the curve averages the most-moving 10% of the mask's pixels
CURVE_FRAME_RATE = 100.0  # frames a second the curve needs: a micro-expression rises over >= 40 ms


def _curve_dis() -> cv2.DISOpticalFlow:
    # DIS "fast" down to the full (quarter-size) crop with 3 variational refinement passes: on synthetic clips it
    # spots the apex as well as half-size crops with the "medium" preset, in a third of the time; without the
    # refinement, or on coarser flow, apex errors double.
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_FAST)
    dis.setFinestScale(0)
    dis.setVariationalRefinementIterations(3)
    return dis


class CurveGeometry(NamedTuple):
    """Where the motion curve looks, on the CURVE_SCALE crop: size (w, h), sx, sy (crop -> small crop), inside the
    mask, face_area (the mask's convex hull), frozen (in the hull but not the mask: the eyes, for the spotting
    mask), fit (where the rigid motion is fitted), basis_in ((P, 3) affine basis at the inside pixels), solve
    ((3, F) least squares)."""

    size: tuple[int, int]
    sx: float
    sy: float
    inside: np.ndarray
    face_area: np.ndarray
    frozen: np.ndarray
    fit: np.ndarray
    basis_in: np.ndarray
    solve: np.ndarray

    @property
    def scale(self) -> float:
        """Small-crop pixels per crop pixel."""
        return (self.sx + self.sy) / 2

    def residual(self, dis: cv2.DISOpticalFlow, first: np.ndarray, second: np.ndarray) -> tuple:
        """((P, 2) flow from small gray `first` to `second` at the inside pixels, the rigid part taken out, in
        small-crop pixels; (3, 2) that rigid (affine) part). `second`'s face brightness is matched to `first`'s and
        `first`'s frozen pixels are pasted into it (a blink does not spread into the regions around the eyes)."""
        return self.split(self.flow(dis, first, second))

    def flow(self, dis: cv2.DISOpticalFlow, first: np.ndarray, second: np.ndarray) -> np.ndarray:
        """(h, w, 2) float32 small-crop pixels: the whole flow from small gray `first` to `second`, brightness
        matched and frozen pixels pasted as in :meth:`residual`, before the rigid part is taken out."""
        level = max(float(first[self.face_area].mean()), 1.0)
        second = cv2.convertScaleAbs(second, alpha=level / max(float(second[self.face_area].mean()), 1.0))
        second[self.frozen] = first[self.frozen]
        return dis.calc(first, second, None)

    def split(self, flow: np.ndarray) -> tuple:
        """A whole flow (:meth:`flow`) as ((P, 2) residual at the inside pixels, (3, 2) rigid part)."""
        rigid = self.solve @ flow[self.fit]
        return flow[self.inside] - self.basis_in @ rigid, rigid


def _curve_geometry(height: int, width: int, mask: np.ndarray | None, scale: float = CURVE_SCALE) -> CurveGeometry:
    """The CurveGeometry of (height, width) crops looking inside `mask` (everywhere when None or empty), measured on
    crops `scale` times their size."""
    size = (max(16, round(width * scale)), max(16, round(height * scale)))
    sx, sy = size[0] / width, size[1] / height
    shape = size[::-1]
    inside = np.ones(shape, dtype=bool)
    if mask is not None:
        inside = cv2.resize(np.asarray(mask, dtype=np.float32), size, interpolation=cv2.INTER_NEAREST) > 0.5
        if not inside.any():
            inside = np.ones(shape, dtype=bool)
    hull = np.zeros(shape, dtype=np.uint8)
    cv2.fillConvexPoly(hull, cv2.convexHull(cv2.findNonZero(inside.astype(np.uint8))), 1)
    face_area = hull > 0
    frozen = face_area & ~inside
    # The rigid motion is fitted on a grid every 8 crop pixels, 16 from the crop's border (2 and 4 pixels at the
    # curve's quarter size) and outside the frozen parts.
    fit = np.zeros(shape, dtype=bool)
    border, stride = max(4, round(16 * scale)), max(2, round(8 * scale))
    fit[border:-border:stride, border:-border:stride] = True
    fit &= ~frozen
    ys, xs = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float32)
    basis_fit = np.stack([np.ones(int(fit.sum()), np.float32), xs[fit], ys[fit]], axis=1)
    basis_in = np.stack([np.ones(int(inside.sum()), np.float32), xs[inside], ys[inside]], axis=1)
    solve = np.linalg.pinv(basis_fit)  # (3, P): affine flow coefficients from the sampled flow
    return CurveGeometry(size, sx, sy, inside, face_area, frozen, fit, basis_in, solve)


def _pools(size: tuple[int, int], inside: np.ndarray, regions: dict[str, np.ndarray] | None) -> dict:
    """name -> (P,) bool: the inside pixels of each region ("all": every one); regions under 4 pixels are left out."""
    pools = {"all": np.ones(int(inside.sum()), dtype=bool)}
    for name, region in (regions or {}).items():
        small = cv2.resize(np.asarray(region, dtype=np.float32), size, interpolation=cv2.INTER_NEAREST) > 0.5
        if small[inside].sum() >= 4:
            pools[name] = small[inside]
    return pools


def _top_mean(values: np.ndarray, pool: np.ndarray) -> np.ndarray:
    """Mean of the largest CURVE_TOP_FRACTION of values[..., pool] along the last axis."""
    part = values[..., pool]
    top = int(part.shape[-1] * (1.0 - CURVE_TOP_FRACTION))
    return np.partition(part, top, axis=-1)[..., top:].mean(axis=-1)


def motion_curve(frames: np.ndarray, mask: np.ndarray | None = None, fps: float | None = None) -> np.ndarray:
    """How far each frame has moved from the first one, inside `mask` (see :func:`region_curves`, of which this is
    the one-region case)."""
    return region_curves(frames, mask, fps)["all"]


def region_curves(
    frames: np.ndarray,
    mask: np.ndarray | None = None,
    fps: float | None = None,
    regions: dict[str, np.ndarray] | None = None,
) -> dict[str, np.ndarray]:
    """How far each frame has moved from the first one, inside `mask`: (N,) float32 pixels (frame 0 is 0): the
    mean flow magnitude of the most-moving tenth of the mask's pixels, after removing the head's rigid motion.

    frames: (N, H, W, 3) uint8 RGB aligned crops; mask: (H, W) 0/1 of where to look (e.g.
    `mer.spotting.face.spotting_mask`, the AU regions without the eyes); fps: the clip's frame rate, if known: clips
    faster than 100 fps are measured every `round(fps / 100)`-th frame and interpolated in between; regions: name
    -> (H, W) 0/1 mask of a part of the face (e.g. the AU regions): each gets its own curve, the mean of its
    most-moving tenth inside `mask` (a lip corner's movement is a tenth of the mouth, not of the whole face).
    Returns name -> (N,) float32 px, "all" for the whole mask. The flows themselves: :func:`residual_flows`.
    """
    flows = residual_flows(frames, mask, fps, regions)
    return flows.curves(flows.residuals, len(frames))


@dataclass
class ResidualFlows:
    """The flow of each measured frame against the first, head motion taken out, inside the curve's mask.

    measured: (M,) frame indices; residuals: (M, P, 2) float32 crop pixels at the P mask pixels of the
    CURVE_SCALE crop; pools: name -> (P,) bool, the pixels of each region ("all": every one)."""

    measured: np.ndarray
    residuals: np.ndarray
    pools: dict[str, np.ndarray]

    def curves(self, residuals: np.ndarray, count: int) -> dict[str, np.ndarray]:
        """name -> (count,) float32: per measured frame the mean magnitude of the most-moving tenth of each
        pool's pixels of `residuals` ((M, P, 2), these or a filtered copy), interpolated to every frame."""
        magnitude = np.sqrt((np.asarray(residuals, dtype=np.float32) ** 2).sum(axis=2))
        out = {name: _top_mean(magnitude, pool).astype(np.float32) for name, pool in self.pools.items()}
        if len(self.measured) == count:
            return out
        return {name: np.interp(np.arange(count), self.measured, v).astype(np.float32) for name, v in out.items()}


def residual_flows(
    frames: np.ndarray,
    mask: np.ndarray | None = None,
    fps: float | None = None,
    regions: dict[str, np.ndarray] | None = None,
) -> ResidualFlows:
    """The flows behind :func:`region_curves` (same arguments).

    DIS flow on quarter-size frames from the first frame to each frame, with three guards against what is not a
    facial movement:
    - head motion: the rigid (affine) part of the flow, fitted by least squares outside the excluded parts, is
      tracked from frame to frame; each frame is first warped back by the motion found so far, and only the
      residual flow counts, so drift, small turns and zoom do not;
    - blinks: inside the mask's convex hull but outside the mask (the eyes, for the spotting mask), every frame
      shows the first frame's pixels, so a blink has no motion to spread into the regions around it;
    - flicker and auto-exposure: each frame's face brightness is scaled to the first frame's.
    """
    frames = np.asarray(frames)
    count = len(frames)
    if count == 0:
        pools = {name: np.zeros(0, dtype=bool) for name in ["all", *(regions or {})]}
        return ResidualFlows(np.zeros(0, dtype=int), np.zeros((0, 0, 2), dtype=np.float32), pools)
    height, width = frames.shape[1:3]
    geometry = _curve_geometry(height, width, mask)
    size, sx, sy = geometry.size, geometry.sx, geometry.sy

    step = max(1, int(round(fps / CURVE_FRAME_RATE))) if fps and fps > 0 else 1
    measured = list(range(0, count, step))
    if measured[-1] != count - 1:
        measured.append(count - 1)
    reference = cv2.resize(_gray(frames[0]), size, interpolation=cv2.INTER_AREA)
    dis = _curve_dis()
    head = np.zeros((3, 2), dtype=np.float64)  # rigid flow so far: flow(x, y) = [1, x, y] @ head
    pools = _pools(size, geometry.inside, regions)
    residuals = np.zeros((len(measured), int(geometry.inside.sum()), 2), dtype=np.float32)
    for k, i in enumerate(measured[1:], start=1):
        # Sample the frame where the head has gone, frame(x + head flow(x)), at full size: interpolating the small
        # frame would blur it by a varying amount and add noise to the flow.
        back = np.array(
            [
                [1 + head[1, 0], head[2, 0] * sy / sx, head[0, 0] / sx],
                [head[1, 1] * sx / sy, 1 + head[2, 1], head[0, 1] / sy],
            ]
        )
        full = cv2.warpAffine(
            _gray(frames[i]),
            back,
            (width, height),
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_REPLICATE,
        )
        small = cv2.resize(full, size, interpolation=cv2.INTER_AREA)
        residuals[k], rigid = geometry.residual(dis, reference, small)
        head += rigid
    # in crop pixels: the flow was measured on the CURVE_SCALE crop
    return ResidualFlows(np.array(measured), residuals / geometry.scale, pools)
