"""CAFFM: the convolutional block attention-based feature fusion module of the paper, built on timm's CBAM.

The paper describes the module in one sentence: the global and local features ``F_G`` and ``F_L`` "are fused
and passed through three consecutive CBAM modules. After concatenation, ReLU activation, and residual
addition, the features are further refined by two additional CBAM modules, followed by activation and
max-pooling", and says that "attention weights of global/local features are calculated and embedded into the
fusion module". Our concrete reading, step by step (every CBAM is timm's ``CbamModule``, channel then
spatial attention):

1. Align: ``F_L`` is resized (bilinear) to ``F_G``'s grid when the two differ (17 x 14 -> 18 x 15 for a
   282 x 231 input).
2. Branch attention: a CBAM over ``F_G`` (the global attention) and a CBAM over ``F_L`` (the local attention)
   weight each branch before the fusion. CAFFM_L keeps only the local one, CAFFM_G only the global one; the
   other branch then enters the fusion unweighted.
3. Fuse: concatenate the two, 1x1 conv + BN + ReLU to ``chs`` channels (``x``).
4. Three consecutive CBAMs: ``a1 = cbam1(x)``, ``a2 = cbam2(a1)``, ``a3 = cbam3(a2)``.
5. Concatenation, ReLU, residual addition: ``r = x + ReLU(BN(conv1x1(cat(a1, a2, a3))))``.
6. Two more CBAMs, then ReLU: ``y = ReLU(cbam5(cbam4(r)))``. The model's head max-pools ``y`` and classifies.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from timm.layers import ConvNormAct, create_attn
from timm.layers.cbam import CbamModule

ATTENTIONS = ("global", "local")


class CAFFM(nn.Module):
    """Fuse a global (B, Cg, h, w) and a local (B, Cl, h', w') feature map into (B, chs, h, w).

    Args:
        global_chs: channels of ``F_G``.
        local_chs: channels of ``F_L``.
        chs: width of the fused features.
        attention: which branch attentions weight the fusion: ``("global", "local")`` for CAFFM,
            ``("local",)`` for CAFFM_L, ``("global",)`` for CAFFM_G.
        attn_layer: timm attention name for every attention block (``"cbam"``).
    """

    def __init__(
        self,
        global_chs: int,
        local_chs: int,
        chs: int = 192,
        attention: Sequence[str] = ATTENTIONS,
        attn_layer: str = "cbam",
    ) -> None:
        super().__init__()
        unknown = set(attention) - set(ATTENTIONS)
        if unknown or not attention:
            raise ValueError(f"attention must be a non-empty subset of {ATTENTIONS}, got {tuple(attention)}")
        self.attention = tuple(a for a in ATTENTIONS if a in attention)
        self.attn_global = create_attn(attn_layer, global_chs) if "global" in attention else nn.Identity()
        self.attn_local = create_attn(attn_layer, local_chs) if "local" in attention else nn.Identity()
        self.fuse = ConvNormAct(global_chs + local_chs, chs, kernel_size=1)
        self.cbam1 = create_attn(attn_layer, chs)
        self.cbam2 = create_attn(attn_layer, chs)
        self.cbam3 = create_attn(attn_layer, chs)
        self.merge = ConvNormAct(3 * chs, chs, kernel_size=1)
        self.cbam4 = create_attn(attn_layer, chs)
        self.cbam5 = create_attn(attn_layer, chs)
        self.act = nn.ReLU()
        self.num_features = chs

    def cbams(self) -> list[tuple[str, CbamModule]]:
        """CBAMs in forward order as (attribute name, module); an unused branch attention is absent."""
        return [(n, m) for n, m in self.named_children() if isinstance(m, CbamModule)]

    def forward(self, f_global: torch.Tensor, f_local: torch.Tensor) -> torch.Tensor:
        if f_local.shape[-2:] != f_global.shape[-2:]:
            f_local = F.interpolate(f_local, size=f_global.shape[-2:], mode="bilinear", align_corners=False)
        x = self.fuse(torch.cat([self.attn_global(f_global), self.attn_local(f_local)], dim=1))
        a1 = self.cbam1(x)
        a2 = self.cbam2(a1)
        a3 = self.cbam3(a2)
        r = x + self.merge(torch.cat([a1, a2, a3], dim=1))
        return self.act(self.cbam5(self.cbam4(r)))


class ConcatFusion(nn.Module):
    """DBFEM's plain fusion: ``F_L`` resized to ``F_G``'s grid, then the two concatenated (no parameters)."""

    def __init__(self, global_chs: int, local_chs: int) -> None:
        super().__init__()
        self.num_features = global_chs + local_chs

    def cbams(self) -> list[tuple[str, CbamModule]]:
        return []

    def forward(self, f_global: torch.Tensor, f_local: torch.Tensor) -> torch.Tensor:
        if f_local.shape[-2:] != f_global.shape[-2:]:
            f_local = F.interpolate(f_local, size=f_global.shape[-2:], mode="bilinear", align_corners=False)
        return torch.cat([f_global, f_local], dim=1)


def create_fusion(
    fusion: str, global_chs: int, local_chs: int, chs: int = 192, attention: Sequence[str] = ATTENTIONS
) -> nn.Module:
    """The fusion module named by ``fusion`` ("concat" or "caffm"): a module taking ``(F_G, F_L)``."""
    if fusion == "concat":
        return ConcatFusion(global_chs, local_chs)
    if fusion == "caffm":
        return CAFFM(global_chs, local_chs, chs, attention)
    raise ValueError(f"fusion must be 'concat' or 'caffm', got {fusion!r}")
