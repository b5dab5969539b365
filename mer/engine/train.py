"""Training runs: one model per (seed, fold), resumable at epoch ends, merged into ``predictions.csv``.

Run folder::

    RUN/config.json              resolved TrainConfig + cache path (a restart must resolve to the same)
    RUN/run.json                 the plan: folds (train/val/test subjects), seeds, class names, data source
    RUN/folds/seedS/foldKK/      state.pt (resume: torch.save of plain tensors and numbers, read back with
                                 weights_only=True), best.pt (validation pick),
                                 history.json, reads.json (which samples each role read), audit.csv,
                                 predictions.csv, done.json
    RUN/predictions.csv          all folds and seeds: the single source of truth
    RUN/audit.csv                per-epoch test predictions, for the leakage audit only
    RUN/metrics.json             computed from the two CSVs

Every model trains through the same loop: a model with auxiliary objectives (FR's proposal loss, MJFN's four
heads, MOL's flow and landmark heads) defines ``forward_train(x) -> (logits, outputs)``, ``aux_losses(outputs,
targets, y) -> {name: loss}`` and ``aux_targets`` (the targets its dataset supplies); the loop adds those terms to
its cross-entropy. ``lbptop_svm`` (scikit-learn) is fitted per fold with the same folds and outputs.

The test subjects of a fold are read for two things only: the final predictions, and the audit (per-epoch
predictions that no decision reads). Selection uses ``val_subjects`` drawn from the training subjects.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.utils.data import DataLoader

from mer.data.cache import ensure_modality
from mer.engine.calibration import calibration_entry
from mer.engine.checkpoint import code_version, load_checkpoint, save_checkpoint
from mer.engine.config import TrainConfig
from mer.engine.data import Cache, CacheDataset, open_cache
from mer.engine.device import autocast, resolve_device
from mer.engine.loso import Fold, make_folds
from mer.engine.metrics import PREDICTION_DTYPES, classification_metrics, read_predictions, run_metrics
from mer.errors import InputError
from mer.io import write_atomic, write_json
from mer.spec import MODALITY_CFGS, input_size

STOP_ENV = "MER_STOP_AFTER_EPOCHS"  # test hook: behave as if killed right after this epoch finished


class TrainingStopped(RuntimeError):
    """Raised when ``MER_STOP_AFTER_EPOCHS`` asks the run to stop (simulates a kill; rerun to resume)."""


def _derived_seed(*parts: int) -> int:
    return int(np.random.SeedSequence(list(parts)).generate_state(1)[0])


def fold_dir(run: Path, seed: int, fold: int) -> Path:
    return Path(run) / "folds" / f"seed{seed}" / f"fold{fold:02d}"


# ---------------------------------------------------------------------------------------------- the plan
def data_source(cache: Cache) -> dict[str, Any]:
    """Where the figures come from: dataset name, whether it is synthetic, the cache and its input kind."""
    kind = "SYNTHETIC data from mer synth" if cache.synthetic else "real data"
    return {
        "description": f"{cache.dataset} ({kind})",
        "dataset": cache.dataset,
        "synthetic": cache.synthetic,
        "cache": str(cache.root.resolve()),
        "modality": cache.settings.get("modality"),
        "label_set": cache.settings.get("label_set"),
    }


def samples_digest(cache: Cache) -> str:
    """SHA-256 over (subject, sample, label, input) of every sample: changes when the cache's samples do."""
    rows = sorted(zip(*(cache.index[c].astype(str) for c in ("subject", "sample", "label", "input")), strict=True))
    return hashlib.sha256(json.dumps(rows).encode()).hexdigest()


