"""``lbptop_svm``: the classic baseline, LBP-TOP histograms + a linear SVM (scikit-learn).

Local binary patterns on three orthogonal planes (Zhao and Pietikäinen 2007) of the aligned clip (modality
``frames8``: 8 grey 128 x 128 frames sampled evenly from onset to offset): for every frame the XY plane, for
every row the XT plane (time x columns), for every column the YT plane (time x rows), each coded with
scikit-image's ``local_binary_pattern`` (P = 8 neighbours on a circle of radius R = 1; ``nri_uniform``: the 58
uniform patterns and one bin for all others, 59 bins). Codes are counted only where the circle of every plane
lies inside the volume (frames R .. T-1-R, rows and columns R .. S-1-R), per spatial block of a 5 x 5 grid;
each block's histogram is normalised to sum 1; the descriptor concatenates blocks x planes x bins
(5 x 5 x 3 x 59 = 4425 values). The classifier is a standardising ``LinearSVC`` (one-vs-rest).

It is not a torch network: ``mer train --model lbptop_svm`` fits it per fold with the same folds, the same
predictions.csv and the same metrics as the networks (mer.engine.train). Its ``prob_*`` columns are a softmax
over the SVM's decision values (a ranking, not calibrated probabilities); their argmax is the SVM's prediction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mer.spec import CASME2_5, MODALITY_CFGS, input_size

PLANES = ("xy", "xt", "yt")


def _lbp(image: np.ndarray, points: int, radius: float, method: str) -> np.ndarray:
    from skimage.feature import local_binary_pattern

    return local_binary_pattern(image, points, radius, method=method)


def plane_codes(volume: np.ndarray, points: int = 8, radius: float = 1, method: str = "nri_uniform") -> np.ndarray:
    """LBP codes of every voxel on the three planes: (T, H, W) uint8 -> (3, T, H, W) (XY, XT, YT).

    XY: ``volume[t]`` (rows y, columns x); XT: ``volume[:, y, :]`` (rows t, columns x); YT: ``volume[:, :, x]``
    (rows t, columns y). Codes near a plane's border use skimage's own border handling; :func:`lbptop` counts only
    the interior.
    """
    volume = np.asarray(volume)
    if volume.ndim != 3:
        raise ValueError(f"LBP-TOP reads a (T, H, W) grey volume, got shape {volume.shape}")
    xy = np.stack([_lbp(volume[t], points, radius, method) for t in range(volume.shape[0])])
    xt = np.stack([_lbp(volume[:, y, :], points, radius, method) for y in range(volume.shape[1])], axis=1)
    yt = np.stack([_lbp(volume[:, :, x], points, radius, method) for x in range(volume.shape[2])], axis=2)
    return np.stack([xy, xt, yt])


def n_bins(points: int, method: str) -> int:
    """Histogram bins of skimage's code set: 59 for ``nri_uniform`` at P = 8, 2^P for ``default``."""
    return {"nri_uniform": points * (points - 1) + 3, "uniform": points + 2}.get(method, 2**points)


def lbptop(
    volume: np.ndarray,
    blocks: tuple[int, int] = (5, 5),
    points: int = 8,
    radius: int = 1,
    method: str = "nri_uniform",
) -> np.ndarray:
    """The LBP-TOP descriptor of one (T, H, W) grey volume: (blocks_y * blocks_x * 3 * bins,) float32.

    Order: block row, block column, plane (XY, XT, YT), bin. Each block-plane histogram sums to 1.
    """
    t, h, w = np.asarray(volume).shape
    r = int(np.ceil(radius))
    if t <= 2 * r or h < blocks[0] + 2 * r or w < blocks[1] + 2 * r:
        raise ValueError(f"volume {volume.shape} too small for radius {radius} and {blocks} blocks")
    codes = plane_codes(volume, points, radius, method)[:, r : t - r, r : h - r, r : w - r]
    bins = n_bins(points, method)
    ys = np.linspace(0, h - 2 * r, blocks[0] + 1).round().astype(int)
    xs = np.linspace(0, w - 2 * r, blocks[1] + 1).round().astype(int)
    out = np.empty((blocks[0], blocks[1], len(PLANES), bins), dtype=np.float32)
    for i in range(blocks[0]):
        for j in range(blocks[1]):
            block = codes[:, :, ys[i] : ys[i + 1], xs[j] : xs[j + 1]].reshape(len(PLANES), -1).astype(np.int64)
            for p in range(len(PLANES)):
                counts = np.bincount(block[p], minlength=bins)[:bins]
                out[i, j, p] = counts / max(1, counts.sum())
    return out.ravel()


@dataclass
class LbpTopSvm:
    """LBP-TOP descriptor + ``StandardScaler`` + ``LinearSVC``; ``fit`` / ``predict_proba`` on (N, T, H, W) volumes.

    ``volumes`` are grey uint8 (or values in [0, 255]); ``labels`` class indices in ``range(num_classes)``.
    """

    num_classes: int = len(CASME2_5)
    blocks: tuple[int, int] = (5, 5)
    points: int = 8
    radius: int = 1
    c: float = 1.0
    class_weight: str | None = None
    pipeline: Any = field(default=None, repr=False)

    pretrained_cfg = {
        **MODALITY_CFGS["frames8"],
        "input_size": input_size("frames8"),
        "label_names": CASME2_5,
        "description": "LBP-TOP (P=8, R=1, nri_uniform, 5x5 blocks) + linear SVM (scikit-learn)",
        "paper_name": "Dynamic texture recognition using local binary patterns with an application to facial "
        "expressions (Zhao and Pietikainen 2007); CASME II baseline (Yan et al. 2014)",
    }

    def features(self, volumes: np.ndarray) -> np.ndarray:
        """(N, T, H, W) -> (N, D) descriptors."""
        return np.stack(
            [lbptop(np.asarray(v).astype(np.uint8), self.blocks, self.points, self.radius) for v in volumes]
        )

    def fit(self, volumes: np.ndarray, labels: np.ndarray) -> LbpTopSvm:
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler
        from sklearn.svm import LinearSVC

        labels = np.asarray(labels)
        if len(set(labels.tolist())) < 2:
            raise ValueError("an SVM needs at least two classes in the training subjects")
        svm = LinearSVC(C=self.c, class_weight=self.class_weight, max_iter=20000)
        self.pipeline = make_pipeline(StandardScaler(), svm).fit(self.features(volumes), labels)
        return self

    def predict_proba(self, volumes: np.ndarray) -> np.ndarray:
        """(N, num_classes): softmax of the decision values over the classes seen in training (0 for others)."""
        scores = self.pipeline.decision_function(self.features(volumes))
        classes = self.pipeline.classes_
        if scores.ndim == 1:  # two classes: one margin, positive for classes[1]
            scores = np.stack([-scores, scores], axis=1) / 2
        e = np.exp(scores - scores.max(1, keepdims=True))
        probs = np.zeros((len(scores), self.num_classes))
        probs[:, classes] = e / e.sum(1, keepdims=True)
        return probs


CLASSICAL_MODELS: dict[str, type] = {"lbptop_svm": LbpTopSvm}
