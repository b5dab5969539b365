"""Training engine end to end on tiny caches written here in the real layout (mer_gfem, full-size input).

Proves: LOSO runs fold by fold and merges; every sample is predicted once by the fold that held its subject
out; no fold trains on, or selects with, its test subject (read logs, and a run whose test data were swapped
trains the same model); a killed run resumes to the same predictions; metrics are recomputed from
predictions.csv alone; holdout exports a loadable checkpoint whose card tells its data source.
"""

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from mer.cli import main as mer_main
from mer.engine.checkpoint import load_checkpoint
from mer.engine.config import PRESETS, build_config, parse_overrides
from mer.engine.data import CacheDataset, open_cache
from mer.engine.loso import holdout_fold, make_folds
from mer.engine.train import STOP_ENV, prepare_run
from mer.errors import InputError
from mer.spec import CASME2_5

MODEL = "mer_gfem"
SHAPE = (4, 282, 231)


def tiny(epochs: int = 2) -> list[str]:
    return [
        "--model",
        MODEL,
        "--epochs",
        str(epochs),
        "--batch-size",
        "4",
        "--device",
        "cpu",
        "--no-progress",
    ]


TINY = tiny()


# (u, v) motion of each class in the central blob: a global-pooling CNN can learn direction, not position;
# "others" moves sideways with a random sign, so the flip augmentation keeps every class what it is
MOTION = {
    "happiness": (0, -2),
    "disgust": (0, -1),
    "surprise": (0, 1),
    "repression": (0, 2),
    "others": (2, 0),
}