def prepare_run(cfg: TrainConfig, data: str | Path, out: str | Path) -> tuple[Cache, dict[str, Any]]:
    """Open the cache, write (or check) ``RUN/config.json`` and ``RUN/run.json``; return cache and plan."""
    cache = open_cache(data)
    out = Path(out)
    config = {"data": str(Path(data).resolve()), "train": cfg.to_dict()}
    cfg_path = out / "config.json"
    if cfg_path.is_file():
        old = json.loads(cfg_path.read_text())
        if old != config:
            diff = sorted(
                k for k in set(old["train"]) | set(config["train"]) if old["train"].get(k) != config["train"].get(k)
            )
            if old.get("data") != config["data"]:
                diff.append("data")
            raise InputError(
                f"{out} holds a run with different settings ({', '.join(diff)}); rerun with the "
                "same command to resume it, or choose a new --out"
            )
    folds = make_folds(
        cache.index["subject"].tolist(),
        cfg.protocol,
        holdout_subjects=cfg.holdout_subjects,
        val_subjects=cfg.val_subjects,
        split_seed=cfg.split_seed,
    )
    plan = {
        "protocol": cfg.protocol,
        "seeds": list(cfg.seeds),
        "folds": [f.to_dict() for f in folds],
        "class_names": cache.class_names,
        "samples_digest": samples_digest(cache),
        "data_source": data_source(cache),
        "input_shape": list(cache.input_shape),
        "cache_settings": cache.settings,
        "selection": (
            f"best validation {cfg.select_metric} on {cfg.val_subjects} training subject(s) per fold"
            if cfg.val_subjects
            else "fixed schedule: the model after the final epoch"
        ),
    }
    out.mkdir(parents=True, exist_ok=True)
    if (out / "run.json").is_file():
        old_plan = json.loads((out / "run.json").read_text())
        changed = [k for k in ("folds", "class_names", "samples_digest") if old_plan.get(k) != plan[k]]
        if changed:
            raise InputError(
                f"the cache {data} changed since {out} was started ({', '.join(changed)} differ; was it "
                "rebuilt?); choose a new --out"
            )
    else:
        (out / "run.json").write_text(json.dumps({**plan, "code_version": code_version()}, indent=2) + "\n")
    if not cfg_path.is_file():
        cfg_path.write_text(json.dumps(config, indent=2) + "\n")
    return cache, plan


# -------------------------------------------------------------------------------------------- model and state
def model_modality(name: str) -> str | None:
    """The input modality a registered model reads (``pretrained_cfg["modality"]``); None for a plain timm model."""
    import timm

    import mer  # noqa: F401  (registers mer_* in timm)
    from mer.models.lbptop import CLASSICAL_MODELS

    if name in CLASSICAL_MODELS:
        return CLASSICAL_MODELS[name].pretrained_cfg["modality"]
    if not timm.is_model(name):
        known = [*timm.list_models("mer_*"), *CLASSICAL_MODELS]
        raise InputError(f"unknown model {name!r}; mer models: {', '.join(known)}")
    cfg = timm.models.get_pretrained_cfg(name)
    return getattr(cfg, "modality", None) if cfg is not None else None


def build_model(cfg: TrainConfig, num_classes: int, input_shape: tuple[int, ...]) -> nn.Module:
    import timm

    import mer  # noqa: F401  (registers mer_* in timm)

    model_modality(cfg.model)  # InputError for an unknown name
    model = timm.create_model(cfg.model, pretrained=False, num_classes=num_classes, **cfg.model_kwargs)
    declared = getattr(model, "pretrained_cfg", {}).get("input_size")
    if cfg.model.startswith("mer_") and declared is not None and tuple(declared) != tuple(input_shape):
        raise InputError(f"{cfg.model} expects input {list(declared)}, the cache holds {list(input_shape)}")
    if cfg.init:  # fine-tuning: the same architecture and classes, weights from an earlier run's checkpoint
        model.load_state_dict(load_checkpoint(cfg.init)[0].state_dict())
    return model


def build_optimizer(cfg: TrainConfig, model: nn.Module) -> torch.optim.Optimizer:
    params = model.parameters()
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)


def save_state(path: Path, state: dict[str, Any]) -> None:
    """Atomically ``torch.save`` a training state: tensors, numbers, strings, lists and dicts only."""
    write_atomic(path, lambda tmp: torch.save(state, tmp))


def load_state(path: Path) -> dict[str, Any]:
    """A state written by :func:`save_state`; ``weights_only=True`` unpickles no code."""
    return torch.load(path, map_location="cpu", weights_only=True)


# ------------------------------------------------------------------------------------------------- loops
def _autocast(device: torch.device, amp: bool):
    """``--amp``: the device's reduced precision (float16 on CUDA, bfloat16 on a CPU), else fp32."""
    return autocast(device, ("fp16" if device.type == "cuda" else "bf16") if amp else "fp32")


