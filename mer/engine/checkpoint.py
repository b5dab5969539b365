"""Checkpoints: safetensors weights with a JSON model card, in one of two layouts.

- a folder in the Hugging Face Hub's layout: ``model.safetensors``, timm's ``config.json`` (so
  ``timm.create_model("local-dir:FOLDER", pretrained=True)`` loads it) and our card ``card.json``;
- a file ``NAME.safetensors`` with its card ``NAME.json`` beside it.

The card records the weights' SHA-256; a card that does not match its weights is refused.

Only safetensors are read: a pickled file (``torch.save``'s .pt/.pth/.ckpt/.bin) can run code when loaded,
so it is refused. Loading rebuilds the architecture named in the card through timm and checks the card
against it.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import nn

from mer.errors import InputError
from mer.io import write_atomic, write_json

PICKLE_SUFFIXES = (".pt", ".pth", ".ckpt", ".bin", ".pkl", ".pickle", ".tar")
REQUIRED_CARD_KEYS = ("architecture", "class_names", "input")
REQUIRED_INPUT_KEYS = ("modality", "channels", "size", "mean", "std")
WEIGHTS_NAME, CONFIG_NAME, CARD_NAME = "model.safetensors", "config.json", "card.json"


def code_version() -> dict[str, Any]:
    """``{"mer": version, "git_commit": sha or None, "git_dirty": bool or None}`` of the running code."""
    import mer

    out: dict[str, Any] = {"mer": mer.__version__, "git_commit": None, "git_dirty": None}
    repo = Path(mer.__file__).resolve().parent.parent
    try:
        out["git_commit"] = (
            subprocess.run(
                ["git", "-C", str(repo), "rev-parse", "HEAD"],
                capture_output=True,
                text=True,
                check=True,
                timeout=10,
            ).stdout.strip()
            or None
        )
        status = subprocess.run(
            ["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout
        out["git_dirty"] = bool(status.strip())
    except (OSError, subprocess.SubprocessError):
        pass
    return out


def is_folder_checkpoint(path: str | Path) -> bool:
    """Whether ``path`` names a checkpoint folder (the Hub's layout) rather than a .safetensors file."""
    path = Path(path)
    return path.is_dir() or (not path.exists() and path.suffix != ".safetensors")


def weights_path(path: str | Path) -> Path:
    """The .safetensors file of a checkpoint given as a folder or as the file itself."""
    return Path(path) / WEIGHTS_NAME if is_folder_checkpoint(path) else Path(path)


def card_path(path: str | Path) -> Path:
    """The model card of a checkpoint: FOLDER/card.json, or NAME.json beside NAME.safetensors."""
    return Path(path) / CARD_NAME if is_folder_checkpoint(path) else Path(path).with_suffix(".json")


def sha256(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def card_for(model: nn.Module, class_names: list[str] | tuple[str, ...] | None = None, **fields: Any) -> dict[str, Any]:
    """A model card whose architecture, classes and input come from ``model``'s own pretrained config.

    ``fields`` add or replace top-level keys (dataset, protocol, metrics, training, synthetic, note, ...).
    """
    cfg = model.pretrained_cfg
    names = list(class_names if class_names is not None else cfg.get("label_names") or ())
    card = {
        "architecture": cfg.get("architecture") or type(model).__name__,
        "class_names": names,
        "input": {
            "modality": cfg.get("modality"),
            "channels": list(cfg.get("channels") or ()),
            "size": list(cfg["input_size"]),
            "mean": list(cfg["mean"]),
            "std": list(cfg["std"]),
        },
    }
    card.update(fields)
    check_card(card)
    return card


def check_card(card: dict[str, Any]) -> None:
    """Raise InputError when the card lacks what loading and prediction need."""
    missing = [k for k in REQUIRED_CARD_KEYS if k not in card]
    missing += [f"input.{k}" for k in REQUIRED_INPUT_KEYS if k not in card.get("input", {})]
    if missing:
        raise InputError(f"model card lacks {missing}")
    size, channels = list(card["input"]["size"]), list(card["input"]["channels"])
    if len(size) != 3 or size[0] != len(channels):
        raise InputError(f"model card input size {size} does not match its {len(channels)} channels")
    for key in ("mean", "std"):
        if len(card["input"][key]) != len(channels):
            raise InputError(
                f"model card input.{key} has {len(card['input'][key])} values for {len(channels)} channels"
            )
    if not card["class_names"]:
        raise InputError("model card lists no class names")


def save_checkpoint(model: nn.Module, path: str | Path, card: dict[str, Any], fp16: bool = False) -> Path:
    """Write ``model`` and ``card`` to ``path``: a folder in the Hub's layout, or a ``.safetensors`` file with its
    ``.json`` card beside it. Returns ``path``.

    ``fp16`` stores floating-point tensors as float16 (half the size; loading casts back to the model dtype).
    The card gains ``weights`` (file, storage dtype, tensor count, SHA-256) and ``code_version`` when it lacks one.
    """
    path = Path(path)
    if path.suffix and path.suffix != ".safetensors":
        raise InputError(
            f"checkpoint path must be a folder or end in .safetensors, got {path.name}; a pickle is never written"
        )
    check_card(card)
    state = {}
    for name, t in model.state_dict().items():
        t = t.detach().to("cpu")
        if fp16 and t.is_floating_point():
            t = t.to(torch.float16)
        state[name] = t.contiguous().clone()
    target = weights_path(path)
    card = {
        **card,
        "weights": {
            "file": target.name,
            "storage_dtype": "float16" if fp16 else "float32",
            "tensors": len(state),
            "parameters": int(sum(p.numel() for p in model.parameters())),
        },
    }
    card.setdefault("code_version", code_version())
    if is_folder_checkpoint(path):
        path.mkdir(parents=True, exist_ok=True)
        _write_timm_config(model, path / CONFIG_NAME, card)
    _write_weights(state, target, card)
    card["weights"]["sha256"] = sha256(target)
    write_json(card_path(path), card)
    return path


def _write_weights(state: dict[str, torch.Tensor], path: Path, card: dict[str, Any]) -> None:
    meta = {"format": "pt", "architecture": str(card["architecture"]), "num_classes": str(len(card["class_names"]))}
    write_atomic(path, lambda tmp: save_file(state, str(tmp), metadata=meta))


def _write_timm_config(model: nn.Module, path: Path, card: dict[str, Any]) -> None:
    """timm's config.json for the folder, with the card's classes and input (timm's own writer)."""
    from timm.models._hub import save_config_for_hf

    names = list(card["class_names"])
    extra = {k: card["input"][k] for k in ("modality", "channels", "mean", "std")}
    config = {"pretrained_cfg": {**extra, "label_names": names, "input_size": list(card["input"]["size"])}}
    config["model_args"] = dict(card.get("model_kwargs") or {})
    save_config_for_hf(model, str(path), model_config=config)


def _refuse_pickle(path: Path) -> None:
    if path.suffix.lower() in PICKLE_SUFFIXES:
        raise InputError(
            f"{path.name} is a pickled checkpoint ({path.suffix}); mer loads only .safetensors "
            "with a JSON card, because loading a pickle can run arbitrary code. Convert it in a "
            "trusted session with save_checkpoint(model, 'name.safetensors', card)"
        )
    with path.open("rb") as fh:
        head = fh.read(9)
    # safetensors: 8-byte little-endian header length, then a JSON object. A pickle starts with 0x80 and a
    # torch zip with "PK", so neither has "{" at byte 8 nor a header length that fits the file.
    header_len = int.from_bytes(head[:8], "little") if len(head) >= 8 else -1
    if len(head) < 9 or head[8:9] != b"{" or not 0 < header_len <= path.stat().st_size - 8:
        raise InputError(
            f"{path} is not a safetensors file (it looks like a pickle or zip archive); "
            "mer loads only .safetensors checkpoints"
        )


def read_card(path: str | Path) -> dict[str, Any]:
    """The model card of a checkpoint folder or .safetensors file, checked for what loading needs."""
    cpath = card_path(path)
    if not cpath.is_file():
        raise InputError(f"{Path(path).name} has no model card: expected {cpath}")
    try:
        card = json.loads(cpath.read_text())
    except json.JSONDecodeError as err:
        raise InputError(f"model card {cpath} is not valid JSON: {err}") from None
    check_card(card)
    return card


def load_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild the card's model, check card and weights agree, load; return ``(model.eval(), card)``.

    Checks: the architecture is registered in timm, the classifier has ``len(class_names)`` outputs, the
    model accepts the card's input size (for ``mer_*`` models: equals their declared input), and every tensor
    is present with the right shape (nothing missing, nothing extra). Any failure raises InputError.
    """
    import timm

    import mer  # noqa: F401  (registers mer_* in timm)

    folder, path = Path(path), weights_path(path)
    if not path.is_file():
        raise InputError(f"checkpoint {path} does not exist; give a checkpoint folder or a .safetensors file")
    _refuse_pickle(path)
    card = read_card(folder)
    recorded = card.get("weights", {}).get("sha256")
    if recorded and recorded != sha256(path):
        raise InputError(
            f"the card {card_path(folder)} was written for other weights than {path} (SHA-256 differs); "
            "keep each card with its own weights"
        )
    arch, names, size = card["architecture"], list(card["class_names"]), tuple(card["input"]["size"])
    if not timm.is_model(arch):
        raise InputError(
            f"{path.name}: architecture {arch!r} is not a registered model (known mer models: "
            f"{', '.join(timm.list_models('mer_*')) or 'none'})"
        )
    model = timm.create_model(arch, pretrained=False, num_classes=len(names), **card.get("model_kwargs", {}))
    declared = getattr(model, "pretrained_cfg", {}).get("input_size")
    if arch.startswith("mer_") and declared is not None and tuple(declared) != size:
        raise InputError(f"{path.name}: card input size {list(size)} differs from {arch}'s {list(declared)}")
    try:
        with safe_open(str(path), framework="pt") as fh:
            tensors = {k: fh.get_tensor(k) for k in fh.keys()}
    except (SafetensorError, OSError) as err:
        raise InputError(f"{path} cannot be read as safetensors: {err}") from None
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors))
    extra = sorted(set(tensors) - set(expected))
    wrong = [
        f"{k} {list(tensors[k].shape)} != {list(v.shape)}"
        for k, v in expected.items()
        if k in tensors and tensors[k].shape != v.shape
    ]
    if missing or extra or wrong:
        raise InputError(
            f"{path.name} does not match {arch} with {len(names)} classes: "
            f"missing {missing[:5]}, unexpected {extra[:5]}, wrong shapes {wrong[:5]}"
        )
    model.load_state_dict(tensors, strict=True)  # copy_ casts float16 storage back to the model's dtype
    model.eval()
    with torch.no_grad():
        out = model(torch.zeros(1, *size))
    if tuple(out.shape) != (1, len(names)):
        raise InputError(
            f"{path.name}: {arch} gives output {list(out.shape)} for input {list(size)}, expected [1, {len(names)}]"
        )
    if isinstance(getattr(model, "pretrained_cfg", None), dict):
        # timm keeps the config under both names; they must agree
        model.pretrained_cfg = model.default_cfg = {
            **model.pretrained_cfg,
            "label_names": names,
            "mean": tuple(card["input"]["mean"]),
            "std": tuple(card["input"]["std"]),
            "input_size": size,
        }
    return model.to(device), card
