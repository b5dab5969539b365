"""Metrics computed once from pooled predictions (``predictions.csv``), never averaged over folds.

UF1 is the macro F1 and UAR the macro recall (unweighted average recall) over the classes that occur in the
ground truth, from one confusion matrix of all folds' predictions pooled; each seed gives one such set, and
the headline is the mean with the sample standard deviation over seeds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

from mer.errors import InputError

HEADLINE = ("accuracy", "macro_precision", "macro_recall", "uf1", "uar")
PRED_COLUMNS = ("fold", "seed", "subject", "sample", "y_true", "y_pred")
INFLATED = "inflated (best epoch chosen on the test subject; not a valid estimate)"


def class_names_of(df: pd.DataFrame) -> list[str]:
    """Class names, in order, from the ``prob_<class>`` columns."""
    return [c[len("prob_") :] for c in df.columns if c.startswith("prob_")]


# predictions.csv and audit.csv columns read as text (a subject "01" must not become 1)
PREDICTION_DTYPES = {"subject": str, "sample": str, "y_true": str, "y_pred": str}


def read_predictions(path: str | Path) -> pd.DataFrame:
    """Read and check a predictions CSV (fold, seed, subject, sample, y_true, y_pred, prob_<class>...)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path} does not exist; train first (`mer train`) or merge folds (`mer merge RUN`)")
    df = pd.read_csv(path, dtype=PREDICTION_DTYPES)
    missing = [c for c in PRED_COLUMNS if c not in df.columns]
    names = class_names_of(df)
    if missing or not names:
        raise InputError(f"{path} is not a predictions file: missing {missing or 'prob_<class> columns'}")
    outside = sorted((set(df["y_true"]) | set(df["y_pred"])) - set(names))
    if outside:
        raise InputError(f"{path} has labels {outside} without a prob_ column")
    return df


def classification_metrics(
    y_true: list[str] | np.ndarray, y_pred: list[str] | np.ndarray, class_names: list[str]
) -> dict[str, Any]:
    """Accuracy, macro precision/recall, UF1, UAR, per-class figures and the confusion matrix (rows: truth).

    Macro averages run over the classes present in ``y_true``; per-class figures cover every class.
    """
    y_true, y_pred = np.asarray(y_true, dtype=object), np.asarray(y_pred, dtype=object)
    present = [c for c in class_names if c in set(y_true)]
    p, r, f, _ = precision_recall_fscore_support(y_true, y_pred, labels=present, average=None, zero_division=0)
    pc, rc, fc, sc = precision_recall_fscore_support(y_true, y_pred, labels=class_names, average=None, zero_division=0)
    cm = confusion_matrix(y_true, y_pred, labels=class_names)
    return {
        "n": int(len(y_true)),
        "accuracy": float(np.mean(y_true == y_pred)) if len(y_true) else 0.0,
        "macro_precision": float(np.mean(p)) if present else 0.0,
        "macro_recall": float(np.mean(r)) if present else 0.0,
        "uf1": float(np.mean(f)) if present else 0.0,
        "uar": float(np.mean(r)) if present else 0.0,
        "per_class": {
            c: {"precision": float(pc[i]), "recall": float(rc[i]), "f1": float(fc[i]), "support": int(sc[i])}
            for i, c in enumerate(class_names)
        },
        "confusion_matrix": {"labels": list(class_names), "rows_true_cols_pred": cm.tolist()},
    }


def _mean_std(values: list[float]) -> dict[str, float]:
    arr = np.asarray(values, dtype=float)
    return {"mean": float(arr.mean()), "std": float(arr.std(ddof=1)) if len(arr) > 1 else 0.0}


def _per_subject(df: pd.DataFrame, class_names: list[str]) -> list[dict[str, Any]]:
    rows = []
    for subject, sub in df.groupby("subject", sort=True):
        per_seed = [classification_metrics(s["y_true"], s["y_pred"], class_names) for _, s in sub.groupby("seed")]
        rows.append(
            {
                "subject": subject,
                "n": int(per_seed[0]["n"]),
                "accuracy": float(np.mean([m["accuracy"] for m in per_seed])),
                "uf1": float(np.mean([m["uf1"] for m in per_seed])),
            }
        )
    return rows


