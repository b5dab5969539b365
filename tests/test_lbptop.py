"""LBP-TOP: the descriptor against a direct computation, and the SVM on separable volumes."""

from __future__ import annotations

import numpy as np
import pytest

from mer.models.lbptop import LbpTopSvm, lbptop, n_bins

# P = 4, R = 1: neighbours on the pixel grid (no interpolation), in skimage's order: right, up, left, down.
OFFSETS = ((0, 1), (-1, 0), (0, -1), (1, 0))


def direct_code(plane: np.ndarray, r: int, c: int) -> int:
    """The P = 4, R = 1 binary pattern at (r, c) of a 2-D array, from its definition."""
    centre = plane[r, c]
    return sum(2**p for p, (dr, dc) in enumerate(OFFSETS) if plane[r + dr, c + dc] >= centre)


def direct_lbptop(volume: np.ndarray, blocks: tuple[int, int]) -> np.ndarray:
    """Histograms per block and plane by visiting each interior voxel and coding its three planes."""
    t, h, w = volume.shape
    ys = np.linspace(0, h - 2, blocks[0] + 1).round().astype(int) + 1
    xs = np.linspace(0, w - 2, blocks[1] + 1).round().astype(int) + 1
    out = np.zeros((blocks[0], blocks[1], 3, 16))
    for i in range(blocks[0]):
        for j in range(blocks[1]):
            for k in range(1, t - 1):
                for y in range(ys[i], ys[i + 1]):
                    for x in range(xs[j], xs[j + 1]):
                        out[i, j, 0, direct_code(volume[k], y, x)] += 1  # XY: rows y, columns x
                        out[i, j, 1, direct_code(volume[:, y, :], k, x)] += 1  # XT: rows t, columns x
                        out[i, j, 2, direct_code(volume[:, :, x], k, y)] += 1  # YT: rows t, columns y
    return (out / out.sum(-1, keepdims=True)).ravel()


def test_descriptor_matches_a_direct_computation() -> None:
    rng = np.random.default_rng(0)
    volume = rng.permutation(6 * 10 * 12).reshape(6, 10, 12).astype(np.uint16)  # no ties
    ours = lbptop(volume, blocks=(2, 3), points=4, radius=1, method="default")
    assert ours.shape == (2 * 3 * 3 * 16,)
    np.testing.assert_allclose(ours, direct_lbptop(volume, (2, 3)), atol=1e-6)


def test_planes_are_not_interchangeable() -> None:
    """A volume that changes only in time has flat XY codes but varied XT/YT codes."""
    rng = np.random.default_rng(1)
    volume = np.repeat(rng.permutation(8)[:, None, None], 16, 1).repeat(16, 2).astype(np.uint8) * 20
    hist = lbptop(volume, blocks=(1, 1)).reshape(3, n_bins(8, "nri_uniform"))
    assert (hist[0] > 0).sum() == 1  # XY: one code everywhere
    assert (hist[1] > 0).sum() > 1 and np.allclose(hist[1], hist[2])


def test_svm_separates_two_textures_and_gives_probabilities() -> None:
    rng = np.random.default_rng(2)
    smooth = [np.cumsum(rng.integers(0, 3, (8, 32, 32)), axis=2).clip(0, 255) for _ in range(6)]
    noisy = [rng.integers(0, 256, (8, 32, 32)) for _ in range(6)]
    volumes = np.stack(smooth + noisy).astype(np.uint8)
    labels = np.array([0] * 6 + [2] * 6)
    model = LbpTopSvm(num_classes=3, blocks=(2, 2)).fit(volumes[::2], labels[::2])
    probs = model.predict_proba(volumes[1::2])
    assert probs.shape == (6, 3) and np.allclose(probs.sum(1), 1) and np.all(probs[:, 1] == 0)
    assert list(probs.argmax(1)) == list(labels[1::2])
    with pytest.raises(ValueError, match="two classes"):
        LbpTopSvm().fit(volumes[:3], labels[:3])
