"""Plain convolution, pooling and skip blocks: the pieces of VGG-style networks and stems.

``plain`` is conv → BN → activation (Simonyan & Zisserman, "Very Deep Convolutional Networks
for Large-Scale Image Recognition", ICLR 2015, used it without BN: ``norm: none``; LeNet-5 and
AlexNet with their own ``padding``).
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

from ..errors import BlockArgumentError
from .helpers import ConvBnAct
from .registry import Block, OptionRule, int_at_least, register_block


@register_block("plain", abbrev="conv")
class Plain(Block):
    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: int = 1,
        *,
        kernel_size: int = 3,
        groups: int = 1,
        activation: str = "relu",
        norm: str = "bn",
        padding: int | None = None,
    ) -> None:
        super().__init__()
        self.conv = ConvBnAct(
            in_channels, out_channels, kernel_size, stride, groups, activation, norm, padding
        )

    # padding None: 'same' (kernel_size // 2); an integer: PyTorch's explicit zero padding
    option_rules: ClassVar[dict[str, OptionRule]] = {"padding": int_at_least(0)}

    @classmethod
    def output_size(cls, size: int, stride: int, **options: Any) -> int:
        kernel, padding = options.get("kernel_size", 3), options.get("padding")
        if padding is None:
            return (size - 1) // stride + 1
        return max(0, (size + 2 * padding - kernel) // stride + 1)

    @classmethod
    def check(cls, in_channels: int, out_channels: int, stride: int, **options: Any) -> None:
        groups = options["groups"]
        if in_channels % groups or out_channels % groups:
            raise BlockArgumentError(
                cls.name,
                "groups",
                f"{groups} must divide in_channels ({in_channels}) and out_channels"
                f" ({out_channels})",
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


_POOL_RULES = {
    "kernel_size": int_at_least(1),
    "padding": int_at_least(0),
}


class _Pool(Block):
    """Max or average pooling with explicit padding and PyTorch's ceil_mode rule."""

    keeps_channels = True
    option_rules = _POOL_RULES
    pool_class: type[nn.MaxPool2d] | type[nn.AvgPool2d]

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: int = 2,
        *,
        kernel_size: int = 3,
        padding: int = 0,
        ceil_mode: bool = False,
    ) -> None:
        super().__init__()
        self.pool = self.pool_class(kernel_size, stride, padding, ceil_mode=ceil_mode)

    @classmethod
    def check(cls, in_channels: int, out_channels: int, stride: int, **options: Any) -> None:
        if options["padding"] > options["kernel_size"] // 2:
            raise BlockArgumentError(
                cls.name, "padding", "must be at most half of kernel_size (PyTorch's rule)"
            )

    @classmethod
    def output_size(cls, size: int, stride: int, **options: Any) -> int:
        kernel, padding = options.get("kernel_size", 3), options.get("padding", 0)
        span = size + 2 * padding - kernel
        if span < 0:
            return 0
        if not options.get("ceil_mode", False):
            return span // stride + 1
        out = -(-span // stride) + 1
        # PyTorch drops a last window that would start in the right padding.
        if (out - 1) * stride >= size + padding:
            out -= 1
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(x)


@register_block("maxpool", abbrev="maxpool")
class MaxPool(_Pool):
    pool_class = nn.MaxPool2d


@register_block("avgpool", abbrev="avgpool")
class AvgPool(_Pool):
    pool_class = nn.AvgPool2d


@register_block("skip", abbrev="skip")
class Skip(Block):
    """Identity: lets a searcher drop a block (depth search in the DARTS supernet)."""

    keeps_channels = True

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()

    @classmethod
    def check(cls, in_channels: int, out_channels: int, stride: int, **options: Any) -> None:
        if stride != 1:
            raise BlockArgumentError(cls.name, "stride", f"must be 1 for identity, got {stride}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x
