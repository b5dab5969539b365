"""``mer_fr``: a RECONSTRUCTION of FR, Feature Refinement (Zhou et al., Pattern Recognition 122, 2022).

FR's method section and code are not public; this network is built from its abstract and the authors' earlier
Dual-Inception (MEGC 2019), see /work/shared/COMPARISON.md. "After FR, sizes ours": every width and the loss
weight below are our choices, not the paper's.

Input: one tensor (B, 2, 28, 28), the onset->apex horizontal (u) and vertical (v) optical flow averaged onto a
28 x 28 grid (modality ``flow_uv28``). Structure:

- shared stem (Dual-Inception): per stream (u, v) an inception block of four 6-channel branches (1x1; 1x1->3x3;
  1x1->5x5; 3x3 max-pool->1x1), 2x2 max-pool, an inception block of four 16-channel branches, 2x2 max-pool
  (64 x 7 x 7); both streams flattened, concatenated, a 1024-unit dense layer: the expression-shared feature s;
- expression proposal module: per class c a branch f_c = ReLU(FC_c(s)) (``branch_width`` = 64, ours), a
  proposal logit p_c = w_c . f_c and an attention factor a_c = sigmoid(p_c); the proposal loss is the
  one-vs-rest binary cross-entropy of p against the one-hot label;
- classification branch: a linear classifier on the fusion (concatenation) of the specific features a_c * f_c.

Loss (through :meth:`FeatureRefinement.aux_losses`): cross-entropy + ``proposal_weight`` (0.5, ours) x proposal loss.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F
from timm.models import generate_default_cfgs, register_model

from mer.models.cfg import build_mer_model, check_in_chans, mer_cfg


class InceptionBlock(nn.Module):
    """Four parallel branches of ``width`` channels (1x1; 1x1->3x3; 1x1->5x5; max-pool->1x1), concatenated."""

    def __init__(self, in_chs: int, width: int) -> None:
        super().__init__()

        def conv(i: int, o: int, k: int) -> nn.Sequential:
            return nn.Sequential(nn.Conv2d(i, o, k, padding=k // 2), nn.ReLU(inplace=True))

        self.b1 = conv(in_chs, width, 1)
        self.b3 = nn.Sequential(conv(in_chs, width, 1), conv(width, width, 3))
        self.b5 = nn.Sequential(conv(in_chs, width, 1), conv(width, width, 5))
        self.bp = nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1), conv(in_chs, width, 1))
        self.out_chs = 4 * width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.b1(x), self.b3(x), self.b5(x), self.bp(x)], dim=1)


class InceptionStream(nn.Module):
    """One flow component (B, 1, 28, 28) -> (B, 64, 7, 7)."""

    def __init__(self, widths: tuple[int, int] = (6, 16)) -> None:
        super().__init__()
        self.block1 = InceptionBlock(1, widths[0])
        self.block2 = InceptionBlock(self.block1.out_chs, widths[1])
        self.out_chs = self.block2.out_chs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.max_pool2d(self.block2(F.max_pool2d(self.block1(x), 2)), 2)


class ProposalModule(nn.Module):
    """Per class a specific branch f_c, a proposal logit p_c and the attention factor a_c = sigmoid(p_c)."""

    def __init__(self, in_features: int, num_proposals: int, width: int) -> None:
        super().__init__()
        self.num_proposals, self.width = num_proposals, width
        # all class branches as one linear map, reshaped: f[:, c] = ReLU(FC_c(s))
        self.branches = nn.Linear(in_features, num_proposals * width)
        self.proposal_weight = nn.Parameter(torch.randn(num_proposals, width) * width**-0.5)
        self.proposal_bias = nn.Parameter(torch.zeros(num_proposals))

    def forward(self, s: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """s (B, D) -> (refined a_c * f_c flattened (B, P * width), proposal logits (B, P))."""
        f = F.relu(self.branches(s)).unflatten(
            1, (self.num_proposals, self.width)
        )  # no batch size: ONNX keeps it dynamic
        p = (f * self.proposal_weight).sum(-1) + self.proposal_bias
        return (torch.sigmoid(p).unsqueeze(-1) * f).flatten(1), p


class FeatureRefinement(nn.Module):
    """FR (reconstruction): shared Dual-Inception stem, expression proposal module, classifier on the fusion.

    Args:
        num_classes: classifier outputs (0: identity head, features only); also the number of proposals.
        in_chans: must be 2 (u, v).
        shared_features: width of the dense layer after the two streams (1024, Dual-Inception's).
        branch_width: width of each class-specific branch (ours: 64).
        proposal_weight: lambda of the proposal loss (ours: 0.5).
        drop_rate: dropout before the classifier.
    """

    def __init__(
        self,
        num_classes: int = 5,
        in_chans: int = 2,
        shared_features: int = 1024,
        branch_width: int = 64,
        proposal_weight: float = 0.5,
        drop_rate: float = 0.0,
    ) -> None:
        super().__init__()
        check_in_chans("mer_fr", in_chans, 2)
        self.num_classes, self.in_chans, self.drop_rate = num_classes, in_chans, drop_rate
        self.branch_width, self.proposal_weight = branch_width, proposal_weight
        self.stream_u, self.stream_v = InceptionStream(), InceptionStream()
        self.shared = nn.Sequential(nn.Linear(2 * self.stream_u.out_chs * 7 * 7, shared_features), nn.ReLU())
        self.shared_features = shared_features
        self.proposals = ProposalModule(shared_features, num_classes or 5, branch_width)
        self.num_features = self.head_hidden_size = self.proposals.num_proposals * branch_width
        self.head_drop = nn.Dropout(drop_rate)
        self.fc = nn.Linear(self.num_features, num_classes) if num_classes else nn.Identity()
        self.feature_info = [
            dict(num_chs=self.stream_u.out_chs, reduction=4, module="stream_u"),
            dict(num_chs=self.stream_v.out_chs, reduction=4, module="stream_v"),
        ]

    def shared_feature(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 2, 28, 28) -> the expression-shared feature s (B, shared_features)."""
        u, v = self.stream_u(x[:, :1]), self.stream_v(x[:, 1:2])
        return self.shared(torch.cat([u.flatten(1), v.flatten(1)], dim=1))

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 2, 28, 28) -> fused specific features (B, num_features)."""
        return self.proposals(self.shared_feature(x))[0]

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.head_drop(x)
        return x if pre_logits else self.fc(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 2, 28, 28) normalised u, v -> (B, num_classes) logits."""
        return self.forward_head(self.forward_features(x))

    # --- the auxiliary-loss protocol of mer.engine.train ---
    aux_targets: tuple[str, ...] = ()  # the proposal loss needs only the label

    def forward_train(self, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Logits and the proposal logits (B, P) the proposal loss reads."""
        fused, proposals = self.proposals(self.shared_feature(x))
        return self.forward_head(fused), {"proposals": proposals}

    def aux_losses(
        self, outputs: dict[str, torch.Tensor], targets: dict[str, torch.Tensor], y: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """``{"proposal": lambda x one-vs-rest BCE}``, added by the loop to its cross-entropy."""
        p = outputs["proposals"].float()
        onehot = F.one_hot(y, p.shape[1]).to(p.dtype)
        return {"proposal": self.proposal_weight * F.binary_cross_entropy_with_logits(p, onehot)}

    def get_classifier(self) -> nn.Module:
        return self.fc

    def reset_classifier(self, num_classes: int, global_pool: str | None = None) -> None:
        """A fresh classifier of ``num_classes`` outputs (0: identity); the proposals follow a new class count."""
        self.num_classes = num_classes
        if num_classes and num_classes != self.proposals.num_proposals:
            self.proposals = ProposalModule(self.shared_features, num_classes, self.branch_width)
            self.num_features = self.head_hidden_size = num_classes * self.branch_width
        self.fc = nn.Linear(self.num_features, num_classes) if num_classes else nn.Identity()


_REC = "RECONSTRUCTION after FR (Zhou et al. 2022), sizes ours: "
default_cfgs = generate_default_cfgs(
    {
        "mer_fr": mer_cfg(
            _REC + "Dual-Inception stem on 28x28 u/v flow, expression proposals with attention factors",
            modality="flow_uv28",
            first_conv="stream_u.block1.b1.0",
            classifier="fc",
            paper_name="Feature refinement: expression-specific feature learning and fusion for micro-expression "
            "recognition (reconstruction)",
            license=None,
        )
    }
)


@register_model
def mer_fr(pretrained: bool = False, **kwargs: Any) -> FeatureRefinement:
    """FR (reconstruction, sizes ours) on (B, 2, 28, 28) u/v flow."""
    return build_mer_model(FeatureRefinement, "mer_fr", pretrained, **kwargs)
