"""Calibration: temperature scaling fitted on the validation subjects lowers NLL and ECE on a known miscalibrated
model, and a training run's card carries a temperature that the test subject had no say in."""

import json
import shutil

import numpy as np
import pytest
from test_engine import SHAPE, make_cache, mer, tiny

from mer.engine.calibration import (
    apply_temperature,
    calibration_entry,
    expected_calibration_error,
    fit_temperature,
    nll,
)
from mer.engine.checkpoint import load_checkpoint
from mer.engine.data import open_cache


def overconfident(n: int, seed: int, sharpen: float = 3.0) -> tuple[np.ndarray, np.ndarray]:
    """Labels drawn from softmax(z), reported as softmax(sharpen * z): calibrated only at T = sharpen."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 1.5, size=(n, 5))
    true = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    labels = np.array([rng.choice(5, p=p) for p in true])
    shown = np.exp(sharpen * logits)
    return shown / shown.sum(1, keepdims=True), labels


def test_temperature_undoes_a_known_overconfidence_and_keeps_the_argmax():
    val_probs, val_labels = overconfident(4000, seed=0)
    test_probs, test_labels = overconfident(4000, seed=1)
    t = fit_temperature(val_probs, val_labels)
    assert t == pytest.approx(3.0, rel=0.1)
    fixed = apply_temperature(test_probs, t)
    assert np.allclose(fixed.sum(1), 1) and (fixed.argmax(1) == test_probs.argmax(1)).all()
    assert nll(fixed, test_labels) < nll(test_probs, test_labels) - 0.2
    before, after = expected_calibration_error(test_probs, test_labels), expected_calibration_error(fixed, test_labels)
    assert before > 0.1 and after < 0.03
    # a calibrated model keeps T near 1
    calibrated, labels = overconfident(4000, seed=2, sharpen=1.0)
    assert fit_temperature(calibrated, labels) == pytest.approx(1.0, rel=0.1)


def test_ece_by_hand_and_the_entry_reads_the_test_data_only_after_fitting():
    probs = np.array([[0.9, 0.1], [0.9, 0.1], [0.6, 0.4], [0.6, 0.4]])
    labels = np.array([0, 1, 0, 0])  # bin 0.9: accuracy 0.5 (gap 0.4); bin 0.6: accuracy 1 (gap 0.4)
    assert expected_calibration_error(probs, labels) == pytest.approx(0.4)
    val_probs, val_labels = overconfident(500, seed=3)
    test_probs, test_labels = overconfident(500, seed=4)
    a = calibration_entry(val_probs, val_labels, test_probs, test_labels, fitted_on="v", ece_data="t")
    shuffled = np.random.default_rng(0).permutation(5)
    b = calibration_entry(val_probs, val_labels, test_probs[:, shuffled], test_labels, fitted_on="v", ece_data="t")
    assert a["temperature"] == b["temperature"] and a["ece_before"] != b["ece_before"]
    assert a["ece_after"] < a["ece_before"] and a["nll_fit_after"] <= a["nll_fit_before"]


def test_a_holdout_run_with_validation_subjects_stores_a_temperature_the_test_subject_never_set(tmp_path):
    cache = make_cache(tmp_path / "cache", subjects=4)
    other = tmp_path / "cache_b"  # the same data, the test subject's inputs swapped for noise
    shutil.copytree(cache, other)
    rng = np.random.default_rng(5)
    cards = []
    for i, data in enumerate((cache, other)):
        run, export = tmp_path / f"run{i}", tmp_path / f"model{i}.safetensors"
        args = ["--protocol", "holdout", "--holdout-subjects", 1, "--val-subjects", 1, "--export", export]
        if i == 1:
            held = json.loads((tmp_path / "run0" / "run.json").read_text())["folds"][0]["test_subjects"]
            index = open_cache(other).index
            for rel in index.loc[index["subject"].isin(held), "input"]:
                np.save(other / rel, rng.normal(0, 3, size=SHAPE).astype(np.float16))
        assert mer("train", "--data", data, "--out", run, *tiny(1), *args) == 0
        cards.append(load_checkpoint(export)[1])
    plan = json.loads((tmp_path / "run0" / "run.json").read_text())["folds"][0]
    first, second = (c["calibration"] for c in cards)
    assert first["temperature"] > 0 and first["temperature"] == second["temperature"]
    assert plan["val_subjects"][0] in first["fitted_on"] and plan["test_subjects"][0] in first["ece_data"]
    assert plan["test_subjects"][0] not in first["fitted_on"]
    assert first["n_fit"] == 5 and first["n_ece"] == 5
    assert first["ece_before"] != second["ece_before"]  # the swap did reach the measured side