def make_cache(root: Path, subjects: int = 3, per_class: int = 1, seed: int = 0) -> Path:
    """Class-separable inputs: each class moves a central blob its own way (u, v, strain, mask) + noise."""
    (root / "inputs").mkdir(parents=True)
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0 : SHAPE[1], 0 : SHAPE[2]]
    blob = np.exp(-((yy - SHAPE[1] // 2) ** 2 + (xx - SHAPE[2] // 2) ** 2) / (2 * 40.0**2))
    rows = []
    for s in range(1, subjects + 1):
        for name in CASME2_5:
            u, v = MOTION[name]
            for k in range(per_class):
                x = rng.normal(0, 0.2, size=SHAPE).astype(np.float32)
                x[0] += u * rng.choice([-1, 1]) * blob
                x[1] += v * blob
                x[2] += np.hypot(u, v) * blob
                x[3] = blob > 0.1
                sample = f"EP{CASME2_5.index(name):02d}_{k:02d}"
                rel = f"inputs/sub{s:02d}_{sample}.npy"
                np.save(root / rel, x.astype(np.float16))
                rows.append(
                    {
                        "subject": f"sub{s:02d}",
                        "sample": sample,
                        "label": name,
                        "emotion": name,
                        "onset": 1,
                        "apex": 5,
                        "offset": 9,
                        "input": rel,
                    }
                )
    pd.DataFrame(rows).to_csv(root / "index.csv", index=False)
    settings = {
        "modality": "flow",
        "channels": ["u", "v", "strain", "au_mask"],
        "mean": [0, 0, 0, 0],
        "std": [1, 1, 1, 1],
        "label_set": "casme2_5",
        "class_names": list(CASME2_5),
        "dataset": "casme2",  # what `mer preprocess` writes for `mer synth` output (CASME II layout)
        "sheet": "/data/synth/CASME2-coding-synthetic.xlsx",
        "flow": "tvl1",
        "input_shape": list(SHAPE),
        "complete": True,
    }
    (root / "settings.json").write_text(json.dumps(settings))
    return root


def mer(*argv) -> int:
    return mer_main([str(a) for a in argv])


def read_csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype={"subject": str, "sample": str})


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return make_cache(tmp_path_factory.mktemp("cache") / "c")


@pytest.fixture(scope="module")
def loso_run(cache, tmp_path_factory) -> Path:
    """A 3-fold LOSO run trained as separate --fold processes, merged at the end."""
    run = tmp_path_factory.mktemp("runs") / "loso"
    assert mer("train", "--data", cache, "--out", run, "--protocol", "loso", "--fold", 0, *TINY) == 0
    assert mer("merge", run) == 2  # folds 1 and 2 are not done yet: merge refuses
    assert mer("train", "--data", cache, "--out", run, "--protocol", "loso", "--fold", 1, 2, *TINY) == 0
    assert mer("merge", run) == 0
    return run


# ------------------------------------------------------------------------------------------------ LOSO run
def test_loso_predicts_every_sample_once_from_the_fold_that_held_its_subject_out(cache, loso_run):
    index = open_cache(cache).index
    preds = read_csv(loso_run / "predictions.csv")
    probs = [f"prob_{c}" for c in CASME2_5]
    assert list(preds.columns) == ["fold", "seed", "subject", "sample", "y_true", "y_pred", *probs]
    assert len(preds) == len(index)
    assert set(zip(preds["subject"], preds["sample"], strict=True)) == set(
        zip(index["subject"], index["sample"], strict=True)
    )
    plan = json.loads((loso_run / "run.json").read_text())
    test_subject = {f["index"]: f["test_subjects"] for f in plan["folds"]}
    assert all(row.subject in test_subject[row.fold] for row in preds.itertuples())
    assert np.allclose(preds[probs].sum(axis=1), 1.0, atol=1e-5)
    assert (preds["y_pred"] == preds[probs].idxmax(axis=1).str[len("prob_") :]).all()


def test_no_fold_trains_or_selects_on_its_test_subject(cache, loso_run):
    plan = json.loads((loso_run / "run.json").read_text())
    index = open_cache(cache).index
    for fold in plan["folds"]:
        assert not set(fold["test_subjects"]) & set(fold["train_subjects"] + fold["val_subjects"])
        reads = json.loads((loso_run / "folds" / "seed1" / f"fold{fold['index']:02d}" / "reads.json").read_text())
        read_subjects = {role: {s.split("/")[0] for s in ids} for role, ids in reads.items()}
        assert read_subjects["train"] == set(fold["train_subjects"])  # read every training subject ...
        assert not read_subjects["train"] & set(fold["test_subjects"])  # ... and never the test subject
        assert read_subjects["val"] == set()
        assert read_subjects["test"] == read_subjects["audit"] == set(fold["test_subjects"])
        n_train = index["subject"].isin(fold["train_subjects"]).sum()
        assert len(reads["train"]) == n_train


def test_metrics_come_from_predictions_csv_and_evaluate_recomputes_them(loso_run, tmp_path):
    metrics = json.loads((loso_run / "metrics.json").read_text())
    assert metrics["data_source"]["dataset"] == "casme2" and metrics["data_source"]["synthetic"] is True
    assert "SYNTHETIC" in metrics["data_source"]["description"]
    assert metrics["folds"] == 3 and metrics["n_per_seed"] == 15
    for key in (
        "accuracy",
        "macro_precision",
        "macro_recall",
        "uf1",
        "uar",
        "per_class",
        "confusion_matrix",
        "per_subject",
        "over_seeds",
    ):
        assert key in metrics
    preds = read_csv(loso_run / "predictions.csv")
    assert metrics["accuracy"] == pytest.approx((preds["y_true"] == preds["y_pred"]).mean())
    assert [r["subject"] for r in metrics["per_subject"]] == ["sub01", "sub02", "sub03"]
    audit = metrics["leakage_audit"]
    assert audit["label"].startswith("inflated")
    assert audit["accuracy"] >= audit["final_epoch_same_audit"]["accuracy"]
    assert audit["epochs_evaluated"] == [1, 2]
    # no validation split: the headline is the final epoch, which the audit also saw
    assert audit["final_epoch_same_audit"]["uf1"] == pytest.approx(metrics["uf1"])

    # evaluate from the predictions alone: copy only predictions.csv somewhere else
    alone = tmp_path / "alone"
    alone.mkdir()
    shutil.copy(loso_run / "predictions.csv", alone / "predictions.csv")
    assert mer("evaluate", alone) == 0
    again = json.loads((alone / "metrics.json").read_text())
    for key in ("accuracy", "uf1", "uar", "confusion_matrix", "per_class", "per_subject"):
        assert again[key] == metrics[key]
    assert again["data_source"]["dataset"] == "unknown"  # no run.json beside it: says so rather than guess

    (loso_run / "metrics.json").unlink()
    assert mer("evaluate", loso_run) == 0
    assert json.loads((loso_run / "metrics.json").read_text()) == metrics


def test_killed_run_resumes_to_the_same_predictions(cache, loso_run, tmp_path, monkeypatch):
    run = tmp_path / "resumed"
    args = ["train", "--data", cache, "--out", run, "--protocol", "loso", "--fold", 0, *TINY]
    monkeypatch.setenv(STOP_ENV, "1")
    assert mer(*args) == 3  # "killed" after epoch 1
    fold = run / "folds" / "seed1" / "fold00"
    assert (fold / "state.pt").is_file() and not (fold / "done.json").exists()
    state = torch.load(fold / "state.pt", weights_only=True)  # plain tensors and numbers: nothing unpickles code
    assert state["epoch"] == 1 and len(state["history"]) == 1 and state["optimizer"]["state"]
    monkeypatch.delenv(STOP_ENV)
    assert mer(*args) == 0  # the same command continues from epoch 2
    ref = loso_run / "folds" / "seed1" / "fold00"
    for name in ("predictions.csv", "audit.csv"):
        got, want = read_csv(fold / name), read_csv(ref / name)
        assert got.drop(columns=[c for c in got if c.startswith("prob_")]).equals(
            want.drop(columns=[c for c in want if c.startswith("prob_")])
        )
        probs = [c for c in got if c.startswith("prob_")]
        assert np.allclose(got[probs], want[probs], atol=1e-5)
    losses = [h["train_loss"] for h in json.loads((fold / "history.json").read_text())]
    ref_losses = [h["train_loss"] for h in json.loads((ref / "history.json").read_text())]
    assert np.allclose(losses, ref_losses, atol=1e-5)
    assert not (fold / "state.pt").exists()  # training state is dropped once the fold is done

    # the same folder with other settings is refused rather than silently mixed
    assert mer("train", "--data", cache, "--out", run, "--fold", 0, *TINY, "--lr", "0.01") == 2


def test_selection_never_reads_the_test_subject(cache, tmp_path):
    """Swap the test subject's data for noise: training and validation-based selection must not change."""
    other = tmp_path / "cache_b"
    shutil.copytree(cache, other)
    index = open_cache(other).index
    rng = np.random.default_rng(99)
    for rel in index.loc[index["subject"] == "sub01", "input"]:
        np.save(other / rel, rng.normal(0, 3, size=SHAPE).astype(np.float16))
    outs = []
    for i, data in enumerate((cache, other)):
        run = tmp_path / f"run{i}"
        extra = ["--set", "save_fold_models=true", "patience=1"]
        assert mer("train", "--data", data, "--out", run, "--fold", 0, "--val-subjects", 1, *TINY, *extra) == 0
        outs.append(run / "folds" / "seed1" / "fold00")
    plan = json.loads((tmp_path / "run0" / "run.json").read_text())["folds"][0]
    assert plan["test_subjects"] == ["sub01"] and len(plan["val_subjects"]) == 1
    reads = json.loads((outs[0] / "reads.json").read_text())
    assert {s.split("/")[0] for s in reads["val"]} == set(plan["val_subjects"])
    assert not {s.split("/")[0] for s in reads["train"] + reads["val"]} & {"sub01"}

    h0, h1 = (json.loads((o / "history.json").read_text()) for o in outs)
    assert [(h["train_loss"], h["val_loss"], h["val_score"]) for h in h0] == [
        (h["train_loss"], h["val_loss"], h["val_score"]) for h in h1
    ]
    d0, d1 = (json.loads((o / "done.json").read_text()) for o in outs)
    assert d0["selected_epoch"] == d1["selected_epoch"] and d0["epochs_run"] == d1["epochs_run"]
    m0, m1 = (load_checkpoint(o / "model.safetensors")[0].state_dict() for o in outs)
    assert all(torch.equal(m0[k], m1[k]) for k in m0)
    p0, p1 = (read_csv(o / "predictions.csv") for o in outs)
    assert not np.allclose(p0.filter(like="prob_"), p1.filter(like="prob_"))  # the swap did reach the test


# ------------------------------------------------------------------------------------------------ holdout
def test_holdout_with_two_seeds_exports_a_checkpoint_with_an_honest_card(cache, tmp_path):
    run, export = tmp_path / "holdout", tmp_path / "ckpt" / "model.safetensors"
    args = ["--protocol", "holdout", "--holdout-subjects", 1, "--seeds", 1, 2, "--export", export]
    assert mer("train", "--data", cache, "--out", run, *tiny(1), *args) == 0
    metrics = json.loads((run / "metrics.json").read_text())
    held = metrics["held_out_subjects"]
    assert len(held) == 1 and metrics["protocol"] == "holdout" and metrics["seeds"] == [1, 2]
    per_seed = [metrics["per_seed"][s]["uf1"] for s in ("1", "2")]
    assert metrics["over_seeds"]["uf1"]["mean"] == pytest.approx(np.mean(per_seed))
    assert metrics["over_seeds"]["uf1"]["std"] == pytest.approx(np.std(per_seed, ddof=1))
    preds = read_csv(run / "predictions.csv")
    assert len(preds) == 2 * 5 and set(preds["subject"]) == set(held)

    model, card = load_checkpoint(export)
    assert card["architecture"] == MODEL and card["class_names"] == list(CASME2_5)
    assert card["input"]["size"] == list(SHAPE) and card["input"]["modality"] == "flow"
    assert card["synthetic"] is True and "synthetic" in card["metrics"]["data_source"]
    assert card["protocol"]["test_subjects"] == held
    assert not set(held) & set(card["protocol"]["train_subjects"])
    assert card["metrics"]["uf1"] == pytest.approx(metrics["per_seed"]["1"]["uf1"])  # the exported seed's own
    assert card["weights"]["storage_dtype"] == "float16"
    assert card["code_version"]["mer"] and "synthetic" in card["note"] and "seed 1 of [1, 2]" in card["note"]
    assert card["training"]["epochs"] == 1 and card["training"]["seed"] == 1
    # how much data, and nothing local to the training machine (the card ships with the weights)
    n_held = int(open_cache(cache).index["subject"].isin(held).sum())
    assert card["protocol"]["samples"]["test"] == n_held == card["metrics"]["n"]
    assert card["protocol"]["samples"]["train"] > 0
    assert str(cache) not in json.dumps(card) and card["preprocessing"]["sheet"].endswith(".xlsx")
    # the exported model is the evaluated one: it reproduces seed 1's held-out probabilities (fp16 storage)
    c = open_cache(cache)
    ds = CacheDataset(c, c.index[c.index["subject"].isin(held)])
    with torch.no_grad():
        probs = torch.softmax(model(torch.stack([ds[i][0] for i in range(len(ds))])), 1).numpy()
    seed1 = preds[preds["seed"] == 1]
    assert list(seed1["sample"]) == list(ds.rows["sample"])
    assert np.allclose(probs, seed1.filter(like="prob_").to_numpy(), atol=2e-2)


# ------------------------------------------------------------------------------------------------ pieces
def test_augmentation_moves_every_channel_together_and_flips_u(tmp_path):
    root = tmp_path / "c"
    (root / "inputs").mkdir(parents=True)
    x = np.zeros(SHAPE, np.float32)
    x[:, 100, 60] = [2.0, 1.0, 3.0, 1.0]  # one moving pixel, u to the right
    np.save(root / "inputs/a.npy", x.astype(np.float16))
    pd.DataFrame([{"subject": "s1", "sample": "a", "label": "others", "input": "inputs/a.npy"}]).to_csv(
        root / "index.csv", index=False
    )
    settings = {
        "channels": ["u", "v", "strain", "au_mask"],
        "mean": [0] * 4,
        "std": [1] * 4,
        "class_names": list(CASME2_5),
        "complete": True,
    }
    (root / "settings.json").write_text(json.dumps(settings))
    ds = CacheDataset(open_cache(root), open_cache(root).index, augment=True, max_shift=4, hflip=True, seed=3)
    flipped = 0
    for epoch in range(12):
        ds.set_epoch(epoch)
        out = ds[0][0].numpy()
        where = [np.unravel_index(np.abs(out[c]).argmax(), out[c].shape) for c in range(4)]
        assert len(set(where)) == 1  # registered: every channel moved the same way
        y, xcol = where[0]
        assert abs(y - 100) <= 4
        mirrored = abs(xcol - (SHAPE[2] - 1 - 60)) <= 4
        assert mirrored or abs(xcol - 60) <= 4
        assert out[0, y, xcol] == (-2.0 if mirrored else 2.0)  # the flip turns rightward motion leftward
        assert out[1:, y, xcol].tolist() == [1.0, 3.0, 1.0]
        flipped += mirrored
    assert 0 < flipped < 12
    ds.set_epoch(5)
    assert torch.equal(ds[0][0], ds[0][0])  # same (seed, epoch, sample): same draw


def test_config_presets_flags_and_overrides():
    paper = build_config("paper")
    assert (paper.optimizer, paper.lr, paper.step_size, paper.gamma, paper.batch_size, paper.epochs) == (
        "adam",
        1e-3,
        100,
        0.9,
        64,
        500,
    )
    cfg = build_config("paper", parse_overrides(["epochs=3", "seeds=1,2,3", "amp=true", 'model_kwargs={"a": 1}']))
    assert (cfg.epochs, cfg.seeds, cfg.amp, cfg.model_kwargs, cfg.lr) == (3, [1, 2, 3], True, {"a": 1}, 1e-3)
    assert set(PRESETS) == {"fast", "paper"}
    with pytest.raises(InputError, match="unknown setting"):
        parse_overrides(["learning_rate=1"])
    with pytest.raises(InputError, match="cannot read"):
        parse_overrides(["epochs=many"])
    with pytest.raises(InputError, match="needs a validation split"):
        build_config("fast", {"patience": 3})


def test_splits_are_subject_disjoint_and_seeded():
    subjects = [f"sub{i:02d}" for i in range(1, 11)]
    folds = make_folds(subjects, "loso", val_subjects=2, split_seed=0)
    assert [f.test_subjects for f in folds] == [(s,) for s in subjects]
    for f in folds:
        assert len(f.val_subjects) == 2 and len(f.train_subjects) == 7
        assert set(f.train_subjects) | set(f.val_subjects) | set(f.test_subjects) == set(subjects)
    a, b = holdout_fold(subjects, 3, seed=5), holdout_fold(subjects, 3, seed=5)
    assert a == b and len(a.test_subjects) == 3 and not set(a.test_subjects) & set(a.train_subjects)
    assert holdout_fold(subjects, 0, seed=5).test_subjects.__len__() == 2  # a fifth by default
    with pytest.raises(InputError):
        make_folds(["sub01"], "loso")


def test_a_run_refuses_a_cache_that_changed_under_it(cache, tmp_path):
    data = tmp_path / "c"
    shutil.copytree(cache, data)
    cfg = build_config("fast", {"model": MODEL})
    prepare_run(cfg, data, tmp_path / "run")
    prepare_run(cfg, data, tmp_path / "run")  # unchanged: fine
    index = pd.read_csv(data / "index.csv")
    index.iloc[:-1].to_csv(data / "index.csv", index=False)  # one sample fewer, same subjects and classes
    with pytest.raises(InputError, match="samples_digest"):
        prepare_run(cfg, data, tmp_path / "run")


def test_a_fold_sharing_a_subject_is_refused_even_without_asserts():
    """The disjointness check is a real check (ValueError), not an assert that python -O removes."""
    from mer.engine.loso import Fold

    with pytest.raises(ValueError, match="more than one"):
        Fold(0, ("sub01",), ("sub01", "sub02")).check_disjoint()
    with pytest.raises(ValueError, match="sub03"):
        Fold.from_dict({"index": 1, "test_subjects": ["sub01"], "train_subjects": ["sub03"], "val_subjects": ["sub03"]})


def test_auxiliary_losses_go_through_the_one_loop(cache, tmp_path):
    """MJFN's four-head loss: the loop calls forward_train + aux_losses; the history's loss includes the terms."""
    from mer.engine.train import Trainer, fold_data, make_trainer, training_loss

    cfg = build_config("fast", {"model": "mer_mjfn", "epochs": 1, "batch_size": 4})
    c = open_cache(cache)
    fold = make_folds(c.index["subject"].tolist(), "loso")[0]
    data = fold_data(cfg, c, fold, seed=1)
    tr: Trainer = make_trainer(cfg, c, data, 1, torch.device("cpu"))
    x, y, _ = next(iter(torch.utils.data.DataLoader(data.train, batch_size=4)))
    loss, logits = training_loss(tr, x, y, {})
    plain = torch.nn.functional.cross_entropy(logits, y)
    assert loss.item() > plain.item() + 0.5  # + the four heads' cross-entropies (each about ln 5 at init)
    run = tmp_path / "mjfn"
    assert mer("train", "--data", cache, "--out", run, "--fold", 0, "--model", "mer_mjfn", "--epochs", 1,
               "--batch-size", 4, "--device", "cpu", "--no-progress") == 0  # fmt: skip
    assert (run / "folds" / "seed1" / "fold00" / "predictions.csv").is_file()