def pooled_metrics(df: pd.DataFrame, class_names: list[str]) -> dict[str, Any]:
    """Per-seed pooled metrics, mean and std over seeds, seed-summed confusion matrix, per-subject rows."""
    per_seed = {
        int(seed): classification_metrics(s["y_true"], s["y_pred"], class_names)
        for seed, s in df.groupby("seed", sort=True)
    }
    summary = {k: _mean_std([m[k] for m in per_seed.values()]) for k in HEADLINE}
    cm = np.sum([np.array(m["confusion_matrix"]["rows_true_cols_pred"]) for m in per_seed.values()], axis=0)
    per_class = {
        c: {k: float(np.mean([m["per_class"][c][k] for m in per_seed.values()])) for k in ("precision", "recall", "f1")}
        | {"support": next(iter(per_seed.values()))["per_class"][c]["support"]}
        for c in class_names
    }
    return {
        **{k: summary[k]["mean"] for k in HEADLINE},
        "over_seeds": summary,
        "seeds": sorted(per_seed),
        "n_per_seed": next(iter(per_seed.values()))["n"],
        "per_class": per_class,
        "confusion_matrix": {
            "labels": list(class_names),
            "rows_true_cols_pred": cm.tolist(),
            "note": "summed over seeds" if len(per_seed) > 1 else "one seed",
        },
        "per_seed": {str(k): {h: v[h] for h in HEADLINE} for k, v in per_seed.items()},
        "per_subject": _per_subject(df, class_names),
    }


def leakage_audit(audit: pd.DataFrame, class_names: list[str]) -> dict[str, Any]:
    """Metrics had each fold's epoch been picked by its accuracy on its own test subject (the common mistake).

    ``audit`` holds per-epoch test predictions (columns of predictions.csv plus ``epoch``). Ties go to the
    higher UF1 on the subject, then to the earlier epoch. The result is labelled inflated; it is never the
    headline.
    """
    picked, chosen = [], []
    for (seed, fold), g in audit.groupby(["seed", "fold"], sort=True):
        scores = []
        for epoch, e in g.groupby("epoch", sort=True):
            m = classification_metrics(e["y_true"], e["y_pred"], class_names)
            scores.append((m["accuracy"], m["uf1"], -int(epoch)))
        acc, uf1, neg_epoch = max(scores)
        picked.append(g[g["epoch"] == -neg_epoch])
        chosen.append({"seed": int(seed), "fold": int(fold), "epoch": -neg_epoch, "subject_accuracy": acc})
    best = pooled_metrics(pd.concat(picked), class_names)
    last = audit.groupby(["seed", "fold"])["epoch"].transform("max") == audit["epoch"]
    final = pooled_metrics(audit[last], class_names)
    return {
        "label": INFLATED,
        **{k: best[k] for k in HEADLINE},
        "over_seeds": best["over_seeds"],
        "final_epoch_same_audit": {k: final[k] for k in HEADLINE},
        "inflation": {k: best[k] - final[k] for k in HEADLINE},
        "epochs_evaluated": sorted(int(e) for e in audit["epoch"].unique()),
        "chosen_epochs": chosen,
    }


def run_metrics(
    predictions: pd.DataFrame, audit: pd.DataFrame | None = None, data_source: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The whole metrics.json: headline pooled metrics, data source and (when given) the leakage audit."""
    class_names = class_names_of(predictions)
    out: dict[str, Any] = {
        "data_source": data_source or {"dataset": "unknown", "synthetic": None},
        "source_file": "predictions.csv",
        "method": (
            "pooled over all folds per seed (one confusion matrix), then mean and sample std over seeds; "
            "macro averages over classes present in the ground truth; UAR = macro recall"
        ),
        "class_names": class_names,
        "folds": int(predictions["fold"].nunique()),
        **pooled_metrics(predictions, class_names),
    }
    if audit is not None and len(audit):
        out["leakage_audit"] = leakage_audit(audit, class_names)
    return out
