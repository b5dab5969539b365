"""The dual-branch network family, registered in timm as ``mer_*``.

One tensor in, (B, C, 282, 231): channels ``0 .. C-2`` are the modality (optical flow u, v, strain by
default) and channel ``C-1`` is the AU-region mask (0/1) of the sample. The global branch (GFEM) reads the
modality channels over the whole face; the local branch (LTFEM) reads the same channels multiplied by the
mask, i.e. only the five AU regions (ocular+brow, oral, mandibular, cheek, nasal). Variants (Table 7 and
Table 5 of the paper):

============================  =====================================================================
``mer_gfem``                  ResNet-12 global branch alone (avg-pool, linear)
``mer_gfem_r18``/``_r34``     the same with ResNet-18 / ResNet-34 block repeats (Table 5)
``mer_ltfem``                 Inception local branch alone (avg-pool, linear)
``mer_dbfem``                 both branches, plain fusion: concatenated maps, avg-pool, linear
``mer_dbfem_caffm``           both branches fused by CAFFM with global and local attention, max-pool, linear
``mer_dbfem_caffm_l``         CAFFM weighted by the local attention only
``mer_dbfem_caffm_g``         CAFFM weighted by the global attention only
============================  =====================================================================
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn as nn
from timm.layers import ClassifierHead
from timm.layers.cbam import CbamModule
from timm.models import build_model_with_cfg, generate_default_cfgs, register_model
from torch.utils.checkpoint import checkpoint

from mer.models.branches import GFEM_CHANNELS, GFEM_LAYERS, LocalBranch, global_branch
from mer.models.caffm import ATTENTIONS, create_fusion
from mer.models.cfg import MerPretrainedCfg, mer_cfg
from mer.weights import DEMO_CHECKPOINT, FIRST_CHECKPOINT

BRANCHES = ("global", "local")
FUSIONS = ("concat", "caffm")


class DualBranchNet(nn.Module):
    """GFEM and/or LTFEM, fused by concatenation or CAFFM, then a pooled linear classifier.

    Args:
        branches: ``("global",)``, ``("local",)`` or ``("global", "local")``.
        fusion: ``"concat"`` (plain, DBFEM) or ``"caffm"``; used only with both branches.
        num_classes: classifier outputs; 0 leaves the head as identity (features only).
        in_chans: input channels, the last one being the AU mask.
        global_layers: BasicBlocks per ResNet stage of GFEM.
        global_channels: ResNet stage widths of GFEM.
        output_stride: GFEM output stride (16: dilated last stage).
        local_channels_7x7: 7x7 widths of LTFEM's InceptionC modules.
        fusion_chs: CAFFM width.
        fusion_attention: CAFFM branch attentions, a subset of ``("global", "local")``.
        drop_rate: dropout before the classifier.
        global_pool: head pooling; default ``"max"`` after CAFFM (the paper's max-pooling), else ``"avg"``.
    """

    def __init__(
        self,
        branches: Sequence[str] = BRANCHES,
        fusion: str = "caffm",
        num_classes: int = 5,
        in_chans: int = 4,
        global_layers: tuple[int, ...] = GFEM_LAYERS[12],
        global_channels: tuple[int, ...] = GFEM_CHANNELS,
        output_stride: int = 16,
        local_channels_7x7: tuple[int, ...] = (128, 128, 128),
        fusion_chs: int = 192,
        fusion_attention: Sequence[str] = ATTENTIONS,
        drop_rate: float = 0.0,
        global_pool: str | None = None,
    ) -> None:
        super().__init__()
        if in_chans < 2:
            raise ValueError(f"in_chans must be >= 2 (modality channels + 1 AU mask), got {in_chans}")
        if not branches or set(branches) - set(BRANCHES):
            raise ValueError(f"branches must be a non-empty subset of {BRANCHES}, got {tuple(branches)}")
        if fusion not in FUSIONS:
            raise ValueError(f"fusion must be one of {FUSIONS}, got {fusion!r}")
        self.branches = tuple(b for b in BRANCHES if b in branches)
        self.fusion_type = fusion if len(self.branches) == 2 else None
        self.num_classes = num_classes
        self.in_chans = in_chans
        self.drop_rate = drop_rate
        modality_chans = in_chans - 1

        self.feature_info: list[dict[str, Any]] = []
        out_chs = []
        if "global" in self.branches:
            self.global_branch = global_branch(modality_chans, global_layers, global_channels, output_stride)
            self.feature_info += _prefixed(self.global_branch.feature_info, "global_branch")
            out_chs.append(self.global_branch.num_features)
        if "local" in self.branches:
            self.local_branch = LocalBranch(modality_chans, local_channels_7x7)
            self.feature_info += _prefixed(self.local_branch.feature_info, "local_branch")
            out_chs.append(self.local_branch.num_features)

        # a module taking (F_G, F_L) when both branches run, else None
        self.fusion = create_fusion(fusion, *out_chs, fusion_chs, fusion_attention) if self.fusion_type else None
        self.num_features = self.fusion.num_features if self.fusion is not None else out_chs[0]
        if self.fusion_type == "caffm":
            self.feature_info.append(dict(num_chs=fusion_chs, reduction=output_stride, module="fusion"))
        self.grad_checkpointing = False
        # timm's feature extraction wants stages in order of stride; stable, so each branch keeps its order.
        self.feature_info.sort(key=lambda d: d["reduction"])
        pool = global_pool or ("max" if self.fusion_type == "caffm" else "avg")
        self.head = ClassifierHead(self.num_features, num_classes, pool_type=pool, drop_rate=drop_rate)
        self.head_hidden_size = self.head.num_features

    # --- input ---
    @staticmethod
    def split_input(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, C, H, W) -> (global input = modality channels, local input = modality channels * AU mask)."""
        modality, mask = x[:, :-1], x[:, -1:]
        return modality, modality * mask

    # --- timm surface ---
    def forward_branches(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Unpooled branch maps, at 282 x 231: ``{"global": (B, 256, 18, 15), "local": (B, 768, 17, 14)}``."""
        x_global, x_local = self.split_input(x)
        out = {}
        if "global" in self.branches:
            out["global"] = self._run(self.global_branch.forward_features, x_global)
        if "local" in self.branches:
            out["local"] = self._run(self.local_branch, x_local)
        return out

    def _run(self, branch: Any, x: torch.Tensor) -> torch.Tensor:
        if self.grad_checkpointing and torch.is_grad_enabled() and not torch.jit.is_scripting():
            return checkpoint(branch, x, use_reentrant=False)
        return branch(x)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> unpooled features (B, num_features, h, w), on the global branch's grid if fused."""
        feats = self.forward_branches(x)
        if self.fusion is None:
            return feats[self.branches[0]]
        return self.fusion(feats["global"], feats["local"])

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Pool and classify features: (B, num_features, h, w) -> (B, num_classes) (or pooled features)."""
        return self.head(x, pre_logits=pre_logits)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, 282, 231) normalised input -> (B, num_classes) logits."""
        return self.forward_head(self.forward_features(x))

    def get_classifier(self) -> nn.Module:
        return self.head.fc

    def reset_classifier(self, num_classes: int, global_pool: str | None = None) -> None:
        """Replace the classifier with a fresh one of ``num_classes`` outputs (0: identity)."""
        self.num_classes = num_classes
        self.head.reset(num_classes, pool_type=global_pool)

    @torch.jit.ignore
    def set_grad_checkpointing(self, enable: bool = True) -> None:
        """Recompute each branch's activations in the backward pass instead of keeping them (less memory)."""
        self.grad_checkpointing = enable

    @torch.jit.ignore
    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        return dict(
            stem=r"^global_branch\.(conv1|bn1)|^local_branch\.Conv2d",
            blocks=r"^global_branch\.layer(\d+)|^local_branch\.Mixed_(\d)|^fusion",
        )

    # --- explanation hooks ---
    def cam_target_layers(self) -> dict[str, nn.Module]:
        """Last stage of each branch, for Grad-CAM: keys ``"global"`` and/or ``"local"``, from ``feature_info``."""
        layers = {}
        for info in self.feature_info:  # per branch in order of depth, so the last one found is the deepest
            branch = info["module"].split(".")[0].removesuffix("_branch")
            if branch in self.branches:
                layers[branch] = self.get_submodule(info["module"])
        return layers

    def fusion_cbams(self) -> list[tuple[str, CbamModule]]:
        """CAFFM's timm CbamModules in forward order as (name, module); empty without CAFFM.

        Hook ``module.channel.gate`` for the (B, C, 1, 1) channel weights and ``module.spatial.gate`` for
        the (B, 1, h, w) spatial map. Names: ``attn_global``, ``attn_local`` (branch attentions), then
        ``cbam1`` ... ``cbam5``.
        """
        return self.fusion.cbams() if self.fusion is not None else []


def _prefixed(info: list[dict[str, Any]], prefix: str) -> list[dict[str, Any]]:
    return [dict(d, module=f"{prefix}.{d['module']}") for d in info]


def _create(variant: str, pretrained: bool = False, **kwargs: Any) -> DualBranchNet:
    # features_only=True: hooks on the feature_info modules (the two branches are not one Sequential).
    feature_cfg = dict(feature_cls="hook", no_rewrite=True)
    if isinstance(kwargs.get("pretrained_cfg"), dict):  # a local-dir config.json: keep modality and channels
        kwargs["pretrained_cfg"] = MerPretrainedCfg(**kwargs["pretrained_cfg"])
    model = build_model_with_cfg(DualBranchNet, variant, pretrained, feature_cfg=feature_cfg, **kwargs)
    if isinstance(model, DualBranchNet):
        _sync_cfg(model)
    return model


def _sync_cfg(model: DualBranchNet) -> None:
    """Keep ``pretrained_cfg`` true to the built model when in_chans or num_classes were overridden."""
    cfg = model.pretrained_cfg
    if cfg["input_size"][0] != model.in_chans:
        cfg["input_size"] = (model.in_chans, *cfg["input_size"][1:])
        cfg.update(mean=(0.0,) * model.in_chans, std=(1.0,) * model.in_chans, channels=None, modality=None)
    if cfg.get("label_names") is not None and len(cfg["label_names"]) != model.num_classes:
        cfg["label_names"] = None
    cfg["num_classes"] = model.num_classes


_GFEM = "GFEM: ResNet-{} global branch on the whole face"
default_cfgs = generate_default_cfgs(
    {
        "mer_gfem": mer_cfg(_GFEM.format(12), first_conv="global_branch.conv1"),
        "mer_gfem_r18": mer_cfg(_GFEM.format(18), first_conv="global_branch.conv1"),
        "mer_gfem_r34": mer_cfg(_GFEM.format(34), first_conv="global_branch.conv1"),
        "mer_ltfem": mer_cfg(
            "LTFEM: Inception-v3 local branch on the AU regions", first_conv="local_branch.Conv2d_1a_3x3.conv"
        ),
        "mer_dbfem": mer_cfg("DBFEM: GFEM + LTFEM, plain concatenation fusion", first_conv="global_branch.conv1"),
        "mer_dbfem_caffm": mer_cfg(
            "DBFEM + CAFFM: fusion weighted by global and local attention", first_conv="global_branch.conv1"
        ),
        # the shipped weights, both trained on synthetic micro-expressions (see checkpoints/); the first is timm's
        # default for pretrained=True
        "mer_dbfem_caffm.realfaces": mer_cfg(
            "DBFEM + CAFFM trained on synthetic micro-expressions from nine real photos, video-like (the demo's)",
            first_conv="global_branch.conv1",
            file=str(DEMO_CHECKPOINT / "model.safetensors"),
        ),
        "mer_dbfem_caffm.synth": mer_cfg(
            "DBFEM + CAFFM trained on synthetic micro-expressions from two photos (the first demo weights)",
            first_conv="global_branch.conv1",
            file=str(FIRST_CHECKPOINT / "model.safetensors"),
        ),
        "mer_dbfem_caffm_l": mer_cfg(
            "DBFEM + CAFFM_L: fusion weighted by the local attention only", first_conv="global_branch.conv1"
        ),
        "mer_dbfem_caffm_g": mer_cfg(
            "DBFEM + CAFFM_G: fusion weighted by the global attention only", first_conv="global_branch.conv1"
        ),
    }
)


@register_model
def mer_gfem(pretrained: bool = False, **kwargs: Any) -> DualBranchNet:
    """GFEM: the ResNet-12 global branch alone."""
    return _create("mer_gfem", pretrained, **{**dict(branches=("global",)), **kwargs})


@register_model
def mer_gfem_r18(pretrained: bool = False, **kwargs: Any) -> DualBranchNet:
    """GFEM with ResNet-18 block repeats (Table 5)."""
    args = dict(branches=("global",), global_layers=GFEM_LAYERS[18])
    return _create("mer_gfem_r18", pretrained, **{**args, **kwargs})


@register_model
def mer_gfem_r34(pretrained: bool = False, **kwargs: Any) -> DualBranchNet:
    """GFEM with ResNet-34 block repeats (Table 5)."""
    args = dict(branches=("global",), global_layers=GFEM_LAYERS[34])
    return _create("mer_gfem_r34", pretrained, **{**args, **kwargs})


@register_model
def mer_ltfem(pretrained: bool = False, **kwargs: Any) -> DualBranchNet:
    """LTFEM: the Inception local branch alone, on the AU regions."""
    return _create("mer_ltfem", pretrained, **{**dict(branches=("local",)), **kwargs})


@register_model
def mer_dbfem(pretrained: bool = False, **kwargs: Any) -> DualBranchNet:
    """DBFEM: both branches, plain concatenation fusion."""
    return _create("mer_dbfem", pretrained, **{**dict(fusion="concat"), **kwargs})


@register_model
def mer_dbfem_caffm(pretrained: bool = False, **kwargs: Any) -> DualBranchNet:
    """DBFEM + CAFFM, the paper's full model."""
    return _create("mer_dbfem_caffm", pretrained, **{**dict(fusion="caffm"), **kwargs})


@register_model
def mer_dbfem_caffm_l(pretrained: bool = False, **kwargs: Any) -> DualBranchNet:
    """DBFEM + CAFFM_L: fusion weighted by the local attention only."""
    args = dict(fusion="caffm", fusion_attention=("local",))
    return _create("mer_dbfem_caffm_l", pretrained, **{**args, **kwargs})


@register_model
def mer_dbfem_caffm_g(pretrained: bool = False, **kwargs: Any) -> DualBranchNet:
    """DBFEM + CAFFM_G: fusion weighted by the global attention only."""
    args = dict(fusion="caffm", fusion_attention=("global",))
    return _create("mer_dbfem_caffm_g", pretrained, **{**args, **kwargs})
