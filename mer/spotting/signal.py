"""Small helpers on per-frame signals that every part of spotting shares: runs of a mask, moving means."""

from __future__ import annotations

import numpy as np


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Stretches of consecutive True values of a (N,) mask, as (start, stop) with stop exclusive, in order."""
    edges = np.diff(np.concatenate([[0], np.asarray(mask, dtype=np.int8), [0]]))
    return list(zip(np.nonzero(edges == 1)[0].tolist(), np.nonzero(edges == -1)[0].tolist(), strict=True))


def moving_mean(values: np.ndarray, window: int) -> np.ndarray:
    """Moving mean along the first axis over `window` samples (made odd), the edges extended: float64, the shape
    of `values`."""
    from scipy.ndimage import uniform_filter1d

    return uniform_filter1d(np.asarray(values, dtype=np.float64), max(int(window), 1) | 1, axis=0, mode="nearest")


class Growing:
    """A (N,) array appended to in pieces (a curve over a stream of unknown length), doubling its storage."""

    def __init__(self, dtype: type = np.float32, fill: float = np.nan) -> None:
        self.data = np.full(1024, fill, dtype=dtype)
        self.fill = fill
        self.size = 0

    def extend_to(self, size: int) -> None:
        """Make room for `size` values (new ones hold the fill value)."""
        if size > len(self.data):
            grown = np.full(max(size, 2 * len(self.data)), self.fill, dtype=self.data.dtype)
            grown[: self.size] = self.data[: self.size]
            self.data = grown
        self.size = max(self.size, size)

    def put(self, start: int, values: np.ndarray) -> None:
        """Write `values` at start.. (growing as needed)."""
        self.extend_to(start + len(values))
        self.data[start : start + len(values)] = values

    def array(self) -> np.ndarray:
        """A copy of the values so far."""
        return self.data[: self.size].copy()
