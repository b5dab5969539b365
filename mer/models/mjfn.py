"""``mer_mjfn``: a RECONSTRUCTION of MJFN, the multi-scale joint feature network (Li et al., CVM 7(3), 2021).

MJFN's sizes and code are not public; this is built from its abstract (see /work/shared/COMPARISON.md).
"After MJFN, sizes ours": the backbone, the widths and the fusion below are our choices.

Input: the ``flow`` modality (B, 4, 282, 231); the optical-flow image is its u, v and strain channels (the AU
mask, channel 3, is not read). Structure:

- backbone: a 3x3 stride-2 stem (32 channels) and four ResNet BasicBlock stages (64, 128, 256, 512 channels,
  each stride 2): maps S0 (/2) .. S4 (/32);
- three joint feature modules, JFM_k for k = 1, 2, 3, each merging neighbouring stages at S_k's resolution:
  S_{k-1} (average-pooled down), S_k, S_{k+1} (bilinearly up), each projected to ``jfm_width`` channels by a
  1x1 conv, concatenated, a 3x3 conv + BN + ReLU, global average pooling, its own linear classifier;
- the backbone's own head (global average pooling of S4, linear);
- the prediction: the mean of the four heads' logits. Loss (through :meth:`MultiScaleJointNet.aux_losses`):
  the loop's cross-entropy on that fused prediction + the sum of the four heads' cross-entropies.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F
from timm.models import generate_default_cfgs, register_model
from timm.models.resnet import BasicBlock

from mer.models.cfg import build_mer_model, check_in_chans, mer_cfg


def _stage(in_chs: int, out_chs: int) -> nn.Module:
    down = nn.Sequential(nn.Conv2d(in_chs, out_chs, 1, stride=2, bias=False), nn.BatchNorm2d(out_chs))
    return BasicBlock(in_chs, out_chs, stride=2, downsample=down)


class JointFeatureModule(nn.Module):
    """Merge three neighbouring stage maps at the middle one's resolution -> (B, width) pooled feature."""

    def __init__(self, in_chs: tuple[int, int, int], width: int) -> None:
        super().__init__()
        self.proj = nn.ModuleList(nn.Conv2d(c, width, 1, bias=False) for c in in_chs)
        self.fuse = nn.Sequential(
            nn.Conv2d(3 * width, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True)
        )

    def forward(self, lower: torch.Tensor, middle: torch.Tensor, upper: torch.Tensor) -> torch.Tensor:
        size = middle.shape[-2:]
        parts = [
            F.adaptive_avg_pool2d(self.proj[0](lower), size),
            self.proj[1](middle),
            F.interpolate(self.proj[2](upper), size=size, mode="bilinear", align_corners=False),
        ]
        return self.fuse(torch.cat(parts, dim=1)).mean((2, 3))


class MultiScaleJointNet(nn.Module):
    """MJFN (reconstruction): backbone + three JFMs, four heads fused by the mean of their logits.

    Args:
        num_classes: outputs of each head (0: identity heads; features only).
        in_chans: must be 4 (the flow modality: u, v, strain, AU mask; the mask is not read).
        widths: stem and stage widths (ours).
        jfm_width: width of each joint feature module (ours: 128).
        drop_rate: dropout before the classifiers.
    """

    def __init__(
        self,
        num_classes: int = 5,
        in_chans: int = 4,
        widths: tuple[int, ...] = (32, 64, 128, 256, 512),
        jfm_width: int = 128,
        drop_rate: float = 0.0,
    ) -> None:
        super().__init__()
        check_in_chans("mer_mjfn", in_chans, 4)
        self.num_classes, self.in_chans, self.drop_rate = num_classes, in_chans, drop_rate
        self.stem = nn.Sequential(
            nn.Conv2d(3, widths[0], 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(widths[0]),
            nn.ReLU(inplace=True),
        )
        self.stages = nn.ModuleList(_stage(a, b) for a, b in zip(widths[:-1], widths[1:], strict=True))
        self.jfms = nn.ModuleList(JointFeatureModule(widths[k - 1 : k + 2], jfm_width) for k in (1, 2, 3))
        self.head_dims = [widths[-1], jfm_width, jfm_width, jfm_width]
        self.num_features = self.head_hidden_size = sum(self.head_dims)
        self.head_drop = nn.Dropout(drop_rate)
        self.heads = self._make_heads(num_classes)
        self.feature_info = [dict(num_chs=widths[0], reduction=2, module="stem")] + [
            dict(num_chs=c, reduction=2 ** (i + 2), module=f"stages.{i}") for i, c in enumerate(widths[1:])
        ]

    def _make_heads(self, num_classes: int) -> nn.ModuleList:
        return nn.ModuleList(nn.Linear(d, num_classes) if num_classes else nn.Identity() for d in self.head_dims)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 4, H, W) -> pooled [backbone, JFM_1, JFM_2, JFM_3] features, concatenated (B, num_features)."""
        maps = [self.stem(x[:, :3])]
        for stage in self.stages:
            maps.append(stage(maps[-1]))
        pooled = [maps[-1].mean((2, 3))] + [
            jfm(*maps[k - 1 : k + 2]) for k, jfm in zip((1, 2, 3), self.jfms, strict=True)
        ]
        return torch.cat(pooled, dim=1)

    def head_logits(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The four heads' logits (backbone, JFM_1..3) from :meth:`forward_features`' output."""
        parts = torch.split(self.head_drop(x), self.head_dims, dim=1)
        return [head(p) for head, p in zip(self.heads, parts, strict=True)]

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Fused prediction: the mean of the four heads' logits (pre_logits: the concatenated features)."""
        if pre_logits or not self.num_classes:
            return self.head_drop(x)
        return torch.stack(self.head_logits(x)).mean(0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 4, 282, 231) normalised flow input -> (B, num_classes) fused logits."""
        return self.forward_head(self.forward_features(x))

    # --- the auxiliary-loss protocol of mer.engine.train ---
    aux_targets: tuple[str, ...] = ()

    def forward_train(self, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        heads = self.head_logits(self.forward_features(x))
        return torch.stack(heads).mean(0), {"heads": torch.stack(heads, dim=1)}

    def aux_losses(
        self, outputs: dict[str, torch.Tensor], targets: dict[str, torch.Tensor], y: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """``{"heads": sum of the four heads' cross-entropies}``."""
        heads = outputs["heads"].float()  # (B, 4, classes)
        return {"heads": sum(F.cross_entropy(heads[:, k], y) for k in range(heads.shape[1]))}

    def get_classifier(self) -> nn.Module:
        return self.heads

    def reset_classifier(self, num_classes: int, global_pool: str | None = None) -> None:
        self.num_classes = num_classes
        self.heads = self._make_heads(num_classes)


default_cfgs = generate_default_cfgs(
    {
        "mer_mjfn": mer_cfg(
            "RECONSTRUCTION after MJFN (Li et al. 2021), sizes ours: ResNet-style backbone on the flow image, "
            "three joint feature modules, four fused heads",
            modality="flow",
            first_conv="stem.0",
            classifier="heads",
            paper_name="Multi-scale joint feature network for micro-expression recognition (reconstruction)",
            license=None,
        )
    }
)


@register_model
def mer_mjfn(pretrained: bool = False, **kwargs: Any) -> MultiScaleJointNet:
    """MJFN (reconstruction, sizes ours) on the (B, 4, 282, 231) flow input."""
    return build_mer_model(MultiScaleJointNet, "mer_mjfn", pretrained, **kwargs)
