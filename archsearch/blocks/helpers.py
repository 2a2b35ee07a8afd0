"""Shared layers and factories for the blocks: activations, conv-BN-act, SE, channel shuffle."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": lambda: nn.ReLU(inplace=True),
    "relu6": lambda: nn.ReLU6(inplace=True),
    "hardswish": lambda: nn.Hardswish(inplace=True),
    "silu": lambda: nn.SiLU(inplace=True),
    "gelu": nn.GELU,
    "tanh": nn.Tanh,  # LeNet-5's squashing function
    "leaky_relu": lambda: nn.LeakyReLU(0.1, inplace=True),
    "none": nn.Identity,
}
GATES: dict[str, Callable[[], nn.Module]] = {
    "sigmoid": nn.Sigmoid,
    "hardsigmoid": nn.Hardsigmoid,
}
NORMS = ("bn", "none")


def create_act(name: str) -> nn.Module:
    """Activation layer by name (``relu``, ``relu6``, ``hardswish``, ``silu``, ``gelu`` ...)."""
    try:
        return ACTIVATIONS[name]()
    except KeyError:
        raise ValueError(
            f"unknown activation '{name}' (known: {', '.join(ACTIVATIONS)})"
        ) from None


def make_divisible(value: float, divisor: int = 8, round_limit: float = 0.9) -> int:
    """Round a channel count to a multiple of ``divisor``, never more than 10% below ``value``.

    The rule of the MobileNet and EfficientNet reference code, so width multipliers give the
    channel counts those papers report.
    """
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    if rounded < round_limit * value:
        rounded += divisor
    return rounded


def same_padding(kernel_size: int) -> int:
    return kernel_size // 2


class ConvBnAct(nn.Sequential):
    """Conv → BatchNorm → activation; without a norm the conv carries a bias (as in VGG).

    ``padding`` None is 'same' padding (``kernel_size // 2``); LeNet-5 and AlexNet set theirs.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        stride: int = 1,
        groups: int = 1,
        activation: str = "relu",
        norm: str = "bn",
        padding: int | None = None,
    ) -> None:
        super().__init__()
        self.conv = nn.Conv2d(
            in_channels,
            out_channels,
            kernel_size,
            stride=stride,
            padding=same_padding(kernel_size) if padding is None else padding,
            groups=groups,
            bias=norm == "none",
        )
        if norm == "bn":
            self.bn = nn.BatchNorm2d(out_channels)
        self.act = create_act(activation)


class SqueezeExcite(nn.Module):
    """Channel attention of Hu et al., "Squeeze-and-Excitation Networks" (CVPR 2018).

    Global average pool → 1x1 reduce (with bias) → activation → 1x1 expand → gate → rescale.
    The reduced width is ``make_divisible(channels * ratio)``; ratio 1/16 is the paper's.
    """

    def __init__(
        self, channels: int, ratio: float = 0.25, activation: str = "relu", gate: str = "sigmoid"
    ) -> None:
        super().__init__()
        reduced = make_divisible(channels * ratio)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.reduce = nn.Conv2d(channels, reduced, 1)
        self.act = create_act(activation)
        self.expand = nn.Conv2d(reduced, channels, 1)
        self.gate = GATES[gate]()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = self.gate(self.expand(self.act(self.reduce(self.pool(x)))))
        return x * scale


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """Interleave channels across ``groups`` (ShuffleNet): reshape, transpose, flatten."""
    batch, channels, height, width = x.shape
    x = x.view(batch, groups, channels // groups, height, width)
    return x.transpose(1, 2).contiguous().view(batch, channels, height, width)


class ChannelShuffle(nn.Module):
    """Module form of :func:`channel_shuffle`, so profilers see it as its own layer."""

    def __init__(self, groups: int) -> None:
        super().__init__()
        self.groups = groups

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return channel_shuffle(x, self.groups)

    def extra_repr(self) -> str:
        return f"groups={self.groups}"
