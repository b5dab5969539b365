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


def mer_cfg(description: str, modality: str = "flow", **kwargs: Any) -> MerPretrainedCfg:
    """Default config of one mer model: input (4, 282, 231), ``modality``'s mean/std, CASME II's 5 classes."""
    return MerPretrainedCfg(
        input_size=input_size(modality),
        interpolation="bilinear",
        crop_pct=1.0,
        num_classes=len(CASME2_5),
        label_names=CASME2_5,
        classifier="head.fc",
        description=description,
        paper_name="Micro-expression Recognition Based on Dual-branch Feature Extraction and Fusion",
        license="mit",
        **MODALITY_CFGS[modality],
        **kwargs,
    )
