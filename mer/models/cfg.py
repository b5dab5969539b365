"""What a mer model expects as input: timm's pretrained config plus the modality it reads.

Every mer model takes ONE tensor of shape ``input_size = (C, 282, 231)`` (channels, height, width of the
aligned face crop): ``C - 1`` modality channels followed by one AU-region mask channel (0/1). The default
modality is ``"flow"`` (onset->apex optical flow u, v in pixels, and its optical strain magnitude).
Normalisation ``(x - mean) / std`` happens before the model; the mask channel has mean 0 and std 1 so it
stays 0/1.

timm's :class:`~timm.models.PretrainedCfg` is a dataclass that rejects unknown keys, so the two extra keys
(``modality`` and ``channels``) live in a subclass. ``timm.create_model(name, pretrained_cfg_overlay=...)``
accepts them, e.g. ``pretrained_cfg_overlay=MODALITY_CFGS["apex"]`` for the apex-frame input.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from timm.models import PretrainedCfg

from mer.spec import CASME2_5, MODALITY_CFGS, input_size


@dataclass
class MerPretrainedCfg(PretrainedCfg):
    """timm's pretrained config with the input modality and the name of every input channel."""

    modality: str | None = None
    channels: tuple[str, ...] | None = None


PAPER_NAME = "Micro-expression Recognition Based on Dual-branch Feature Extraction and Fusion"


def mer_cfg(description: str, modality: str = "flow", **kwargs: Any) -> MerPretrainedCfg:
    """Default config of one mer model: ``input_size(modality)`` ((4, 282, 231) for flow), ``modality``'s
    channels and mean/std, CASME II's 5 classes. ``kwargs`` override or add timm config keys (``paper_name``...)."""
    kwargs = {"paper_name": PAPER_NAME, "license": "mit", "classifier": "head.fc", **kwargs}
    return MerPretrainedCfg(
        input_size=input_size(modality),
        interpolation="bilinear",
        crop_pct=1.0,
        num_classes=len(CASME2_5),
        label_names=CASME2_5,
        description=description,
        **MODALITY_CFGS[modality],
        **kwargs,
    )


def build_mer_model(model_cls: type, variant: str, pretrained: bool = False, **kwargs: Any) -> Any:
    """timm's ``build_model_with_cfg`` for a comparison model with a ``num_classes`` attribute.

    features_only uses hooks on ``feature_info`` modules (none of these networks is one Sequential). After the
    build, ``pretrained_cfg`` says the built model's class count (and drops label names that no longer fit).
    """
    from timm.models import build_model_with_cfg

    feature_cfg = dict(feature_cls="hook", no_rewrite=True)
    model = build_model_with_cfg(model_cls, variant, pretrained, feature_cfg=feature_cfg, **kwargs)
    cfg = getattr(model, "pretrained_cfg", None)
    if isinstance(model, model_cls) and cfg is not None:
        if cfg.get("label_names") is not None and len(cfg["label_names"]) != model.num_classes:
            cfg["label_names"] = None
        cfg["num_classes"] = model.num_classes
    return model


def check_in_chans(name: str, in_chans: int, expected: int) -> None:
    """A comparison network reads exactly its modality's channels: ValueError otherwise."""
    if in_chans != expected:
        raise ValueError(f"{name} reads {expected} input channels, got in_chans={in_chans}")
