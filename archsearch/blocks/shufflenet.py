"""ShuffleNetV2 unit: Ma et al., "ShuffleNet V2: Practical Guidelines for Efficient CNN
Architecture Design" (ECCV 2018), Figure 3 (c) and (d).

Stride 1 with the width unchanged, (c): split the channels in half, keep one half, run the
other through 1x1 → depthwise kxk → 1x1, concatenate and shuffle. Otherwise, (d): both halves
of the output come from the whole input, one through depthwise kxk (strided) → 1x1, one through
1x1 → depthwise kxk (strided) → 1x1; concatenate and shuffle. The layout is torchvision's, so
the zoo's ShuffleNetV2 has its exact parameter counts. Optional SE on the computed branch
(as in ShuffleNetV2+).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..errors import BlockArgumentError
from .helpers import ChannelShuffle, ConvBnAct, SqueezeExcite
from .registry import Block, register_block


@register_block("shuffle", abbrev="shuf")
class ShuffleUnit(Block):
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
        branch = out_channels // 2
        self.split = stride == 1 and in_channels == out_channels
        if not self.split:
            self.branch1 = nn.Sequential(
                ConvBnAct(in_channels, in_channels, kernel_size, stride, in_channels, "none"),
                ConvBnAct(in_channels, branch, 1, activation=activation),
            )
        branch_in = branch if self.split else in_channels
        self.branch2 = nn.Sequential(
            # pw
            ConvBnAct(branch_in, branch, 1, activation=activation),
            # dw (no activation, as in the paper)
            ConvBnAct(branch, branch, kernel_size, stride, branch, "none"),
            # pw
            ConvBnAct(branch, branch, 1, activation=activation),
            SqueezeExcite(branch, se_ratio, activation) if se else nn.Identity(),
        )
        self.shuffle = ChannelShuffle(2)

    @classmethod
    def check(cls, in_channels: int, out_channels: int, stride: int, **options: Any) -> None:
        if out_channels % 2:
            raise BlockArgumentError(
                cls.name, "out_channels", f"must be even (two equal branches), got {out_channels}"
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.split:
            kept, computed = x.chunk(2, dim=1)
            out = torch.cat((kept, self.branch2(computed)), 1)
        else:
            out = torch.cat((self.branch1(x), self.branch2(x)), 1)
        return self.shuffle(out)
