"""The two feature extractors: GFEM (ResNet, global face) and LTFEM (Inception-v3 modules, AU regions).

Both are assembled from timm's own blocks and both end on a stride-16 grid (18 x 15 and 17 x 14 cells for a
282 x 231 input), fine enough for CAFFM's spatial attention and for Grad-CAM.

GFEM, the paper's "ResNet-12": timm's :class:`~timm.models.resnet.ResNet` with a 7x7 stride-2 stem and
max-pool, then five :class:`~timm.models.resnet.BasicBlock` in four stages ``(2, 1, 1, 1)`` of widths ``(64,
160, 256, 256)``: 12 weighted layers counted the torchvision way (stem conv + 2 per block + classifier). The
last stage is dilated instead of strided (``output_stride=16``). The Table 5 variants keep stem, widths and
stride and change only the block repeats: ResNet-18 ``(2, 2, 2, 2)``, ResNet-34 ``(3, 4, 6, 3)``.

LTFEM: the Inception-v3 stem (padded, so the grid is ``ceil(H / 8)`` before the reduction), three
:class:`~timm.models.inception_v3.InceptionA` (``Mixed_5b-d``), the grid reduction
:class:`~timm.models.inception_v3.InceptionB` (``Mixed_6a``) and three
:class:`~timm.models.inception_v3.InceptionC` with 128 7x7-channels (``Mixed_6b-d``); 768 channels out.
"""

from __future__ import annotations

from collections import OrderedDict
from functools import partial
from typing import Any

import torch.nn as nn
from timm.layers import ConvNormAct
from timm.models.inception_v3 import InceptionA, InceptionB, InceptionC
from timm.models.resnet import BasicBlock, ResNet

GFEM_LAYERS = {12: (2, 1, 1, 1), 18: (2, 2, 2, 2), 34: (3, 4, 6, 3)}
GFEM_CHANNELS = (64, 160, 256, 256)


def global_branch(
    in_chans: int = 3,
    layers: tuple[int, ...] = GFEM_LAYERS[12],
    channels: tuple[int, ...] = GFEM_CHANNELS,
    output_stride: int = 16,
) -> ResNet:
    """GFEM backbone: a timm ResNet of BasicBlocks without pooling or classifier.

    Args:
        in_chans: modality channels it reads (the AU mask channel is not among them).
        layers: BasicBlocks per stage.
        channels: width of each stage.
        output_stride: 16 dilates the last stage (grid 18 x 15 at 282 x 231), 32 keeps it strided.

    Returns:
        ``ResNet`` whose ``forward_features`` maps (B, in_chans, H, W) to (B, channels[-1], H/16, W/16);
        its ``feature_info`` names the stages ``act1``, ``layer1`` ... ``layer4``.
    """
    return ResNet(
        BasicBlock,
        layers,
        channels=channels,
        in_chans=in_chans,
        output_stride=output_stride,
        num_classes=0,
        global_pool="",
    )


class LocalBranch(nn.Sequential):
    """LTFEM backbone: Inception-v3 stem and modules, (B, in_chans, H, W) -> (B, 768, ~H/16, ~W/16).

    Module names follow timm's ``InceptionV3`` (``Conv2d_1a_3x3`` ... ``Mixed_6d``) so its layers are
    recognisable; ``feature_info`` lists the stage ends with their channels and stride.

    Args:
        in_chans: modality channels it reads (already multiplied by the AU mask).
        channels_7x7: the 7x7-factorised width of each InceptionC module after the grid reduction.
    """

    def __init__(self, in_chans: int = 3, channels_7x7: tuple[int, ...] = (128, 128, 128)) -> None:
        # timm's Inception-v3 convs: no padding unless a block asks for it, BN eps 1e-3.
        conv = partial(ConvNormAct, padding=0, norm_kwargs=dict(eps=1e-3), act_kwargs=dict(inplace=True))
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        # Padded stem: keeps 282 x 231 on a ceil(H/2^k) grid, so the AU regions near the crop border survive.
        layers["Conv2d_1a_3x3"] = conv(in_chans, 32, kernel_size=3, stride=2, padding=1)
        layers["Conv2d_2a_3x3"] = conv(32, 32, kernel_size=3, padding=1)
        layers["Conv2d_2b_3x3"] = conv(32, 64, kernel_size=3, padding=1)
        layers["Pool1"] = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        layers["Conv2d_3b_1x1"] = conv(64, 80, kernel_size=1)
        layers["Conv2d_4a_3x3"] = conv(80, 192, kernel_size=3, padding=1)
        layers["Pool2"] = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        layers["Mixed_5b"] = InceptionA(192, pool_features=32, conv_block=conv)
        layers["Mixed_5c"] = InceptionA(256, pool_features=64, conv_block=conv)
        layers["Mixed_5d"] = InceptionA(288, pool_features=64, conv_block=conv)
        layers["Mixed_6a"] = InceptionB(288, conv_block=conv)
        names_6 = [f"Mixed_6{chr(ord('b') + i)}" for i in range(len(channels_7x7))]
        for name, c7 in zip(names_6, channels_7x7, strict=True):
            layers[name] = InceptionC(768, channels_7x7=c7, conv_block=conv)
        super().__init__(layers)
        self.num_features = 768
        if not names_6:
            raise ValueError("LocalBranch needs at least one InceptionC module (channels_7x7)")
        self.last_stage = names_6[-1]
        self.feature_info: list[dict[str, Any]] = [
            dict(num_chs=64, reduction=2, module="Conv2d_2b_3x3"),
            dict(num_chs=192, reduction=4, module="Conv2d_4a_3x3"),
            dict(num_chs=288, reduction=8, module="Mixed_5d"),
            dict(num_chs=768, reduction=16, module="Mixed_6a"),
            dict(num_chs=768, reduction=16, module=self.last_stage),
        ]
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