@torch.no_grad()
def predict(
    model: nn.Module, dataset: CacheDataset, device: torch.device, batch_size: int, amp: bool = False
) -> tuple[np.ndarray, np.ndarray, float]:
    """Softmax probabilities (N, C) in dataset order, labels (N,), mean cross-entropy.

    Leaves the model in train mode if it was; draws nothing from the global RNG."""
    was_training = model.training
    model.eval()
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, generator=torch.Generator().manual_seed(0))
    probs, labels, loss_sum = [], [], 0.0
    for x, y, *_ in loader:
        with _autocast(device, amp):
            logits = model(x.to(device))
        logits = logits.float()
        loss_sum += float(nn.functional.cross_entropy(logits, y.to(device), reduction="sum"))
        probs.append(torch.softmax(logits, dim=1).cpu().numpy())
        labels.append(y.numpy())
    model.train(was_training)
    n = max(1, len(dataset))
    return np.concatenate(probs), np.concatenate(labels), loss_sum / n


def prediction_frame(
    ds: CacheDataset,
    probs: np.ndarray,
    class_names: list[str],
    fold: int,
    seed: int,
    epoch: int | None = None,
) -> pd.DataFrame:
    pred = probs.argmax(1)
    df = pd.DataFrame(
        {
            "fold": fold,
            "seed": seed,
            "subject": ds.rows["subject"].values,
            "sample": ds.rows["sample"].values,
            "y_true": ds.rows["label"].values,
            "y_pred": [class_names[i] for i in pred],
        }
    )
    if epoch is not None:
        df.insert(2, "epoch", epoch)
    for i, name in enumerate(class_names):
        df[f"prob_{name}"] = probs[:, i]
    return df


def class_weight_tensor(labels: np.ndarray, num_classes: int) -> torch.Tensor:
    """Inverse-frequency weights n / (C_present * n_c); 0 for classes absent from training."""
    counts = np.bincount(labels, minlength=num_classes).astype(np.float64)
    present = counts > 0
    w = np.zeros(num_classes)
    w[present] = counts.sum() / (present.sum() * counts[present])
    return torch.tensor(w, dtype=torch.float32)


def _score(metric: str, probs: np.ndarray, labels: np.ndarray, loss: float, class_names: list[str]) -> float:
    if metric == "loss":
        return -loss
    m = classification_metrics([class_names[i] for i in labels], [class_names[i] for i in probs.argmax(1)], class_names)
    return m[metric]


# ------------------------------------------------------------------------------------------------- one fold
@dataclass
class FoldData:
    """A fold's three datasets (``val`` None without validation subjects) and the modality they read."""

    train: CacheDataset
    val: CacheDataset | None
    test: CacheDataset
    modality: str | None


def fold_data(cfg: TrainConfig, cache: Cache, fold: Fold, seed: int) -> FoldData:
    """The datasets of ``fold`` in the model's modality (derived once if the cache lacks it)."""
    idx = cache.index
    rows = {role: idx[idx["subject"].isin(subs)] for role, subs in fold.roles().items()}
    if rows["train"].empty or rows["test"].empty:
        raise InputError(f"fold {fold.index} has no training or no test samples")
    modality = model_modality(cfg.model)
    if modality is not None:
        ensure_modality(cache.root, modality, progress=False)
    train = CacheDataset(
        cache, rows["train"], augment=cfg.augment, max_shift=cfg.max_shift, hflip=cfg.hflip, seed=seed,
        modality=modality,
    )  # fmt: skip
    val = CacheDataset(cache, rows["val"], modality=modality) if len(rows["val"]) else None
    return FoldData(train, val, CacheDataset(cache, rows["test"], modality=modality), modality)


@dataclass
class FoldState:
    """What a resumed fold continues from (saved with the model and optimiser at epoch ends)."""

    epoch: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    best: dict[str, Any] = field(default_factory=lambda: {"epoch": 0, "score": -math.inf})
    seen: dict[str, set[str]] = field(default_factory=lambda: {r: set() for r in ("train", "val", "audit", "test")})
    stopped_early: bool = False

    def log_reads(self, role: str, ds: CacheDataset, indices: Any) -> None:
        ids = ds.sample_ids()
        self.seen[role].update(ids[int(i)] for i in indices)

    def reads(self) -> dict[str, list[str]]:
        return {role: sorted(v) for role, v in self.seen.items()}


