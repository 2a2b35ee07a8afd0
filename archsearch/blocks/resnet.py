"""ResNet blocks: He et al., "Deep Residual Learning for Image Recognition" (CVPR 2016).

``residual`` is the basic block (two kxk convs) of ResNet-18/34; ``bottleneck`` the 1x1 → kxk
→ 1x1 block of ResNet-50/101 with the stride on the kxk conv (torchvision's layout, "ResNet
v1.5"). Both take a projection shortcut (1x1 conv + BN) when the shape changes, and an optional
squeeze-and-excitation on the residual branch before the addition (Hu et al., SE-ResNet).
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

from ..errors import BlockArgumentError
from .helpers import ConvBnAct, SqueezeExcite, create_act
from .registry import Block, OptionRule, int_at_least, register_block


def _shortcut(in_channels: int, out_channels: int, stride: int) -> nn.Module:
    if stride == 1 and in_channels == out_channels:
        return nn.Identity()
    return ConvBnAct(in_channels, out_channels, 1, stride, activation="none")


@register_block("residual", abbrev="res")
class Residual(Block):
    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: int = 1,
        *,
        kernel_size: int = 3,
        se: bool = False,
        se_ratio: float = 0.0625,
        activation: str = "relu",
    ) -> None:
        super().__init__()
        # branch
        self.conv1 = ConvBnAct(
            in_channels, out_channels, kernel_size, stride, activation=activation
        )
        self.conv2 = ConvBnAct(out_channels, out_channels, kernel_size, activation="none")
        self.se = SqueezeExcite(out_channels, se_ratio, activation) if se else nn.Identity()
        self.shortcut = _shortcut(in_channels, out_channels, stride)
        self.act = create_act(activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.se(self.conv2(self.conv1(x))) + self.shortcut(x))


@register_block("bottleneck", abbrev="bneck")
class Bottleneck(Block):
    option_rules: ClassVar[dict[str, OptionRule]] = {"expansion": int_at_least(1)}

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: int = 1,
        *,
        kernel_size: int = 3,
        expansion: int = 4,
        groups: int = 1,
        se: bool = False,
        se_ratio: float = 0.0625,
        activation: str = "relu",
    ) -> None:
        super().__init__()
        width = out_channels // expansion
        # reduce → spatial (strided, optionally grouped as in ResNeXt) → expand
        self.conv1 = ConvBnAct(in_channels, width, 1, activation=activation)
        self.conv2 = ConvBnAct(width, width, kernel_size, stride, groups, activation)
        self.conv3 = ConvBnAct(width, out_channels, 1, activation="none")
        self.se = SqueezeExcite(out_channels, se_ratio, activation) if se else nn.Identity()
        self.shortcut = _shortcut(in_channels, out_channels, stride)
        self.act = create_act(activation)

    @classmethod
    def check(cls, in_channels: int, out_channels: int, stride: int, **options: Any) -> None:
        expansion, groups = options["expansion"], options["groups"]
        if out_channels % expansion:
            raise BlockArgumentError(
                cls.name,
                "out_channels",
                f"{out_channels} is not divisible by expansion {expansion}",
            )
        width = out_channels // expansion
        if width % groups:
            raise BlockArgumentError(
                cls.name, "groups", f"{groups} does not divide the inner width {width}"
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.se(self.conv3(self.conv2(self.conv1(x))))
        return self.act(out + self.shortcut(x))
