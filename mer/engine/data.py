"""A preprocessed cache as a torch Dataset, with augmentation that keeps micro-motion intact.

Cache layout (written by ``mer preprocess``): ``CACHE/settings.json`` and ``CACHE/index.csv`` with columns
subject, sample, label, emotion, onset, apex, offset, input (relative path of a float16 ``.npy`` of shape
(4, 282, 231), unnormalised), clip (the aligned frames other inputs are derived from). A model reading another
modality (``mer_fr``: flow_uv28, ``mer_mol``: frames8) reads ``CACHE/derived/<modality>/`` made by
``mer.data.cache.ensure_modality``, with training targets beside the inputs when the model asks for them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset

from mer.errors import InputError
from mer.spec import CROP_HW, MODALITY_CFGS

# 68-point landmark index of each point's mirror image (left <-> right), for the horizontal flip.
MIRROR_68 = np.array(
    [*range(16, -1, -1), *range(26, 16, -1), 27, 28, 29, 30, 35, 34, 33, 32, 31,
     45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40,
     54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55, 64, 63, 62, 61, 60, 67, 66, 65]
)  # fmt: skip

INDEX_COLUMNS = ("subject", "sample", "label", "input")


@dataclass
class Cache:
    """An opened cache: its folder, index (one row per sample) and settings."""

    root: Path
    index: pd.DataFrame
    settings: dict[str, Any]

    @property
    def class_names(self) -> list[str]:
        return list(self.settings["class_names"])

    @property
    def dataset(self) -> str:
        return str(self.settings.get("dataset", "unknown"))

    @property
    def synthetic(self) -> bool:
        """True when settings say the data are synthetic: ``synthetic: true``, a dataset named synth*, or the
        annotation sheet ``mer synth`` writes (``CASME2-coding-synthetic.xlsx``)."""
        sheet = Path(str(self.settings.get("sheet") or "")).name.lower()
        return (
            bool(self.settings.get("synthetic", False))
            or self.dataset.lower().startswith("synth")
            or "synthetic" in sheet
        )

    @property
    def input_shape(self) -> tuple[int, ...]:
        """(C, H, W) of every input, read from the first file (settings' ``input_shape`` may be absent)."""
        first = self.root / self.index["input"].iloc[0]
        return tuple(np.load(first, mmap_mode="r").shape)


def open_cache(root: str | Path) -> Cache:
    """Open a finished cache (``mer.data.cache.read_cache``); check what training needs, else InputError."""
    from mer.data.cache import read_cache

    root = Path(root).expanduser()
    index, settings = read_cache(root)
    index_path = root / "index.csv"
    for key in ("class_names", "mean", "std", "channels"):
        if key not in settings:
            raise InputError(f"{root / 'settings.json'} lacks {key!r}; re-run `mer preprocess`")
    missing_cols = [c for c in INDEX_COLUMNS if c not in index.columns]
    if missing_cols:
        raise InputError(f"{index_path} lacks columns {missing_cols}; re-run `mer preprocess`")
    if index.empty:
        raise InputError(f"{index_path} lists no samples")
    bad_labels = sorted(set(index["label"]) - set(settings["class_names"]))
    if bad_labels:
        raise InputError(f"{index_path} has labels {bad_labels} outside class_names {settings['class_names']}")
    missing = [p for p in index["input"] if not (root / p).is_file()]
    if missing:
        raise InputError(f"{len(missing)} input files listed in {index_path} are missing, e.g. {missing[:3]}")
    dup = index.duplicated(["subject", "sample"])
    if dup.any():
        raise InputError(f"{index_path} lists these samples twice: {index.loc[dup, 'sample'].tolist()[:5]}")
    return Cache(root=root, index=index.reset_index(drop=True), settings=settings)


def shift_image(x: np.ndarray, dy: int, dx: int, fill: np.ndarray) -> np.ndarray:
    """Translate (C, H, W) by (dy, dx) pixels, filling uncovered pixels with ``fill[c]`` per channel."""
    out = np.empty_like(x)
    out[:] = fill[:, None, None]
    h, w = x.shape[1:]
    src_y, dst_y = slice(max(0, -dy), h - max(0, dy)), slice(max(0, dy), h - max(0, -dy))
    src_x, dst_x = slice(max(0, -dx), w - max(0, dx)), slice(max(0, dx), w - max(0, -dx))
    out[:, dst_y, dst_x] = x[:, src_y, src_x]
    return out


class CacheDataset(Dataset):
    """Samples of a cache as ``(x, y, i)``: x float32 (C, H, W) normalised, y class index, i row in ``rows``.

    ``modality`` (default: the cache's own) picks the input: another one is read from ``derived/<modality>/``
    (made by ``mer.data.cache.ensure_modality``). ``targets`` names training targets stored beside a derived
    input (``("flow", "landmarks")`` for MOL); with them each item is ``(x, y, i, {name: tensor})``.

    Augmentation (``augment=True``) is a random translation of at most ``max_shift`` pixels of the 282 x 231 crop
    (scaled to the input's width), identical for every channel (so flow, strain and the AU mask stay registered),
    and a horizontal flip that negates the horizontal flow ``u``; targets move with the input (flow shifted,
    flipped and its u negated; landmarks shifted and mirrored). Nothing blurs, recolours or crops: those would
    erase motions of a pixel or two. The random draw of sample ``i`` in epoch ``e`` depends only on (seed, e, i),
    so results do not depend on worker count or on where a resumed run restarted. The returned ``i`` lets the
    trainer log exactly which samples each role consumed.
    """

    def __init__(
        self,
        cache: Cache,
        rows: pd.DataFrame,
        *,
        augment: bool = False,
        max_shift: int = 0,
        hflip: bool = False,
        seed: int = 0,
        modality: str | None = None,
        targets: tuple[str, ...] = (),
    ) -> None:
        self.root = cache.root
        self.rows = rows.reset_index(drop=True)
        self.class_to_idx = {name: i for i, name in enumerate(cache.class_names)}
        own = cache.settings.get("modality", "flow")
        self.derived = modality if modality not in (None, own) else None
        info = MODALITY_CFGS[self.derived] if self.derived else cache.settings
        self.mean = np.asarray(info["mean"], dtype=np.float32)
        self.std = np.asarray(info["std"], dtype=np.float32)
        channels = list(info["channels"])
        self.u_channel = channels.index("u") if "u" in channels else None
        self.targets = tuple(targets)
        if self.targets and not self.derived:
            raise ValueError(f"targets {self.targets} are stored only beside a derived modality")
        self.augment, self.max_shift, self.hflip, self.seed = augment, max_shift, hflip, seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.rows)

    def sample_ids(self) -> list[str]:
        return [f"{s}/{n}" for s, n in zip(self.rows["subject"], self.rows["sample"], strict=True)]

    def labels(self) -> np.ndarray:
        return np.array([self.class_to_idx[c] for c in self.rows["label"]], dtype=np.int64)

    def raw(self, i: int) -> np.ndarray:
        """Sample ``i``'s input, unnormalised, unaugmented, float32."""
        rel = self.rows.iloc[i]["input"]
        if self.derived:
            rel = f"derived/{self.derived}/{Path(rel).stem}.npy"
        x = np.load(self.root / rel).astype(np.float32)
        if x.shape[0] != len(self.mean):
            raise ValueError(f"{rel} has {x.shape[0]} channels, its modality says {len(self.mean)}")
        return x

    def _targets(self, i: int) -> dict[str, np.ndarray]:
        stem = Path(self.rows.iloc[i]["input"]).stem
        with np.load(self.root / "derived" / str(self.derived) / f"{stem}.targets.npz") as z:
            return {k: z[k].astype(np.float32) for k in self.targets}

    def _augment(self, i: int, x: np.ndarray, t: dict[str, np.ndarray]) -> tuple[np.ndarray, dict]:
        rng = np.random.default_rng([self.seed, self.epoch, i])
        w = x.shape[-1]
        if self.hflip and rng.random() < 0.5:
            x = x[:, :, ::-1].copy()
            if self.u_channel is not None:
                x[self.u_channel] *= -1.0
            if "flow" in t:
                t["flow"] = t["flow"][..., ::-1].copy()
                t["flow"][:, 0] *= -1.0
            if "landmarks" in t:
                t["landmarks"] = t["landmarks"][:, MIRROR_68] * np.array([-1.0, 1.0], np.float32)
                t["landmarks"][..., 0] += w - 1
        shift = round(self.max_shift * w / CROP_HW[1])
        if shift:
            dy, dx = (int(d) for d in rng.integers(-shift, shift + 1, size=2))
            x = shift_image(x, dy, dx, fill=self.mean)
            if "flow" in t:
                t["flow"] = np.stack([shift_image(f, dy, dx, np.zeros(2, np.float32)) for f in t["flow"]])
            if "landmarks" in t:
                t["landmarks"] = t["landmarks"] + np.array([dx, dy], np.float32)
        return x, t

    def __getitem__(self, i: int) -> tuple:
        row = self.rows.iloc[i]
        x = self.raw(i)
        t = self._targets(i) if self.targets else {}
        if self.augment:
            x, t = self._augment(i, x, t)
        x = (x - self.mean[:, None, None]) / self.std[:, None, None]
        item = (torch.from_numpy(np.ascontiguousarray(x)), self.class_to_idx[row["label"]], i)
        if self.targets:
            return (*item, {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in t.items()})
        return item
