"""Short movements: how far each frame stands out from the frames a moment before and after it.

The motion curve (:mod:`mer.spotting.motion`) measures each frame against a reference far back in time. A
micro-expression on top of a held smile is a pixel or two on top of ten, and the flow against a reference from
before the smile is too noisy to show it. Here every flow spans only a fraction of a second: for each measured
frame j, G_j = flow(j -> j + lag), head motion taken out as in the motion curve. A frame i where the face went
somewhere and came back has G_{i-lag} pointing one way and G_i the other, so its **bump**

    bump_i(x) = sqrt(max(0, -G_{i-lag}(x) . G_i(x)))

is the displacement at i from where the face was `lag` before and after (for a movement up to 2 * lag long),
while a steady expression, a slow one (G_{i-lag} and G_i alike), or the start of a held one (one of them ~0)
gives ~0. Each region's curve averages its most-moving tenth, as the motion curve does, the maximum over the
lags (LAG_S and twice it).

Blinks are a short movement too: the eyes are frozen to the first frame of each pair, and the eyes' own change
(``blink``: how far the pixels of the eye openings at i differ from both i - lag and i + lag, in gray levels)
says where one happened: a lid over the iris changes them far more than a brow raise does.
"""

from __future__ import annotations

import cv2
import numpy as np

from mer.spotting.motion import CURVE_FRAME_RATE, _curve_dis, _curve_geometry, _gray, _pools, _top_mean

LAG_S = 0.13  # the flows span this, and twice this (a micro-expression rises within ~0.1-0.25 s, is over in 0.5 s)
LAG_MULTIPLES = (1, 2)
# The flows are measured on crops this many times the aligned crop's size (141 x 116): a 1-3 px micro-expression is
# 0.5-1.5 px there, at a quarter (the motion curve's scale) 0.25-0.75 px, where DIS's own error on a still face is
# as large. On the synthetic tuning clips (benchmarks/trust.py), each at its best setting, half size reached micro
# F1 0.667 and a quarter 0.576 at 1.07 false micro events a minute; with events.py's noise guards held, 0.576 at
# 1.43 against 0.552 at 1.07 (about even), and at a quarter tests/test_real_faces.py's held-smile AU12 stands 13
# times its curve's noise, under the 15 asked. It costs the windows' analysis 1.7x CPU.
SHORT_SCALE = 0.5


def _small(frames: np.ndarray, size: tuple[int, int]) -> list[np.ndarray]:
    return [cv2.resize(_gray(f), size, interpolation=cv2.INTER_AREA) for f in frames]


