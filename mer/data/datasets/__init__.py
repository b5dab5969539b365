"""Datasets: each database's sheet -> one canonical table (see `common.COLUMNS`), validated on opening.

    table = load_dataset("casme2", "/data/CASME2", sheet="CASME2-coding-20140508.xlsx")
    frame_path(table.iloc[0], table.iloc[0]["onset"])  # .../CASME2_RAW_selected/sub01/EP02_01f/img46.jpg

Every missing folder, missing frame and malformed row is listed in one InputError; ``skip_missing=True``
leaves those samples out instead, with a DatasetWarning, and lists them in ``table.attrs["skipped"]``
(subject, sample, sheet_row, problem). Samples whose emotion the label set has no class for are in
``table.attrs["excluded"]``.

Long-video databases (spotting): ``load_long_videos("samm-lv" | "casme2-lv" | "casme3", root)`` gives their
intervals and each video's frames (:mod:`mer.data.datasets.long_video`).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from mer.data.datasets import casme2, casme2_lv, casme3, megc, samm, samm_lv
from mer.data.datasets.common import (
    APEX_UNKNOWN,
    COLUMNS,
    RAW_LABEL_SET,
    SKIPPED_COLUMNS,
    DatasetWarning,
    frame_path,
    label_map,
)
from mer.data.datasets.long_video import LongVideos
from mer.errors import InputError

DATASETS = {"casme2": casme2, "samm": samm, "megc": megc}
LONG_DATASETS = {"samm-lv": samm_lv.DATASET, "casme2-lv": casme2_lv.DATASET, "casme3": casme3.DATASET}

__all__ = [
    "APEX_UNKNOWN",
    "COLUMNS",
    "DATASETS",
    "LONG_DATASETS",
    "RAW_LABEL_SET",
    "SKIPPED_COLUMNS",
    "DatasetWarning",
    "default_label_set",
    "frame_path",
    "load_dataset",
    "load_long_videos",
]


def default_label_set(name: str) -> str:
    """The label set a dataset uses unless told otherwise: casme2 -> casme2_5, samm and megc -> megc_3."""
    return _module(name).DEFAULT_LABEL_SET


def load_dataset(
    name: str,
    root: str | Path,
    sheet: str | Path | None = None,
    label_set: str | None = "default",
    skip_missing: bool = False,
) -> pd.DataFrame:
    """The canonical table of dataset `name` ("casme2", "samm", "megc") from the frames under `root`.

    sheet: the annotation sheet (default: found in root or its parent by its usual name). label_set:
    "casme2_5", "megc_3", None or "emotion" (the sheet's own emotion words, nothing left out); "default" is
    the dataset's own (see `default_label_set`). Raises InputError listing every problem unless skip_missing.
    """
    module = _module(name)
    if label_set == "default":
        label_set = module.DEFAULT_LABEL_SET
    label_map(label_set)  # an unknown label set fails before any file is read
    return module.load(root, sheet=sheet, label_set=label_set, skip_missing=skip_missing)


def load_long_videos(name: str, root: str | Path, sheet: str | Path | None = None) -> LongVideos:
    """The long-video database `name` ("samm-lv", "casme2-lv", "casme3") under `root`: its sheet's intervals and
    the frames of each video present (those absent in ``skipped``). sheet: default found by its usual name."""
    from mer.data.datasets.long_video import load

    key = str(name).strip().lower().replace("_", "-")
    if key not in LONG_DATASETS:
        raise InputError(f"unknown long-video dataset '{name}'; choose one of {', '.join(LONG_DATASETS)}")
    return load(LONG_DATASETS[key], root, sheet)


def _module(name: str):
    key = str(name).strip().lower().replace("-", "").replace("_", "")
    key = {"casmeii": "casme2", "megc2019": "megc"}.get(key, key)
    if key not in DATASETS:
        raise InputError(f"unknown dataset '{name}'; choose one of {', '.join(DATASETS)}")
    return DATASETS[key]