@dataclass
class Trainer:
    """The model of one fold with its optimiser, schedule, scaler and loss."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: Any
    scaler: Any
    criterion: nn.Module
    device: torch.device

    def state(self, fs: FoldState) -> dict[str, Any]:
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict() if self.scaler.is_enabled() else None,
            "epoch": fs.epoch,
            "history": fs.history,
            "best": fs.best,
            "reads": fs.reads(),
            "stopped_early": fs.stopped_early,
        }

    def restore(self, state: dict[str, Any]) -> FoldState:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        if state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        seen = {role: set(v) for role, v in state["reads"].items()}
        return FoldState(state["epoch"], state["history"], state["best"], seen, state["stopped_early"])


def make_trainer(cfg: TrainConfig, cache: Cache, data: FoldData, seed: int, device: torch.device) -> Trainer:
    torch.manual_seed(seed)
    shape = cache.input_shape if data.modality in (None, cache.settings.get("modality")) else input_size(data.modality)
    model = build_model(cfg, len(cache.class_names), shape).to(device)
    optimizer = build_optimizer(cfg, model)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=cfg.step_size, gamma=cfg.gamma)
    scaler = torch.amp.GradScaler("cuda", enabled=cfg.amp and device.type == "cuda")
    names = cache.class_names
    weight = class_weight_tensor(data.train.labels(), len(names)).to(device) if cfg.class_weights else None
    criterion = nn.CrossEntropyLoss(weight=weight, label_smoothing=cfg.label_smoothing)
    return Trainer(model, optimizer, scheduler, scaler, criterion, device)


def training_loss(tr: Trainer, x: torch.Tensor, y: torch.Tensor, targets: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """(loss, logits) of one batch. A model with ``aux_losses`` (FR, MJFN, MOL) runs ``forward_train`` and adds
    the terms it returns to the cross-entropy: one loop for every model."""
    model = tr.model
    if hasattr(model, "aux_losses"):
        logits, outputs = model.forward_train(x)
        terms = model.aux_losses(outputs, {k: v.to(tr.device) for k, v in targets.items()}, y)
        return tr.criterion(logits.float(), y) + sum(terms.values()), logits
    logits = model(x)
    return tr.criterion(logits.float(), y), logits


def train_epoch(cfg: TrainConfig, tr: Trainer, data: FoldData, fs: FoldState, seed: int, epoch: int, bar) -> dict:
    """One pass over the training subjects; returns the epoch's record (lr, train loss and accuracy)."""
    torch.manual_seed(_derived_seed(seed, epoch))  # dropout etc.: depends on (seed, epoch) only
    data.train.set_epoch(epoch)
    n = len(data.train)
    loader = DataLoader(
        data.train,
        batch_size=cfg.batch_size,
        shuffle=True,
        num_workers=cfg.num_workers,
        generator=torch.Generator().manual_seed(_derived_seed(seed, epoch, 1)),
        pin_memory=tr.device.type == "cuda",
        drop_last=n % cfg.batch_size == 1 and n > 1,  # BatchNorm needs 2+
    )
    loss_sum, correct, count = 0.0, 0, 0
    for batch in loader:
        x, y, i = batch[:3]
        fs.log_reads("train", data.train, i)
        x, y = x.to(tr.device, non_blocking=True), y.to(tr.device, non_blocking=True)
        tr.optimizer.zero_grad(set_to_none=True)
        with _autocast(tr.device, cfg.amp):
            loss, logits = training_loss(tr, x, y, batch[3] if len(batch) > 3 else {})
        tr.scaler.scale(loss).backward()
        tr.scaler.step(tr.optimizer)
        tr.scaler.update()
        loss_sum += float(loss.detach()) * len(y)
        correct += int((logits.argmax(1) == y).sum())
        count += len(y)
        bar.set_postfix(loss=f"{loss_sum / count:.4f}", lr=f"{tr.scheduler.get_last_lr()[0]:.2e}")
    lr = tr.scheduler.get_last_lr()[0]
    tr.scheduler.step()
    return {"epoch": epoch, "lr": lr, "train_loss": loss_sum / count, "train_accuracy": correct / count}


