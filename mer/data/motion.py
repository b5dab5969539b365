"""Motion: onset->apex optical flow (TV-L1, DIS), optical strain, the motion curve of a clip, and spotting.

All flows are (H, W, 2) float32 in pixels of the aligned crop, (u, v) = (right, down), from the first image to the
second. TV-L1 is OpenCV-contrib's DualTVL1 with reduced pyramid and iteration counts (see TVL1_PARAMS).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

# Measured here on 282 x 231 face pairs: OpenCV's defaults (5 scales, 5 warps, 30 inner / 10 outer iterations,
# epsilon 0.01) take ~600 ms a pair; these take ~70 ms at the same end-point error on micro (< 3 px) motion,
# which needs neither a deep pyramid nor a tight stopping threshold.
TVL1_PARAMS = dict(nscales=3, warps=3, innnerIterations=10, outerIterations=5, epsilon=0.05)
CURVE_SCALE = 0.5  # the motion curve is computed on half-size frames: it only has to find the peak


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


def motion_curve(frames: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """How far each frame has moved from the first one, inside `mask`: (N,) float32 pixels (frame 0 is 0).

    frames: (N, H, W, 3) uint8 RGB aligned crops; mask: (H, W) 0/1 of where to look (e.g. the AU regions).
    Fast DIS flow on half-size frames from the first frame to each frame; the median flow over the whole crop (the
    head's own small drift) is removed before averaging the magnitude inside the mask, so slow head motion does not
    look like an expression.
    """
    frames = np.asarray(frames)
    if len(frames) == 0:
        return np.zeros(0, dtype=np.float32)
    height, width = frames.shape[1:3]
    size = (max(1, round(width * CURVE_SCALE)), max(1, round(height * CURVE_SCALE)))
    small = [cv2.resize(_gray(f), size, interpolation=cv2.INTER_AREA) for f in frames]
    if mask is None:
        weights = np.ones(size[::-1], dtype=np.float32)
    else:
        weights = cv2.resize(np.asarray(mask, dtype=np.float32), size, interpolation=cv2.INTER_AREA)
    weights /= max(float(weights.sum()), 1e-6)
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST)
    curve = np.zeros(len(small), dtype=np.float32)
    for i in range(1, len(small)):
        flow = dis.calc(small[0], small[i], None)
        flow -= np.median(flow.reshape(-1, 2), axis=0)
        curve[i] = float((np.linalg.norm(flow, axis=2) * weights).sum()) / CURVE_SCALE
    return curve


@dataclass
class Spotting:
    """Onset and apex as indices into the clip; `clear` is False when no movement stands out from the noise."""

    onset: int
    apex: int
    clear: bool
    note: str


MIN_PEAK_PX = 0.08  # mean AU-region movement (pixels) under which a clip counts as still
MAX_RISE_S = 0.5  # a micro-expression reaches its apex within half a second of its onset


def _moving_median(values: np.ndarray, window: int) -> np.ndarray:
    half = window // 2
    padded = np.pad(values, half, mode="edge")
    return np.array([np.median(padded[i : i + window]) for i in range(len(values))], dtype=np.float32)


def spot(curve: np.ndarray, fps: float) -> Spotting:
    """Find onset and apex on a motion curve (from `motion_curve`) recorded at `fps` frames a second.

    The curve is smoothed over ~15 ms, a slow baseline (moving median over 1 s, longer than any micro-expression)
    is removed, the apex is the highest point left, and the onset the last frame before it, within 0.5 s, where
    the movement was under 10% of the apex. A peak below MIN_PEAK_PX or under 4 noise deviations is reported as no
    clear motion (the highest point is still returned, so a caller can show something).
    """
    curve = np.asarray(curve, dtype=np.float32)
    count = len(curve)
    if count < 2:
        return Spotting(0, max(count - 1, 0), False, "the clip is too short to spot a movement")
    fps = float(fps) if fps and fps > 0 else 30.0
    smooth_n = max(1, int(round(0.015 * fps)) | 1)
    smoothed = np.convolve(np.pad(curve, smooth_n // 2, mode="edge"), np.ones(smooth_n) / smooth_n, mode="valid")
    window = min(count, max(3, int(round(1.0 * fps)))) | 1
    baseline = _moving_median(smoothed, window) if window < count else np.full(count, np.min(smoothed))
    signal = np.maximum(smoothed - baseline, 0.0)
    apex = int(np.argmax(signal[1:]) + 1)
    peak = float(signal[apex])
    noise = float(np.median(np.abs(np.diff(curve)))) * 1.4826 + 1e-6
    start = max(0, apex - int(round(MAX_RISE_S * fps)))
    below = np.nonzero(signal[start:apex] <= 0.1 * peak)[0]
    onset = int(start + below[-1]) if len(below) else start
    onset = min(onset, apex - 1)
    clear = peak >= MIN_PEAK_PX and peak >= 4.0 * noise
    if clear:
        note = (
            f"spotted: onset frame {onset}, apex frame {apex} ({(apex - onset) / fps * 1000:.0f} ms rise, "
            f"{peak:.2f} px at the apex)"
        )
    else:
        note = (
            f"no clear motion in this clip (largest movement {peak:.2f} px); the result below uses frames {onset} "
            f"and {apex} and may mean nothing. Give onset and apex if you know them"
        )
    return Spotting(onset, apex, clear, note)
