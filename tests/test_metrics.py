"""Pooled metrics and the leakage audit, checked against numbers worked out by hand."""

import numpy as np
import pandas as pd
import pytest

from mer.engine.metrics import INFLATED, classification_metrics, leakage_audit, read_predictions, run_metrics
from mer.errors import InputError

NAMES = ["a", "b", "c"]


def frame(rows, seed=1, epoch=None):
    """rows: (fold, subject, y_true, y_pred) -> a predictions frame with one-hot-ish probabilities."""
    out = []
    for i, (fold, subject, t, p) in enumerate(rows):
        probs = {f"prob_{n}": (0.8 if n == p else 0.1) for n in NAMES}
        row = {"fold": fold, "seed": seed, "subject": subject, "sample": f"s{i}", "y_true": t, "y_pred": p}
        if epoch is not None:
            row["epoch"] = epoch
        out.append(row | probs)
    return pd.DataFrame(out)


def test_classification_metrics_by_hand():
    # truth a a b b c c ; pred a b b b c a
    m = classification_metrics(list("aabbcc"), list("abbbca"), NAMES)
    # a: tp1 fp1 fn1 -> p .5 r .5 f .5 ; b: tp2 fp1 fn0 -> p 2/3 r 1 f .8 ; c: tp1 fp0 fn1 -> p 1 r .5 f 2/3
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["uf1"] == pytest.approx((0.5 + 0.8 + 2 / 3) / 3)
    assert m["uar"] == pytest.approx((0.5 + 1 + 0.5) / 3)
    assert m["macro_precision"] == pytest.approx((0.5 + 2 / 3 + 1) / 3)
    assert m["confusion_matrix"]["rows_true_cols_pred"] == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    assert m["per_class"]["b"] == {
        "precision": pytest.approx(2 / 3),
        "recall": 1.0,
        "f1": pytest.approx(0.8),
        "support": 2,
    }


def test_macro_averages_skip_classes_absent_from_truth():
    m = classification_metrics(["a", "a", "b"], ["a", "a", "c"], NAMES)
    # classes present in truth: a (f1 1), b (f1 0); c never true is left out of the average but still reported
    assert m["uf1"] == pytest.approx(0.5)
    assert m["per_class"]["c"]["support"] == 0


def test_pooling_over_folds_is_not_the_mean_of_fold_scores():
    rows = [
        (0, "s1", "a", "a"),
        (0, "s1", "b", "a"),
        (1, "s2", "c", "c"),
        (1, "s2", "c", "c"),
        (1, "s2", "b", "b"),
    ]
    df = frame(rows)
    pooled = run_metrics(df)
    direct = classification_metrics(df["y_true"], df["y_pred"], NAMES)
    fold_mean = np.mean([classification_metrics(g["y_true"], g["y_pred"], NAMES)["uf1"] for _, g in df.groupby("fold")])
    assert pooled["uf1"] == pytest.approx(direct["uf1"])
    assert pooled["uf1"] != pytest.approx(fold_mean)
    assert [r["subject"] for r in pooled["per_subject"]] == ["s1", "s2"]
    assert pooled["per_subject"][0]["accuracy"] == pytest.approx(0.5)


def test_mean_and_sample_std_over_seeds():
    rows = [(0, "s1", "a", "a"), (0, "s1", "b", "b"), (1, "s2", "c", "c"), (1, "s2", "c", "a")]
    df = pd.concat([frame(rows, seed=1), frame([(f, s, t, t) for f, s, t, _ in rows], seed=2)])
    m = run_metrics(df, data_source={"dataset": "toy", "synthetic": True})
    assert m["over_seeds"]["accuracy"]["mean"] == pytest.approx((0.75 + 1.0) / 2)
    assert m["over_seeds"]["accuracy"]["std"] == pytest.approx(np.std([0.75, 1.0], ddof=1))
    assert m["seeds"] == [1, 2] and m["n_per_seed"] == 4
    assert m["data_source"]["synthetic"] is True
    assert np.array(m["confusion_matrix"]["rows_true_cols_pred"]).sum() == 8


def test_leakage_audit_picks_each_folds_best_epoch_and_says_it_is_inflated():
    # fold 0: epoch 1 right, epoch 2 wrong; fold 1: epoch 1 wrong, epoch 2 right -> cherry-picking is perfect
    audit = pd.concat(
        [
            frame([(0, "s1", "a", "a"), (1, "s2", "b", "c")], epoch=1),
            frame([(0, "s1", "a", "b"), (1, "s2", "b", "b")], epoch=2),
        ]
    )
    out = leakage_audit(audit, NAMES)
    assert out["label"] == INFLATED
    assert out["accuracy"] == 1.0
    assert out["final_epoch_same_audit"]["accuracy"] == 0.5
    assert out["inflation"]["accuracy"] == pytest.approx(0.5)
    assert {(c["fold"], c["epoch"]) for c in out["chosen_epochs"]} == {(0, 1), (1, 2)}


def test_read_predictions_rejects_files_that_are_not_predictions(tmp_path):
    bad = tmp_path / "p.csv"
    pd.DataFrame({"subject": ["s1"], "y_true": ["a"]}).to_csv(bad, index=False)
    with pytest.raises(InputError, match="not a predictions file"):
        read_predictions(bad)
    with pytest.raises(InputError, match="does not exist"):
        read_predictions(tmp_path / "missing.csv")