def after_epoch(cfg: TrainConfig, tr: Trainer, data: FoldData, fs: FoldState, record: dict, paths: dict) -> bool:
    """Validation pick and early stop, then the audit; returns whether this was the last epoch."""
    names, fold, seed, epoch = paths["names"], paths["fold"], paths["seed"], record["epoch"]
    if data.val is not None:
        probs, labels, vloss = predict(tr.model, data.val, tr.device, cfg.batch_size, cfg.amp)
        fs.log_reads("val", data.val, range(len(data.val)))
        score = _score(cfg.select_metric, probs, labels, vloss, names)
        record.update(val_loss=vloss, val_score=score)
        if score > fs.best["score"]:
            fs.best = {"epoch": epoch, "score": score}
            save_state(paths["best"], {"model": tr.model.state_dict(), "epoch": epoch})
        fs.stopped_early = bool(cfg.patience) and epoch - fs.best["epoch"] >= cfg.patience
    last = epoch == cfg.epochs or fs.stopped_early
    if last or (cfg.audit_every and epoch % cfg.audit_every == 0):
        probs, _, _ = predict(tr.model, data.test, tr.device, cfg.batch_size, cfg.amp)
        fs.log_reads("audit", data.test, range(len(data.test)))
        frame = prediction_frame(data.test, probs, names, fold, seed, epoch=epoch)
        frame.to_csv(paths["audit"], mode="a", header=not paths["audit"].is_file(), index=False)
    return last


def train_fold(
    cfg: TrainConfig,
    cache: Cache,
    fold: Fold,
    seed: int,
    run: str | Path,
    device: str | torch.device = "cpu",
    progress: bool = True,
) -> Path:
    """Train (or resume, or skip if done) one (seed, fold); write its outputs in its folder; return it."""
    from tqdm.auto import tqdm

    from mer.models.lbptop import CLASSICAL_MODELS

    device = torch.device(device)
    out = fold_dir(Path(run), seed, fold.index)
    if (out / "done.json").is_file():
        return out
    out.mkdir(parents=True, exist_ok=True)
    if cfg.model in CLASSICAL_MODELS:
        return fit_classical_fold(cfg, cache, fold, seed, out)
    data = fold_data(cfg, cache, fold, seed)
    tr = make_trainer(cfg, cache, data, seed, device)
    data.train.targets = tuple(getattr(tr.model, "aux_targets", ()))  # what the model's auxiliary heads learn
    paths = {"state": out / "state.pt", "best": out / "best.pt", "audit": out / "audit.csv"}
    paths |= {"names": cache.class_names, "fold": fold.index, "seed": seed}
    fs = tr.restore(load_state(paths["state"])) if paths["state"].is_file() else FoldState()
    if paths["audit"].is_file():  # drop audit rows of epochs after the last saved state (they will be redone)
        audit = pd.read_csv(paths["audit"], dtype={"subject": str, "sample": str})
        audit[audit["epoch"] <= fs.epoch].to_csv(paths["audit"], index=False)
    stop_after = int(os.environ.get(STOP_ENV, "0") or 0)
    desc = f"seed {seed} fold {fold.index} (test {','.join(fold.test_subjects)})"
    bar = tqdm(total=cfg.epochs, initial=fs.epoch, desc=desc, disable=not progress, leave=False)
    tr.model.train()
    for epoch in range(fs.epoch + 1, 0 if fs.stopped_early else cfg.epochs + 1):
        t0 = time.perf_counter()
        record = train_epoch(cfg, tr, data, fs, seed, epoch, bar)
        last = after_epoch(cfg, tr, data, fs, record, paths)
        record["seconds"] = time.perf_counter() - t0
        fs.history.append(record)
        fs.epoch = epoch
        bar.update(1)
        if last or epoch % cfg.checkpoint_every == 0:
            save_state(paths["state"], tr.state(fs))
        if last:
            break
        if stop_after and epoch >= stop_after:
            bar.close()
            raise TrainingStopped(
                f"stopped after epoch {epoch} ({STOP_ENV}={stop_after}); run the same command again to resume"
            )
    bar.close()
    return finish_fold(cfg, cache, fold, seed, out, tr, data, fs)


