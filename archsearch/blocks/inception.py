"""GoogLeNet's Inception module: Szegedy et al., "Going Deeper with Convolutions" (CVPR 2015).

Four parallel branches, concatenated: 1x1; 1x1 → 3x3; 1x1 → large; 3x3 max-pool → 1x1. The
large branch is the paper's 5x5 (``large_branch: 5x5``), two 3x3s as in Inception-v2
(``double3x3``), or the single 3x3 that torchvision's GoogLeNet has (``3x3``; kept there for
its pretrained weights). Branch widths are arguments; left out, they follow module 3a's
proportions (1/4, 1/2, 1/8, 1/8 of the output, reductions 3/4 and 1/2 of their branch).
A stride > 1 strides every branch (the 1x1s, the spatial convs and the pool).
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import torch
from torch import nn

from ..errors import BlockArgumentError
from .helpers import ConvBnAct, SqueezeExcite
from .registry import Block, OptionRule, int_at_least, register_block

WIDTH_FIELDS = ("ch1x1", "ch3x3red", "ch3x3", "ch5x5red", "ch5x5", "pool_proj")


def inception_widths(out_channels: int) -> dict[str, int]:
    """Branch widths from the output width, in the proportions of GoogLeNet's module 3a."""
    ch1x1 = max(1, round(out_channels / 4))
    ch3x3 = max(1, round(out_channels / 2))
    ch5x5 = max(1, round(out_channels / 8))
    pool_proj = out_channels - ch1x1 - ch3x3 - ch5x5
    return {
        "ch1x1": ch1x1,
        "ch3x3red": max(1, round(ch3x3 * 3 / 4)),
        "ch3x3": ch3x3,
        "ch5x5red": max(1, round(ch5x5 / 2)),
        "ch5x5": ch5x5,
        "pool_proj": pool_proj,
    }


def _resolve_widths(out_channels: int, options: dict[str, Any]) -> dict[str, int]:
    given = {f: options.get(f) for f in WIDTH_FIELDS}
    if all(v is None for v in given.values()):
        return inception_widths(out_channels)
    return given  # type: ignore[return-value]


@register_block("inception", abbrev="incep")
class Inception(Block):
    option_rules: ClassVar[dict[str, OptionRule]] = dict.fromkeys(WIDTH_FIELDS, int_at_least(1))

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: int = 1,
        *,
        ch1x1: int | None = None,
        ch3x3red: int | None = None,
        ch3x3: int | None = None,
        ch5x5red: int | None = None,
        ch5x5: int | None = None,
        pool_proj: int | None = None,
        large_branch: Literal["5x5", "3x3", "double3x3"] = "5x5",
        se: bool = False,
        se_ratio: float = 0.0625,
        activation: str = "relu",
    ) -> None:
        super().__init__()
        w = _resolve_widths(
            out_channels,
            {
                "ch1x1": ch1x1,
                "ch3x3red": ch3x3red,
                "ch3x3": ch3x3,
                "ch5x5red": ch5x5red,
                "ch5x5": ch5x5,
                "pool_proj": pool_proj,
            },
        )
        act = activation
        self.branch1 = ConvBnAct(in_channels, w["ch1x1"], 1, stride, activation=act)
        self.branch2 = nn.Sequential(
            ConvBnAct(in_channels, w["ch3x3red"], 1, activation=act),
            ConvBnAct(w["ch3x3red"], w["ch3x3"], 3, stride, activation=act),
        )
        large: list[nn.Module] = [ConvBnAct(in_channels, w["ch5x5red"], 1, activation=act)]
        if large_branch == "5x5":
            large.append(ConvBnAct(w["ch5x5red"], w["ch5x5"], 5, stride, activation=act))
        elif large_branch == "3x3":
            large.append(ConvBnAct(w["ch5x5red"], w["ch5x5"], 3, stride, activation=act))
        else:
            large.append(ConvBnAct(w["ch5x5red"], w["ch5x5"], 3, activation=act))
            large.append(ConvBnAct(w["ch5x5"], w["ch5x5"], 3, stride, activation=act))
        self.branch3 = nn.Sequential(*large)
        self.branch4 = nn.Sequential(
            nn.MaxPool2d(3, stride, padding=1),
            ConvBnAct(in_channels, w["pool_proj"], 1, activation=act),
        )
        self.se = SqueezeExcite(out_channels, se_ratio, act) if se else nn.Identity()

    @classmethod
    def check(cls, in_channels: int, out_channels: int, stride: int, **options: Any) -> None:
        given = [f for f in WIDTH_FIELDS if options.get(f) is not None]
        if given and len(given) != len(WIDTH_FIELDS):
            missing = [f for f in WIDTH_FIELDS if f not in given]
            raise BlockArgumentError(
                cls.name, missing[0], "give all six branch widths or none of them"
            )
        widths = _resolve_widths(out_channels, options)
        for field, value in widths.items():
            if value < 1:
                raise BlockArgumentError(
                    cls.name,
                    field if given else "out_channels",
                    f"branch width {field} would be {value}; out_channels must be at least 8",
                )
        total = widths["ch1x1"] + widths["ch3x3"] + widths["ch5x5"] + widths["pool_proj"]
        if total != out_channels:
            raise BlockArgumentError(
                cls.name,
                "out_channels",
                f"{out_channels} differs from the sum of branch widths ch1x1 + ch3x3 + ch5x5"
                f" + pool_proj = {total}",
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branches = [self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)]
        return self.se(torch.cat(branches, 1))
