"""benchmarks.naming's candidates and held-out figures (issue 23): an epoch of a training run as a checkpoint, and
each held-out sample's movement read from the synthetic set's ground truth."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from test_engine import make_cache

from benchmarks import naming
from mer.engine.checkpoint import load_checkpoint, read_card

SHIPPED = Path(__file__).resolve().parents[1] / "checkpoints" / "mer_dbfem_caffm.synth"


def test_sample_movements_follow_the_cache_order(tmp_path):
    cache = make_cache(tmp_path / "cache", subjects=3)
    index = pd.read_csv(cache / "index.csv", dtype={"sample": str})
    synth = tmp_path / "synth"
    synth.mkdir()
    truth = index[["subject", "sample"]].copy()
    truth["subject"] = [int(s[3:]) for s in truth["subject"]]  # mer synth writes subject numbers
    truth["movement"] = ["anatomy" if k % 3 == 0 else "gaussian" for k in range(len(truth))]
    truth.iloc[::-1].to_csv(synth / "ground_truth.csv", index=False)  # another order than the cache's
    settings = json.loads((cache / "settings.json").read_text())
    (cache / "settings.json").write_text(json.dumps({**settings, "root": str(synth)}))

    got = naming.sample_movements(cache, ["sub01", "sub03"])

    keep = index["subject"].isin(["sub01", "sub03"]).to_numpy()
    expected = np.array(["anatomy" if k % 3 == 0 else "gaussian" for k in range(len(index))])[keep]
    assert list(got) == list(expected)


def test_sample_movements_is_none_without_a_ground_truth(tmp_path):
    assert naming.sample_movements(make_cache(tmp_path / "cache"), ["sub01"]) is None


@pytest.mark.slow
def test_an_epoch_state_becomes_a_candidate_with_its_weights_and_no_borrowed_figures(tmp_path):
    model, card = load_checkpoint(SHIPPED)
    weights = {k: v.float() + (0.01 if v.is_floating_point() else 0) for k, v in model.state_dict().items()}
    state = tmp_path / "state_0912.pt"
    torch.save({"model": weights, "epoch": 3, "history": [{"epoch": 3, "val_score": 0.5}]}, state)

    out = naming.epoch_checkpoint(state, SHIPPED, tmp_path / "epoch3")

    got, got_card = load_checkpoint(out)
    key = next(k for k, v in weights.items() if v.is_floating_point() and v.numel() > 100)
    assert torch.allclose(got.state_dict()[key].float(), weights[key], atol=1e-2)  # fp16 storage
    assert not torch.allclose(got.state_dict()[key].float(), model.state_dict()[key].float(), atol=1e-3)
    assert "metrics" not in got_card and "calibration" not in got_card  # the source card's figures are not its own
    assert got_card["training"]["epochs_run"] == 3 and "Epoch 3" in read_card(out)["note"]
    assert got_card["class_names"] == card["class_names"]


def test_tables_of_separate_runs_combine_only_on_one_validation_set(tmp_path):
    first = pd.DataFrame({"candidate": ["a", "b"], "val_n": [80, 80], "val_uf1": [0.4, 0.5]})
    second = pd.DataFrame({"candidate": ["c"], "val_n": [80], "val_uf1": [0.6]})
    first.to_csv(tmp_path / "1.csv", index=False)
    second.to_csv(tmp_path / "2.csv", index=False)
    assert list(naming.combine([tmp_path / "1.csv", tmp_path / "2.csv"])["candidate"]) == ["a", "b", "c"]
    second.assign(val_n=60).to_csv(tmp_path / "3.csv", index=False)
    with pytest.raises(ValueError, match="different sizes"):
        naming.combine([tmp_path / "1.csv", tmp_path / "3.csv"])
    with pytest.raises(ValueError, match="named twice"):
        naming.combine([tmp_path / "1.csv", tmp_path / "1.csv"])


def test_plans_must_run_forwards(capsys):
    with pytest.raises(SystemExit):
        naming.main(["--prepare", "--plans", "4", "2"])
    assert "1 <= FIRST <= LAST" in capsys.readouterr().err


def test_without_a_validation_cache_the_card_temperature_calibrates():
    got = naming.calibration(SHIPPED.parent / "mer_dbfem_caffm.realfaces", None, None)
    card = read_card(SHIPPED.parent / "mer_dbfem_caffm.realfaces")
    assert got == {"temperature_from": "card", "val_temperature": card["calibration"]["temperature"]}
    assert naming.calibration(SHIPPED, None, None)["val_temperature"] == 1.0  # the synth card has no calibration


@pytest.mark.slow
def test_a_later_plan_puts_other_micro_expressions_into_the_same_real_videos(tmp_path):
    from benchmarks.realfaces import measured_truths

    first = measured_truths("gaussian", limit=120, plans=range(0, 1))
    fourth = measured_truths("gaussian", limit=120, plans=range(3, 4))
    again = measured_truths("gaussian", limit=120, plans=range(3, 4))

    def plan(truths):
        return [(t.name, e.onset, e.emotion) for t in truths for e in t.events]

    assert [t.name for t in first] == [t.name for t in fourth] and plan(first) != plan(fourth)
    assert plan(fourth) == plan(again)  # a plan is its seed: the same events every time