def finish_fold(
    cfg: TrainConfig, cache: Cache, fold: Fold, seed: int, out: Path, tr: Trainer, data: FoldData, fs: FoldState
) -> Path:
    """Final test predictions (validation pick, else the final model), history, reads, card, done.json."""
    names, audit_path = cache.class_names, out / "audit.csv"
    if data.val is not None:  # the validation pick; the test subject had no say in it
        tr.model.load_state_dict(load_state(out / "best.pt")["model"])
        probs, _, _ = predict(tr.model, data.test, tr.device, cfg.batch_size, cfg.amp)
    else:  # the final epoch's audit predictions are the final model's predictions
        last_audit = pd.read_csv(audit_path, dtype={"subject": str, "sample": str})
        last_audit = last_audit[last_audit["epoch"] == fs.epoch]
        probs = last_audit[[f"prob_{n}" for n in names]].to_numpy()
        if list(last_audit["sample"]) != list(data.test.rows["sample"]):
            raise RuntimeError(f"{audit_path}: the final epoch's rows are not the test samples in order")
    selected = fs.best["epoch"] if data.val is not None else fs.epoch
    fs.log_reads("test", data.test, range(len(data.test)))
    samples = {"train": len(data.train), "val": len(data.val or []), "test": len(data.test)}
    model = tr.model if cfg.save_fold_models or cfg.protocol == "holdout" else None
    calibration = None
    if model is not None and data.val is not None:  # fitted on the validation subjects; the test ones only measured
        val_probs, val_labels, _ = predict(model, data.val, tr.device, cfg.batch_size, cfg.amp)
        calibration = calibration_entry(
            val_probs, val_labels, probs, data.test.labels(),
            fitted_on=f"validation subjects {', '.join(fold.val_subjects)} ({len(data.val)} samples)",
            ece_data=f"test subjects {', '.join(fold.test_subjects)} ({len(data.test)} samples)",
        )  # fmt: skip
    write_fold_outputs(cfg, cache, fold, seed, out, probs, data.test, fs, selected, samples, model, calibration)
    (out / "state.pt").unlink(missing_ok=True)
    (out / "best.pt").unlink(missing_ok=True)
    return out


def write_fold_outputs(
    cfg: TrainConfig,
    cache: Cache,
    fold: Fold,
    seed: int,
    out: Path,
    probs: np.ndarray,
    test: CacheDataset,
    fs: FoldState,
    selected: int,
    samples: dict[str, int],
    model: nn.Module | None,
    calibration: dict[str, Any] | None = None,
) -> None:
    """predictions.csv, history.json, reads.json, the fold model and card (when ``model``, with ``calibration``
    when one was fitted), done.json last."""
    names = cache.class_names
    prediction_frame(test, probs, names, fold.index, seed).to_csv(out / "predictions.csv", index=False)
    (out / "history.json").write_text(json.dumps(fs.history, indent=1) + "\n")
    (out / "reads.json").write_text(json.dumps(fs.reads(), indent=1) + "\n")
    if model is not None:
        fold_metrics = classification_metrics(test.rows["label"], [names[i] for i in probs.argmax(1)], names)
        card = make_card(
            cfg, cache, fold, seed, fold_metrics, epochs_run=fs.epoch, selected_epoch=selected, samples=samples
        )
        if calibration is not None:
            card["calibration"] = calibration
        save_checkpoint(model, out / "model.safetensors", card)
    done = {
        "seed": seed,
        "fold": fold.to_dict(),
        "epochs_run": fs.epoch,
        "stopped_early": fs.stopped_early,
        "selected_epoch": selected,
    }
    (out / "done.json").write_text(json.dumps(done, indent=1) + "\n")


def fit_classical_fold(cfg: TrainConfig, cache: Cache, fold: Fold, seed: int, out: Path) -> Path:
    """A scikit-learn model (``lbptop_svm``): fit on the training subjects, predict the test subjects once.

    No epochs, so no validation pick and no audit; the outputs are the networks' (predictions.csv, reads.json,
    history.json, done.json) and every table reads them alike.
    """
    from mer.models.lbptop import CLASSICAL_MODELS

    data = fold_data(cfg, cache, fold, seed)
    fs = FoldState(epoch=1)

    def volumes(ds: CacheDataset, role: str) -> np.ndarray:
        fs.log_reads(role, ds, range(len(ds)))
        raw = [ds.raw(i) for i in range(len(ds))]  # unnormalised frames in [0, 1]
        return (np.stack(raw) * 255).round().clip(0, 255).astype(np.uint8)

    t0 = time.perf_counter()
    kwargs = {"class_weight": "balanced" if cfg.class_weights else None, **cfg.model_kwargs}
    model = CLASSICAL_MODELS[cfg.model](num_classes=len(cache.class_names), **kwargs)
    model.fit(volumes(data.train, "train"), data.train.labels())
    probs = model.predict_proba(volumes(data.test, "test"))
    fs.history = [{"epoch": 1, "fit_seconds": time.perf_counter() - t0, "train_samples": len(data.train)}]
    samples = {"train": len(data.train), "val": 0, "test": len(data.test)}
    write_fold_outputs(cfg, cache, fold, seed, out, probs, data.test, fs, 1, samples, None)
    return out


