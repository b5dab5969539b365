"""Training configuration: one dataclass, two presets, MMAction2-style ``key=value`` overrides.

The resolved config is written to ``RUN/config.json``; a restarted run must resolve to the same config, which
is what makes "run the same command again" a safe way to resume.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from dataclasses import dataclass, field
from typing import Any

from mer.errors import InputError

PROTOCOLS = ("loso", "holdout")


@dataclass
class TrainConfig:
    """Everything that decides what a training run computes (not where or how fast it runs).

    Epoch-level quantities are in epochs; ``lr`` is the initial learning rate; ``max_shift`` is in pixels of
    the aligned 282 x 231 crop.
    """

    model: str = "mer_dbfem_caffm"
    model_kwargs: dict[str, Any] = field(default_factory=dict)  # extra timm.create_model arguments
    protocol: str = "loso"
    seeds: list[int] = field(default_factory=lambda: [1])
    epochs: int = 40
    batch_size: int = 32
    optimizer: str = "adam"  # adam | adamw | sgd
    lr: float = 1e-3
    weight_decay: float = 0.0
    momentum: float = 0.9  # sgd only
    step_size: int = 15  # StepLR: decay every step_size epochs
    gamma: float = 0.9
    class_weights: bool = False  # inverse-frequency loss weights from the training subjects of each fold
    label_smoothing: float = 0.0
    augment: bool = True
    max_shift: int = 4  # random translation, the same for every channel
    hflip: bool = True  # horizontal flip; the horizontal flow u changes sign with it
    val_subjects: int = 0  # >0: that many training subjects of each fold become a validation split for selection
    select_metric: str = "uf1"  # uf1 | accuracy | loss, on the validation split only
    patience: int = 0  # >0 (with val_subjects): stop after this many epochs without validation improvement
    holdout_subjects: int = 0  # holdout protocol: subjects held out for testing (0: a fifth, at least one)
    split_seed: int = 0  # fixes holdout and validation subject draws, independent of the training seeds
    audit_every: int = 1  # leakage audit: predict the test subject every N epochs (0: only at the final epoch)
    checkpoint_every: int = 1  # save resumable training state every N epochs
    save_fold_models: bool = False  # keep each fold's final model (always on for holdout)
    amp: bool = False  # mixed precision (float16 + GradScaler on CUDA, bfloat16 on CPU)
    num_workers: int = 0
    init: str = ""  # a checkpoint (.safetensors + card) to start from instead of random weights (fine-tuning)

    def validate(self) -> TrainConfig:
        """Raise InputError for settings that cannot work; return self."""
        problems = []
        if self.protocol not in PROTOCOLS:
            problems.append(f"protocol must be one of {PROTOCOLS}, got {self.protocol!r}")
        if self.optimizer not in ("adam", "adamw", "sgd"):
            problems.append(f"optimizer must be adam, adamw or sgd, got {self.optimizer!r}")
        if self.select_metric not in ("uf1", "accuracy", "loss"):
            problems.append(f"select_metric must be uf1, accuracy or loss, got {self.select_metric!r}")
        for name in ("epochs", "batch_size", "step_size", "checkpoint_every"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be >= 1")
        for name in (
            "val_subjects",
            "patience",
            "holdout_subjects",
            "audit_every",
            "max_shift",
            "num_workers",
        ):
            if getattr(self, name) < 0:
                problems.append(f"{name} must be >= 0")
        if not self.seeds:
            problems.append("give at least one seed")
        if len(set(self.seeds)) != len(self.seeds):
            problems.append(f"seeds must be distinct, got {self.seeds}")
        if self.patience and not self.val_subjects:
            problems.append("patience (early stopping) needs a validation split: set val_subjects >= 1")
        if problems:
            raise InputError("bad training settings: " + "; ".join(problems))
        return self

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


PRESETS: dict[str, dict[str, Any]] = {
    # A short schedule that learns something in minutes; the default.
    "fast": {},
    # The paper's schedule: Adam, lr 1e-3, StepLR every 100 epochs with gamma 0.9, batch 64, 500 epochs.
    "paper": {
        "optimizer": "adam",
        "lr": 1e-3,
        "step_size": 100,
        "gamma": 0.9,
        "batch_size": 64,
        "epochs": 500,
        "audit_every": 10,
        "checkpoint_every": 5,
    },
}


def _field_types() -> dict[str, Any]:
    return typing.get_type_hints(TrainConfig)


def parse_value(key: str, text: str) -> Any:
    """Turn ``text`` into the type of config field ``key`` (``--set key=value``)."""
    types = _field_types()
    if key not in types:
        raise InputError(f"unknown setting {key!r}; known: {', '.join(sorted(types))}")
    kind = types[key]
    origin = typing.get_origin(kind)
    try:
        if kind is bool:
            low = text.strip().lower()
            if low in ("1", "true", "yes", "on"):
                return True
            if low in ("0", "false", "no", "off"):
                return False
            raise ValueError(text)
        if kind is int:
            return int(text)
        if kind is float:
            return float(text)
        if kind is str:
            return text
        if origin is list:
            (item,) = typing.get_args(kind)
            parts = json.loads(text) if text.strip().startswith("[") else text.replace(",", " ").split()
            return [item(p) for p in parts]
        if origin is dict:
            value = json.loads(text)
            if not isinstance(value, dict):
                raise ValueError(text)
            return value
    except (ValueError, json.JSONDecodeError) as err:
        raise InputError(f"cannot read {key}={text!r} as {kind}: {err}") from None
    raise InputError(f"setting {key!r} cannot be set from the command line")


def parse_overrides(items: list[str] | None) -> dict[str, Any]:
    """``["lr=0.01", "seeds=1,2"]`` -> ``{"lr": 0.01, "seeds": [1, 2]}``."""
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise InputError(f"--set expects key=value, got {item!r}")
        out[key.strip()] = parse_value(key.strip(), value)
    return out


def build_config(preset: str = "fast", overrides: dict[str, Any] | None = None) -> TrainConfig:
    """The preset's config with ``overrides`` (already typed) applied, validated."""
    if preset not in PRESETS:
        raise InputError(f"unknown preset {preset!r}; choose from {', '.join(PRESETS)}")
    values = {**PRESETS[preset], **(overrides or {})}
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise InputError(f"unknown settings {unknown}; known: {', '.join(sorted(known))}")
    return TrainConfig(**values).validate()


def config_from_dict(values: dict[str, Any]) -> TrainConfig:
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    return TrainConfig(**{k: v for k, v in values.items() if k in known}).validate()
