"""Accuracy (Table 8, and the accuracy columns of Tables 5 and 7) from training runs' ``predictions.csv``.

Each RUN folder gives one measured row: accuracy, macro precision, macro recall, UF1 and UAR pooled over all
folds per seed (mer.engine.metrics, the code that writes RUN/metrics.json), then mean and sample std over
seeds, with the data source (dataset; "synthetic" when it is) on the row. The paper's reported figures are
separate rows with ``kind == "reported"``; the report prints them in their own table, never mixed with
measured rows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from mer.engine.metrics import HEADLINE, class_names_of, pooled_metrics, read_predictions
from mer.errors import InputError
from mer.io import read_json

CLASSICAL = ("lbptop_svm",)  # fitted once per fold: no epochs

COLUMNS = [
    "kind",
    "method",
    "model",
    "data_source",
    "protocol",
    "epochs",
    "seeds",
    "samples_per_seed",
    "classes",
    *[c for m in HEADLINE for c in (m, f"{m}_std")],
    "gmacs",
    "params_m",
    "source",
]


def describe_source(source: dict[str, Any] | str | None) -> str:
    """A short data-source label: ``"synthetic (casme2 layout)"``, ``"casme2"``, or ``"unknown"``."""
    if isinstance(source, str):
        return source or "unknown"
    if not source:
        return "unknown"
    dataset = str(source.get("dataset") or "unknown")
    if source.get("synthetic"):
        return f"synthetic ({dataset} layout)" if dataset not in ("unknown", "synthetic") else "synthetic"
    return dataset


def run_row(run: str | Path) -> dict[str, Any]:
    """One measured row from RUN/predictions.csv (provenance from config.json, metrics.json, run.json)."""
    run = Path(run)
    if not run.is_dir():
        raise InputError(f"--runs {run}: not a folder; give training run folders (`mer train --out RUN`)")
    df = read_predictions(run / "predictions.csv")
    names = class_names_of(df)
    metrics = pooled_metrics(df, names)
    files = ("config.json", "metrics.json", "run.json")
    config, meta, plan = (read_json(run / f, damaged_ok=True) or {} for f in files)
    train = config.get("train", config)
    source = meta.get("data_source") or plan.get("data_source") or config.get("data_source")
    row: dict[str, Any] = {
        "kind": "measured",
        "method": train.get("model") or run.name,
        "model": train.get("model"),
        "data_source": describe_source(source),
        "protocol": train.get("protocol") or plan.get("protocol") or "",
        "epochs": train.get("epochs") if train.get("model") not in CLASSICAL else None,
        "seeds": len(metrics["seeds"]),
        "samples_per_seed": metrics["n_per_seed"],
        "classes": len(names),
        "source": str(run),
    }
    for m in HEADLINE:
        row[m] = metrics["over_seeds"][m]["mean"]
        row[f"{m}_std"] = metrics["over_seeds"][m]["std"]
    return row


def reported_rows() -> list[dict[str, Any]]:
    """The paper's reported rows (Table 8; accuracy columns of Tables 5 and 7), as fractions in [0, 1]."""
    from benchmarks import paper

    rows = []
    for r in paper.reported_accuracy_rows():
        row = {"kind": "reported", "seeds": None, "samples_per_seed": None, "protocol": "", "classes": None}
        row.update(r)
        rows.append(row)
    return rows


def accuracy_table(runs: list[str | Path] | None = None, include_reported: bool = True) -> pd.DataFrame:
    """Measured rows (one per run, in the order given) then the paper's reported rows."""
    rows = [run_row(r) for r in runs or []]
    if include_reported:
        rows += reported_rows()
    return pd.DataFrame(rows, columns=COLUMNS)
