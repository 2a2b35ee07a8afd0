"""Squeeze-and-excitation as a block of its own: Hu et al., "Squeeze-and-Excitation Networks"
(CVPR 2018). Rescales channels; keeps width and resolution. The ``se: true`` option of other
blocks uses the same layer (:class:`~archsearch.blocks.helpers.SqueezeExcite`).
"""

from __future__ import annotations

from typing import Any

import torch

from ..errors import BlockArgumentError
from .helpers import SqueezeExcite
from .registry import Block, register_block


@register_block("se", abbrev="se")
class SqueezeExciteBlock(Block):
    keeps_channels = True

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: int = 1,
        *,
        se_ratio: float = 0.25,
        se_gate: str = "sigmoid",
        activation: str = "relu",
    ) -> None:
        super().__init__()
        self.se = SqueezeExcite(in_channels, se_ratio, activation, se_gate)

    @classmethod
    def check(cls, in_channels: int, out_channels: int, stride: int, **options: Any) -> None:
        if stride != 1:
            raise BlockArgumentError(cls.name, "stride", f"must be 1, got {stride}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.se(x)