# ------------------------------------------------------------------------------------------------- cards
# cache settings a card leaves out: stated elsewhere in the card, or local to the machine that trained
NOT_IN_CARD = ("class_names", "mean", "std", "channels", "root", "frames_base", "state", "timings", "created")


def _sources(settings: dict[str, Any]) -> Any:
    """The dataset's own list of sources and licences (``sources.json`` that ``mer synth`` writes), if any."""
    path = Path(str(settings.get("root") or ".")) / "sources.json"
    return json.loads(path.read_text()) if settings.get("root") and path.is_file() else None


def card_input(cfg: TrainConfig, cache: Cache) -> dict[str, Any]:
    """The input the model read: the cache's own, or the derived modality (FR, MOL) with its channels and size."""
    s, own = cache.settings, cache.settings.get("modality", "flow")
    modality = model_modality(cfg.model) or own
    if modality != own:
        info = MODALITY_CFGS[modality]
        return {"modality": modality, "channels": list(info["channels"]), "size": list(input_size(modality)),
                "mean": list(info["mean"]), "std": list(info["std"]), "derived_from": own}  # fmt: skip
    return {
        "modality": own,
        "channels": list(s["channels"]),
        "size": list(cache.input_shape),
        "mean": list(s["mean"]),
        "std": list(s["std"]),
    }


def make_card(
    cfg: TrainConfig,
    cache: Cache,
    fold: Fold,
    seed: int,
    metrics: dict[str, Any],
    *,
    epochs_run: int,
    selected_epoch: int,
    samples: dict[str, int] | None = None,
) -> dict[str, Any]:
    """A model card for the model trained on ``fold`` with ``seed`` (see mer.engine.checkpoint).

    ``samples``: how many samples the train, val and test subjects have, so the card says how much data was used.
    """
    s = cache.settings
    source = (
        f"{cache.dataset} ({'synthetic' if cache.synthetic else 'real'}), held-out subjects "
        f"{', '.join(fold.test_subjects)}"
    )
    if cache.synthetic:
        note = (
            "Trained on synthetic micro-expressions made by `mer synth`, not on real faces. Its figures are "
            "on synthetic subjects it never saw and say nothing about accuracy on real people; use it to try "
            "the pipeline, not to read emotions."
        )
    else:
        note = (
            f"Trained on {cache.dataset} with the {cfg.protocol} protocol; figures are on subjects it never "
            "saw during training. Research use only; the dataset's licence applies to this model."
        )
    return {
        "architecture": cfg.model,
        "model_kwargs": cfg.model_kwargs,
        "class_names": cache.class_names,
        "input": card_input(cfg, cache),
        "preprocessing": {
            **{k: v for k, v in s.items() if k not in NOT_IN_CARD},
            "sheet": Path(str(s.get("sheet") or "")).name or None,  # the name: the card travels, paths do not
        },
        "dataset": cache.dataset,
        "synthetic": cache.synthetic,
        "data_sources": _sources(s),
        "protocol": {
            "name": cfg.protocol,
            "train_subjects": list(fold.train_subjects),
            "val_subjects": list(fold.val_subjects),
            "test_subjects": list(fold.test_subjects),
            "samples": samples or {},
            "selection": f"validation {cfg.select_metric}, epoch {selected_epoch}"
            if fold.val_subjects
            else f"final epoch ({epochs_run})",
        },
        "metrics": {
            **{k: metrics[k] for k in ("accuracy", "uf1", "uar", "macro_precision", "macro_recall", "n")},
            "data_source": source,
        },
        "training": {**cfg.to_dict(), "seed": seed, "epochs_run": epochs_run},
        "code_version": code_version(),
        "note": note,
    }