class ShortFlows:
    """Flows between nearby frames of one stretch of aligned crops (N, H, W, 3), inside `mask` (the spotting mask:
    AU regions without the eyes), each region of `regions` pooled on its own."""

    def __init__(
        self,
        frames: np.ndarray,
        mask: np.ndarray | None,
        regions: dict[str, np.ndarray] | None,
        eyes: np.ndarray | None = None,
        nose: np.ndarray | None = None,
        shared: dict | None = None,
        start: int = 0,
    ):
        """eyes: (H, W) 0/1 of the eye openings (:func:`mer.spotting.face.eye_mask`) for the blink curve; without
        it, the part of the mask's hull outside the mask. nose: (H, W) 0/1 of the nose (ridge, tip, wings:
        :func:`mer.spotting.face.nose_mask`), the head-motion reference: its median flow (what the affine head
        motion left) is taken out of every flow, as the field's spotters do; None leaves the flows as they are.
        shared: (stream frame, stream frame) -> whole flow, kept by the caller across overlapping windows of one
        stream (the live spotter): a pair of frames measured by an earlier window is not measured again (its flow
        was taken with that window's mask for the brightness match and the eyes pasted in; the rigid part is taken
        out with this one's); start: the stream frame of `frames[0]`. Without it a pair is measured once per
        window (each window's flows are kept while it is analysed either way)."""
        self.count = len(frames)
        self.whole: dict = {} if shared is None else shared  # (stream frame, stream frame) -> whole flow
        self.start = start
        height, width = np.asarray(frames).shape[1:3]
        self.geometry = _curve_geometry(height, width, mask, SHORT_SCALE)
        self.small = _small(np.asarray(frames), self.geometry.size)
        if eyes is not None and np.asarray(eyes).any():
            inside_eyes = np.asarray(eyes) > 0.5
            self.eye_pixels = np.stack([_gray(f)[inside_eyes].astype(np.float32) for f in frames])
        else:
            self.eye_pixels = np.stack([s[self.geometry.frozen].astype(np.float32) for s in self.small])
        self.pools = _pools(self.geometry.size, self.geometry.inside, regions)
        self.nose = None
        if nose is not None:
            self.nose = _pools(self.geometry.size, self.geometry.inside, {"nose": nose}).get("nose")
        self.dis = _curve_dis()

    def flow(self, i: int, j: int) -> np.ndarray:
        """(P, 2) float32 crop pixels: flow from frame i to frame j inside the mask, the rigid (head) part taken out
        (and the nose's remaining motion, when given), j's brightness matched to i's and i's eyes pasted into j (a
        blink does not spread into the brows)."""
        key = (self.start + i, self.start + j)
        whole = self.whole.get(key)
        if whole is None:  # the same pair is asked for by several lags, regions and candidates (and windows)
            whole = self.whole[key] = self.geometry.flow(self.dis, self.small[i], self.small[j])
        residual, _ = self.geometry.split(whole)
        if self.nose is not None:  # what the head's affine motion left, as the nose moved
            residual = residual - np.median(residual[self.nose], axis=0)
        return residual / self.geometry.scale

    def moved(self, i: int, j: int, region: str) -> float:
        """How far `region` moved from frame i to frame j: the mean of its most-moving tenth (crop pixels)."""
        magnitude = np.sqrt((self.flow(i, j) ** 2).sum(axis=1))
        return float(_top_mean(magnitude, self.pools.get(region, self.pools["all"])))

    def curves(self, fps: float) -> dict[str, np.ndarray]:
        """name -> (N,) float32 bump curve per region (module docstring), the maximum over both lags, and "blink": the
        eyes' change at the shorter lag (gray levels). Frames without `lag` frames on both sides are 0; clips
        faster than CURVE_FRAME_RATE are measured on every `round(fps / CURVE_FRAME_RATE)`-th frame.

        Only the flows over the shorter lag are computed: the flow over twice the lag is the sum of two of them
        (the motions are a few pixels, so where a pixel lands after the first barely moves the second)."""
        step = max(1, int(round(fps / CURVE_FRAME_RATE)))
        lag = max(step, int(round(LAG_S * fps / step)) * step)
        out = {name: np.zeros(self.count, dtype=np.float32) for name in [*self.pools, "blink"]}
        flows = {j: self.flow(j, j + lag) for j in range(0, self.count - lag, step)}
        for times in LAG_MULTIPLES:
            span = times * lag
            over = {j: sum(flows[j + q * lag] for q in range(times)) for j in flows if j + span - lag in flows}
            centres = [i for i in over if i - span in over]
            if not centres:
                continue
            bump = np.stack([np.sqrt(np.maximum(-(over[i - span] * over[i]).sum(axis=1), 0)) for i in centres])
            for name, pool in self.pools.items():
                values = np.interp(np.arange(self.count), centres, _top_mean(bump, pool), left=0, right=0)
                out[name] = np.maximum(out[name], values.astype(np.float32))
            if times == 1:
                out["blink"] = np.interp(np.arange(self.count), centres, self._eyes(centres, lag), left=0, right=0)
        return out

    def _eyes(self, centres: list[int], lag: int) -> np.ndarray:
        """Per centre frame i: how far its eye pixels (brightness levelled) differ from both i - lag and i + lag."""
        if not self.eye_pixels.shape[1]:
            return np.zeros(len(centres), dtype=np.float32)
        eyes = self.eye_pixels - self.eye_pixels.mean(axis=1, keepdims=True)
        before = np.abs(eyes[centres] - eyes[[i - lag for i in centres]]).mean(axis=1)
        after = np.abs(eyes[centres] - eyes[[i + lag for i in centres]]).mean(axis=1)
        return np.minimum(before, after).astype(np.float32)
