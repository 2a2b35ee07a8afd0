"""MobileNet blocks.

``dwsep``: Howard et al., "MobileNets: Efficient Convolutional Neural Networks for Mobile
Vision Applications" (2017): depthwise kxk → BN → act, pointwise 1x1 → BN → act.

``mbconv``: Sandler et al., "MobileNetV2: Inverted Residuals and Linear Bottlenecks"
(CVPR 2018): 1x1 expand by t → depthwise kxk → 1x1 project with no activation (the linear
bottleneck); the input is added back when the stride is 1 and the width is unchanged. With
``expansion: 1`` the expansion conv is left out, as in the paper's first block.

Both take an optional squeeze-and-excitation after the depthwise conv (MobileNetV3's place).
"""

from __future__ import annotations

import torch
from torch import nn

from .helpers import ConvBnAct, SqueezeExcite
from .registry import Block, register_block


@register_block("dwsep", abbrev="dw")
class DepthwiseSeparable(Block):
    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: int = 1,
        *,
        kernel_size: int = 3,
        se: bool = False,
        se_ratio: float = 0.25,
        activation: str = "relu",
    ) -> None:
        super().__init__()
        # dw
        self.conv_dw = ConvBnAct(
            in_channels, in_channels, kernel_size, stride, in_channels, activation
        )
        self.se = SqueezeExcite(in_channels, se_ratio, activation) if se else nn.Identity()
        # pw
        self.conv_pw = ConvBnAct(in_channels, out_channels, 1, activation=activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv_pw(self.se(self.conv_dw(x)))


@register_block("mbconv", abbrev="mb")
class InvertedResidual(Block):
    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: int = 1,
        *,
        kernel_size: int = 3,
        expansion: float = 6,
        se: bool = False,
        se_ratio: float = 0.25,
        activation: str = "relu6",
    ) -> None:
        super().__init__()
        hidden = round(in_channels * expansion)
        self.use_residual = stride == 1 and in_channels == out_channels
        # pw
        self.conv_pw = (
            ConvBnAct(in_channels, hidden, 1, activation=activation)
            if hidden != in_channels
            else nn.Identity()
        )
        # dw
        self.conv_dw = ConvBnAct(hidden, hidden, kernel_size, stride, hidden, activation)
        self.se = SqueezeExcite(hidden, se_ratio, activation) if se else nn.Identity()
        # pw-linear
        self.conv_pwl = ConvBnAct(hidden, out_channels, 1, activation="none")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv_pwl(self.se(self.conv_dw(self.conv_pw(x))))
        return x + out if self.use_residual else out