# ------------------------------------------------------------------------------------------------- whole runs
def evaluate_run(path: str | Path, write: bool = True) -> dict[str, Any]:
    """Recompute metrics.json from ``RUN/predictions.csv`` (and ``RUN/audit.csv`` for the audit).

    ``path`` is a run folder or a predictions CSV. The data source is read from ``run.json`` beside it.
    """
    path = Path(path)
    pred_path = path / "predictions.csv" if path.is_dir() else path
    root = pred_path.parent
    preds = read_predictions(pred_path)
    audit_path = root / "audit.csv"
    audit = pd.read_csv(audit_path, dtype=PREDICTION_DTYPES) if audit_path.is_file() else None
    source = json.loads((root / "run.json").read_text())["data_source"] if (root / "run.json").is_file() else None
    metrics = run_metrics(preds, audit, source)
    if (root / "run.json").is_file():
        plan = json.loads((root / "run.json").read_text())
        metrics["protocol"] = plan["protocol"]
        metrics["selection"] = plan["selection"]
        if plan["protocol"] == "holdout":
            metrics["held_out_subjects"] = plan["folds"][0]["test_subjects"]
    if write:
        write_json(root / "metrics.json", metrics)
    return metrics


def merge_run(run: str | Path) -> dict[str, Any]:
    """Join every (seed, fold) output into ``RUN/predictions.csv`` and ``RUN/audit.csv``; write metrics."""
    run = Path(run)
    if not (run / "run.json").is_file():
        raise InputError(f"{run} is not a training run folder (no run.json)")
    plan = json.loads((run / "run.json").read_text())
    folds = [Fold.from_dict(f) for f in plan["folds"]]
    missing = [
        f"seed {s} fold {f.index}"
        for s in plan["seeds"]
        for f in folds
        if not (fold_dir(run, s, f.index) / "done.json").is_file()
    ]
    if missing:
        raise InputError(
            f"{len(missing)} fold(s) not finished: {', '.join(missing[:10])}; train them "
            "(`mer train ... --fold K`) and merge again"
        )
    dirs = [fold_dir(run, s, f.index) for s in plan["seeds"] for f in folds]
    dtypes = PREDICTION_DTYPES
    preds = pd.concat([pd.read_csv(d / "predictions.csv", dtype=dtypes) for d in dirs], ignore_index=True)
    preds.to_csv(run / "predictions.csv", index=False)
    audits = [pd.read_csv(d / "audit.csv", dtype=dtypes) for d in dirs if (d / "audit.csv").is_file()]
    if audits:
        pd.concat(audits, ignore_index=True).to_csv(run / "audit.csv", index=False)
    return evaluate_run(run)


def export_model(run: str | Path, path: str | Path, fp16: bool = True) -> Path:
    """Save the holdout model of the run's first seed to ``path`` with its card (fp16 storage by default)."""
    run = Path(run)
    plan = json.loads((run / "run.json").read_text())
    if plan["protocol"] != "holdout":
        raise InputError("--export needs --protocol holdout (a LOSO run has one model per subject)")
    seed = plan["seeds"][0]
    model, card = load_checkpoint(fold_dir(run, seed, 0) / "model.safetensors")
    if len(plan["seeds"]) > 1:
        card["note"] += f" Exported model: seed {seed} of {plan['seeds']}; the run's metrics.json has all seeds."
    return save_checkpoint(model, path, card, fp16=fp16)


def train_run(
    cfg: TrainConfig,
    data: str | Path,
    out: str | Path,
    *,
    folds: list[int] | None = None,
    device: str = "cpu",
    progress: bool = True,
    export: str | Path | None = None,
) -> dict[str, Any] | None:
    """Train every (seed, fold) not yet done (or only ``folds``); merge and return metrics when all are done.

    With ``folds`` given (``--fold K``), only those folds run and nothing is merged (``mer merge RUN`` joins
    them).
    """
    if export is not None and cfg.protocol != "holdout":
        raise InputError("--export needs --protocol holdout (a LOSO run has one model per subject)")
    if export is not None and Path(export).suffix not in ("", ".safetensors"):
        raise InputError(f"--export path must be a folder or end in .safetensors, got {Path(export).name}")
    dev = resolve_device(device)
    cache, plan = prepare_run(cfg, data, out)
    all_folds = [Fold.from_dict(f) for f in plan["folds"]]
    if folds is not None:
        bad = [k for k in folds if not 0 <= k < len(all_folds)]
        if bad:
            raise InputError(f"fold {bad} out of range: this run has folds 0..{len(all_folds) - 1}")
    chosen = all_folds if folds is None else [all_folds[k] for k in folds]
    for seed in cfg.seeds:
        for fold in chosen:
            train_fold(cfg, cache, fold, seed, out, device=dev, progress=progress)
    if folds is not None:
        return None
    metrics = merge_run(out)
    if export is not None:
        export_model(out, export)
    return metrics
