"""``mer_mol``: MOL, micro-action-aware learning (Shao et al., IEEE TPAMI 2025; arXiv 2506.14511).

Written from the description of its public code in /work/shared/COMPARISON.md (that code has no licence;
nothing of it is copied). Input: one tensor (B, 8, 128, 128), 8 grey frames sampled evenly over the clip
(modality ``frames8``). Structure:

- per frame a conv stack without norm or activation (1->8 k4 s2, 8->32 k3 s2, 32->64 k2 s2, 64->128 k1):
  128 x 16 x 16;
- F5C blocks = FCC + CCC, with separate weights for frame t (``f5c_t``) and frame t+1 (``f5c_t1``) of each of
  the 7 consecutive pairs: 14 maps per clip;

  - FCC (fully-connected circular convolution): positional embedding, batch norm, then for half the channels a
    depthwise convolution along H whose kernel spans the whole map (circular padding), then one along W; the
    other half W first, then H; residual;
  - CCC (channel correspondence convolution): each channel is a graph node carrying its flattened 16 x 16 map;
    its k = 4 nearest channels by cosine similarity; edge feature ReLU(W1 f_i + W2 (f_j - f_i)) (256 -> 256
    linear maps); max over the neighbours; reshaped and added to the FCC output. Vectorised (one gather);

- heads: the MER head on the 14 stacked maps (Conv3d 128->32, max-pool, dropout, FC -> 256 -> classes), each of
  the two streams (t, t+1) taken minus its mean over the clip's 7 pairs (``centre_maps``, ours, see below); a
  landmark head (conv 128->32, FC -> 512 -> 136: the 68 points of frame t+1); a flow head, a FlowNetC-style
  encoder-decoder on the two raw frames with a correlation layer (21 x 21 displacements, dilation 2) and both
  frames' F5C maps, decoding full-resolution 2 x 128 x 128 flow.

``forward`` is the recognition path (stem, F5C, MER head; what inference needs); :meth:`MicroActionNet.
forward_train` runs the full network; :meth:`MicroActionNet.recognition_path` and :meth:`MicroActionNet.
full_network` are modules that run either alone (for the speed and complexity tables). Loss through
:meth:`MicroActionNet.aux_losses`: the loop's cross-entropy (MOL's NLL) + 10 x MSE(flow) averaged over pairs +
``landmark_weight`` (0.5, the code's default) x L1(landmarks) / inter-ocular distance. ``aux_pairs`` < 7 trains
the flow and landmark heads on that many randomly drawn pairs per step (ours, to fit a CPU; default all 7).

``centre_maps`` (ours, default on; not in the description of MOL's code): the F5C maps of one clip are mostly
the face's appearance, the same in all 8 frames and in every clip of that person (different clips of one face
give pre-logit features with cosine similarity >= 0.997 at initialisation); the motion that names the class is a
few per cent of them. Without centring, on the 60-sample synthetic set the recognition path did not learn at all
(training accuracy 0.10-0.17 in the quick schedule, early-stopped after 7-19 epochs; and on 10 fixed synthetic clips of
one face, batch 4, cross-entropy only, it stayed at chance: accuracy 0.20-0.30 after 40-60 steps at lr 3e-4 or
1e-3), where MOL's own code runs 1000 steps of batch 32. Each stream minus its own mean over the pairs keeps
exactly what changes in time; the flow and landmark heads still read the uncentred maps. With it the same 10 clips
reach accuracy 0.9 after 50 steps (lr 3e-4, dropout 0.5); ``tests/test_mol_learns.py`` checks the same on clips
made from random numbers.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F
from timm.models import generate_default_cfgs, register_model

from mer.models.cfg import build_mer_model, check_in_chans, mer_cfg

FRAMES, SIZE, CHANNELS, MAP = 8, 128, 128, 16
PAIRS = FRAMES - 1


def frame_stem() -> nn.Sequential:
    """(N, 1, 128, 128) -> (N, 128, 16, 16); no norm, no activation (as described)."""
    return nn.Sequential(
        nn.Conv2d(1, 8, 4, stride=2, padding=1),
        nn.Conv2d(8, 32, 3, stride=2, padding=1),
        nn.Conv2d(32, 64, 2, stride=2),
        nn.Conv2d(64, CHANNELS, 1),
    )


class FCC(nn.Module):
    """Fully-connected circular convolution on (N, C, S, S): whole-map depthwise kernels along H and W."""

    def __init__(self, channels: int = CHANNELS, size: int = MAP) -> None:
        super().__init__()
        self.pos = nn.Parameter(torch.zeros(1, channels, size, size))
        nn.init.trunc_normal_(self.pos, std=0.02)
        self.norm = nn.BatchNorm2d(channels)
        half = channels // 2
        self.size = size

        def dw(kernel: tuple[int, int]) -> nn.Conv2d:
            return nn.Conv2d(half, half, kernel, groups=half)

        self.a_h, self.a_w = dw((size, 1)), dw((1, size))  # half A: H then W
        self.b_w, self.b_h = dw((1, size)), dw((size, 1))  # half B: W then H

    def _along(self, conv: nn.Conv2d, x: torch.Tensor, dim: str) -> torch.Tensor:
        lo, hi = (self.size - 1) // 2, self.size // 2  # circular padding keeps the size with an even kernel
        pad = (0, 0, lo, hi) if dim == "h" else (lo, hi, 0, 0)
        return conv(F.pad(x, pad, mode="circular"))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.norm(x + self.pos)
        a, b = y.chunk(2, dim=1)
        a = self._along(self.a_w, self._along(self.a_h, a, "h"), "w")
        b = self._along(self.b_h, self._along(self.b_w, b, "w"), "h")
        return x + torch.cat([a, b], dim=1)


class CCC(nn.Module):
    """Channel correspondence convolution: an edge convolution over each channel's k nearest channels."""

    def __init__(self, size: int = MAP, k: int = 4) -> None:
        super().__init__()
        dim = size * size
        self.k = k
        self.w1, self.w2 = nn.Linear(dim, dim), nn.Linear(dim, dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = x.shape[1]
        f = x.flatten(2)  # (N, C, HW): one node per channel
        unit = F.normalize(f, dim=-1)
        sim = unit @ unit.transpose(1, 2)  # cosine similarity (N, C, C)
        sim = sim - 3.0 * torch.eye(c, device=x.device, dtype=sim.dtype)  # never a node's own neighbour
        idx = sim.topk(self.k, dim=-1).indices  # (N, C, k)
        hw = f.shape[-1]
        # W1 f_i + W2 (f_j - f_i) = (W1 - W2) f_i + W2 f_j (W2 has no bias): each linear map runs once per node,
        # and only W2 f_j is gathered per neighbour (4x fewer multiplications than mapping each difference)
        own = self.w1(f) - self.w2(f)
        mapped = self.w2(f)
        neighbours = torch.gather(
            mapped.unsqueeze(1).expand(-1, c, -1, -1), 2, idx.unsqueeze(-1).expand(-1, -1, -1, hw)
        )  # (N, C, k, HW)
        edge = F.relu(own.unsqueeze(2) + neighbours)
        return edge.amax(2).view_as(x)


class F5C(nn.Module):
    """FCC + CCC on one frame's (N, 128, 16, 16) map."""

    def __init__(self) -> None:
        super().__init__()
        self.fcc, self.ccc = FCC(), CCC()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fcc(x) + self.ccc(x)


class MerHead(nn.Module):
    """The 14 stacked F5C maps (N, 128, 14, 16, 16) -> class logits."""

    def __init__(self, num_classes: int, drop_rate: float = 0.5) -> None:
        super().__init__()
        self.conv = nn.Sequential(nn.Conv3d(CHANNELS, 32, 3), nn.ReLU(inplace=True), nn.MaxPool3d(3))
        self.drop = nn.Dropout(drop_rate)
        self.fc1 = nn.Sequential(nn.Linear(32 * 4 * 4 * 4, 256), nn.ReLU(inplace=True))
        self.num_features = 256
        self.fc = nn.Linear(256, num_classes) if num_classes else nn.Identity()

    def forward(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.fc1(self.drop(self.conv(x).flatten(1)))
        return x if pre_logits else self.fc(x)


class LandmarkHead(nn.Module):
    """Frame t+1's F5C map (N, 128, 16, 16) -> its 68 landmarks (N, 68, 2) in 128-pixel coordinates."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(CHANNELS, 32, 3),
            nn.ReLU(inplace=True),
            nn.Flatten(),
            nn.Linear(32 * 14 * 14, 512),
            nn.ReLU(inplace=True),
            nn.Linear(512, 136),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).view(-1, 68, 2)


def correlation(f1: torch.Tensor, f2: torch.Tensor, radius: int = 10, dilation: int = 2) -> torch.Tensor:
    """FlowNetC's correlation: mean over channels of f1 * f2 shifted, (2r+1)^2 displacements of ``dilation``
    pixels: (N, C, H, W) x 2 -> (N, (2r+1)^2, H, W)."""
    reach = radius * dilation
    padded = F.pad(f2, (reach, reach, reach, reach))
    h, w = f1.shape[-2:]
    rows = []
    for dy in range(0, 2 * reach + 1, dilation):  # one row of displacements at a time: (N, C, h, 2r+1, w) views
        windows = padded[:, :, dy : dy + h].unfold(3, w, dilation)
        rows.append((f1.unsqueeze(3) * windows).mean(1))  # (N, h, 2r+1, w)
    return torch.stack(rows, dim=1).permute(0, 1, 3, 2, 4).flatten(1, 2)  # (N, (2r+1)^2, h, w), dy-major


def _conv(i: int, o: int, k: int = 3, s: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(i, o, k, stride=s, padding=k // 2), nn.LeakyReLU(0.1, inplace=True))


def _deconv(i: int, o: int) -> nn.Sequential:
    return nn.Sequential(nn.ConvTranspose2d(i, o, 4, stride=2, padding=1), nn.LeakyReLU(0.1, inplace=True))


class FlowHead(nn.Module):
    """FlowNetC-style: two raw frames (N, 1, 128, 128) and their F5C maps -> flow (N, 2, 128, 128)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.conv2, self.conv3 = _conv(1, 64, 7, 2), _conv(64, 128, 5, 2), _conv(128, 256, 5, 2)
        self.redir = _conv(256, 32, 1)
        self.conv3_1 = _conv(441 + 32 + 2 * CHANNELS, 256)
        self.conv4, self.conv4_1 = _conv(256, 512, s=2), _conv(512, 512)
        self.conv5, self.conv5_1 = _conv(512, 512, s=2), _conv(512, 512)
        self.conv6, self.conv6_1 = _conv(512, 1024, s=2), _conv(1024, 1024)
        # decoder: at each scale a flow estimate, upsampled and concatenated with the skip and the deconv
        dec_in = {5: 1024, 4: 512 + 512 + 2, 3: 512 + 256 + 2, 2: 256 + 128 + 2, 1: 128 + 64 + 2, 0: 64 + 32 + 2}
        dec_out = {5: 512, 4: 256, 3: 128, 2: 64, 1: 32, 0: 16}
        self.deconvs = nn.ModuleDict({str(k): _deconv(dec_in[k], dec_out[k]) for k in dec_in})
        self.predicts = nn.ModuleDict({str(k): nn.Conv2d(dec_in[k], 2, 3, padding=1) for k in dec_in})
        self.upflows = nn.ModuleDict({str(k): nn.ConvTranspose2d(2, 2, 4, 2, 1, bias=False) for k in dec_in})
        self.final = nn.Conv2d(dec_out[0] + 2, 2, 3, padding=1)

    def forward(self, a: torch.Tensor, b: torch.Tensor, ga: torch.Tensor, gb: torch.Tensor) -> torch.Tensor:
        c1a, c1b = self.conv1(a), self.conv1(b)
        c2a, c2b = self.conv2(c1a), self.conv2(c1b)
        c3a, c3b = self.conv3(c2a), self.conv3(c2b)
        x3 = self.conv3_1(torch.cat([correlation(c3a, c3b), self.redir(c3a), ga, gb], dim=1))
        x4 = self.conv4_1(self.conv4(x3))
        x5 = self.conv5_1(self.conv5(x4))
        x = self.conv6_1(self.conv6(x5))
        for k, skip in ((5, x5), (4, x4), (3, x3), (2, c2a), (1, c1a), (0, None)):
            flow = self.upflows[str(k)](self.predicts[str(k)](x))
            x = self.deconvs[str(k)](x)
            x = torch.cat([x, flow] if skip is None else [skip, x, flow], dim=1)
        return self.final(x)


class MicroActionNet(nn.Module):
    """MOL: frame stem, paired F5C blocks, MER head; flow and landmark heads for training.

    Args:
        num_classes: MER head outputs (0: identity; features only).
        in_chans: must be 8 (frames).
        drop_rate: dropout in the MER head (0.5).
        flow_weight: weight of the flow MSE (10).
        landmark_weight: weight of the landmark L1 / inter-ocular distance (0.5).
        aux_pairs: pairs (of 7) per step that train the flow and landmark heads (ours; 7 = all).
        centre_maps: the MER head reads each stream's F5C maps minus their mean over the clip (ours; True).
    """

    def __init__(
        self,
        num_classes: int = 5,
        in_chans: int = FRAMES,
        drop_rate: float = 0.5,
        flow_weight: float = 10.0,
        landmark_weight: float = 0.5,
        aux_pairs: int = PAIRS,
        centre_maps: bool = True,
    ) -> None:
        super().__init__()
        check_in_chans("mer_mol", in_chans, FRAMES)
        if not 1 <= aux_pairs <= PAIRS:
            raise ValueError(f"aux_pairs must be in 1..{PAIRS}, got {aux_pairs}")
        self.num_classes, self.in_chans, self.drop_rate = num_classes, in_chans, drop_rate
        self.flow_weight, self.landmark_weight, self.aux_pairs = flow_weight, landmark_weight, aux_pairs
        self.centre_maps = centre_maps
        self.stem = frame_stem()
        self.f5c_t, self.f5c_t1 = F5C(), F5C()
        self.head = MerHead(num_classes, drop_rate)
        self.landmark_head = LandmarkHead()
        self.flow_head = FlowHead()
        self.num_features = self.head_hidden_size = self.head.num_features
        self.feature_info = [
            dict(num_chs=CHANNELS, reduction=8, module="stem"),
            dict(num_chs=CHANNELS, reduction=8, module="f5c_t"),
            dict(num_chs=CHANNELS, reduction=8, module="f5c_t1"),
        ]

    # --- recognition path ---
    def pair_maps(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, 8, 128, 128) -> F5C maps of frames 0..6 as t and 1..7 as t+1: two (B, 7, 128, 16, 16)."""
        # shapes written without the batch size, so an ONNX export keeps the batch dynamic
        f = self.stem(x.reshape(-1, 1, SIZE, SIZE)).unflatten(0, (-1, FRAMES))
        g_t = self.f5c_t(f[:, :-1].flatten(0, 1)).unflatten(0, (-1, PAIRS))
        g_t1 = self.f5c_t1(f[:, 1:].flatten(0, 1)).unflatten(0, (-1, PAIRS))
        return g_t, g_t1

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 8, 128, 128) -> the 14 stacked F5C maps (B, 128, 14, 16, 16), pairs in order (t, t+1)."""
        return self.stacked(*self.pair_maps(x))

    def stacked(self, g_t: torch.Tensor, g_t1: torch.Tensor) -> torch.Tensor:
        """Two (B, 7, 128, 16, 16) streams -> the MER head's input (B, 128, 14, 16, 16), pairs in order (t, t+1);
        with ``centre_maps`` each stream minus its mean over the 7 pairs (what stays is what changes in time)."""
        if self.centre_maps:
            g_t, g_t1 = g_t - g_t.mean(1, keepdim=True), g_t1 - g_t1.mean(1, keepdim=True)
        return torch.stack([g_t, g_t1], dim=2).flatten(1, 2).transpose(1, 2)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        return self.head(x, pre_logits=pre_logits)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The recognition path: (B, 8, 128, 128) normalised frames -> (B, num_classes) logits."""
        return self.forward_head(self.forward_features(x))

    # --- the auxiliary heads and the loss protocol of mer.engine.train ---
    aux_targets: tuple[str, ...] = ("flow", "landmarks")

    def auxiliary(self, x: torch.Tensor, g_t: torch.Tensor, g_t1: torch.Tensor, pairs: torch.Tensor) -> dict:
        """Flow (B, P, 2, 128, 128) and frame t+1 landmarks (B, P, 68, 2) of the ``pairs`` (indices into 0..6)."""
        b, p = len(x), len(pairs)

        def take(t: torch.Tensor, offset: int) -> torch.Tensor:
            return t[:, pairs + offset].reshape(b * p, *t.shape[2:])

        frames = x.unsqueeze(2)  # (B, 8, 1, 128, 128)
        flow = self.flow_head(take(frames, 0), take(frames, 1), take(g_t, 0), take(g_t1, 0))
        landmarks = self.landmark_head(take(g_t1, 0))
        return {"flow": flow.view(b, p, 2, SIZE, SIZE), "landmarks": landmarks.view(b, p, 68, 2), "pairs": pairs}

    def forward_train(self, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Full network: logits and the auxiliary outputs on ``aux_pairs`` pairs (drawn from torch's RNG)."""
        g_t, g_t1 = self.pair_maps(x)
        logits = self.forward_head(self.stacked(g_t, g_t1))
        pairs = torch.arange(PAIRS) if self.aux_pairs == PAIRS else torch.randperm(PAIRS)[: self.aux_pairs].sort()[0]
        return logits, self.auxiliary(x, g_t, g_t1, pairs.to(x.device))

    def aux_losses(
        self, outputs: dict[str, torch.Tensor], targets: dict[str, torch.Tensor], y: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """``flow``: 10 x MSE against TV-L1 flow (B, 7, 2, 128, 128); ``landmarks``: 0.5 x L1 / inter-ocular
        distance against the 68 points of all 8 frames (B, 8, 68, 2), frame t+1 of each pair."""
        pairs = outputs["pairs"]
        flow_t = targets["flow"][:, pairs].float()
        marks_t = targets["landmarks"][:, pairs + 1].float()
        ocular = (marks_t[:, :, 36] - marks_t[:, :, 45]).norm(dim=-1).clamp_min(1.0)  # (B, P)
        l1 = (outputs["landmarks"].float() - marks_t).abs().mean((-1, -2)) / ocular
        return {
            "flow": self.flow_weight * F.mse_loss(outputs["flow"].float(), flow_t),
            "landmarks": self.landmark_weight * l1.mean(),
        }

    def recognition_path(self) -> nn.Module:
        """A module running only what inference needs (stem, F5C blocks, MER head): this model's ``forward``."""
        return _Recognition(self)

    def full_network(self) -> nn.Module:
        """A module running every head on all 7 pairs: returns (logits, flow, landmarks); for counting and timing."""
        return _Full(self)

    def get_classifier(self) -> nn.Module:
        return self.head.fc

    def reset_classifier(self, num_classes: int, global_pool: str | None = None) -> None:
        self.num_classes = num_classes
        self.head.fc = nn.Linear(self.head.num_features, num_classes) if num_classes else nn.Identity()


class _Recognition(nn.Module):
    def __init__(self, net: MicroActionNet) -> None:
        super().__init__()
        self.stem, self.f5c_t, self.f5c_t1, self.head = net.stem, net.f5c_t, net.f5c_t1, net.head
        self._net = [net]  # not a submodule: the parameters counted are the four above

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._net[0](x)


class _Full(nn.Module):
    def __init__(self, net: MicroActionNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        g_t, g_t1 = self.net.pair_maps(x)
        logits = self.net.forward_head(self.net.stacked(g_t, g_t1))
        aux = self.net.auxiliary(x, g_t, g_t1, torch.arange(PAIRS, device=x.device))
        return logits, aux["flow"], aux["landmarks"]


default_cfgs = generate_default_cfgs(
    {
        "mer_mol": mer_cfg(
            "MOL (Shao et al. 2025), written from the description of its public code: F5C blocks on 8 frames, "
            "flow and landmark heads for training, the recognition path alone at test time; ours: the MER head "
            "reads the F5C maps centred over the clip (centre_maps)",
            modality="frames8",
            first_conv="stem.0",
            classifier="head.fc",
            paper_name="Micro-action-aware deep learning for facial micro-expression recognition (MOL)",
            license=None,
        )
    }
)


@register_model
def mer_mol(pretrained: bool = False, **kwargs: Any) -> MicroActionNet:
    """MOL on (B, 8, 128, 128) grey frames; ``forward`` is the recognition path."""
    return build_mer_model(MicroActionNet, "mer_mol", pretrained, **kwargs)
