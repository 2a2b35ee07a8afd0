"""The weight-sharing supernet of a plan: a mixed operation at every position (Liu et al.,
DARTS, ICLR 2019: Σ softmax(α/τ)·op(x)), or, given an index, one path through it (GDAS,
FBNet; single-path one-shot)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ...blocks import create_block
from ...build import ClassifierHead, init_weights
from .plan import SKIP, Position, SupernetPlan


class MixedOp(nn.Module):
    """Σ w_i·op_i(x) over a position's candidates; with ``index``, only op ``index`` runs."""

    def __init__(self, position: Position) -> None:
        super().__init__()
        self.candidates = nn.ModuleList(
            nn.Identity()
            if op.block == SKIP
            else create_block(
                op.block,
                position.in_channels,
                position.out_channels,
                position.stride,
                **dict(op.options),
            )
            for op in position.ops
        )

    def forward(
        self, x: torch.Tensor, weights: torch.Tensor, index: int | None = None
    ) -> torch.Tensor:
        if index is not None:
            return weights[index] * self.candidates[index](x)
        return sum(w * op(x) for w, op in zip(weights, self.candidates, strict=True))


class Supernet(nn.Module):
    def __init__(self, plan: SupernetPlan) -> None:
        super().__init__()
        channels = plan.in_channels
        stem = []
        for block in plan.stem:
            out = channels if block.out_channels is None else block.out_channels
            stem.append(create_block(block.type, channels, out, block.stride, **block.kwargs))
            channels = out
        self.stem = nn.Sequential(*stem)
        self.mixed = nn.ModuleList(MixedOp(p) for p in plan.positions)
        last = plan.positions[-1].out_channels if plan.positions else channels
        self.head = ClassifierHead(plan.head, last, plan.num_classes)
        self.alphas = nn.ParameterList(
            nn.Parameter(1e-3 * torch.randn(len(p.ops))) for p in plan.positions
        )
        init_weights(self)

    def weight_parameters(self) -> list[nn.Parameter]:
        return [p for name, p in self.named_parameters() if not name.startswith("alphas")]

    def probabilities(self, tau: float = 1.0) -> list[torch.Tensor]:
        return [F.softmax(a / tau, dim=0) for a in self.alphas]

    def forward(self, x: torch.Tensor, mode: str = "full", tau: float = 1.0) -> torch.Tensor:
        x = self.stem(x)
        for mixed, alpha in zip(self.mixed, self.alphas, strict=True):
            if mode == "gumbel":
                hard = F.gumbel_softmax(alpha, tau=tau, hard=True)
                x = mixed(x, hard, int(hard.argmax()))
            else:
                x = mixed(x, F.softmax(alpha / tau, dim=0))
        return self.head(x)
