"""The plan of a weight-sharing supernet: its fixed stem and head, and at every searchable
position the candidate ops of the space (block types × their options, plus ``skip`` where a
block may be left out, which searches depth). The one planning function of the one-shot
searchers.

The skeleton — stem, strides, widths, depths, head — comes from the space's own sampling walk
(:meth:`~archsearch.space.SearchSpace.sample_layout`) with a chooser that takes each stage at
its largest listed width, depth and stride (width multiplier 1.0 where allowed, else its
largest) and the first listed choice elsewhere, so a supernet follows exactly the stride and
width rules that sampling does.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ...architecture import Architecture, BlockSpec, Head
from ...blocks import get_block, validate_block_args
from ...data import Dataset
from ...errors import ArchsearchError
from ...space import Distribution, SearchSpace
from ...space.distributions import grid_values

SKIP = "skip"


@dataclass(frozen=True)
class CandidateOp:
    block: str
    options: tuple[tuple[str, Any], ...] = ()

    @property
    def name(self) -> str:
        if self.block == SKIP:
            return SKIP
        spec = BlockSpec(self.block, None, 1, self.options)
        return str(spec)


@dataclass(frozen=True)
class Position:
    name: str  # "stage2.block1"
    stage: int
    in_channels: int
    out_channels: int
    stride: int
    in_size: tuple[int, int]
    ops: tuple[CandidateOp, ...]


@dataclass(frozen=True)
class SupernetPlan:
    stem: tuple[BlockSpec, ...]
    positions: tuple[Position, ...]
    head: Head
    in_channels: int
    num_classes: int
    input_size: tuple[int, int]

    def architecture(self, choice: Sequence[int]) -> Architecture:
        """The network that takes op ``choice[i]`` at position i (skips leave the stage)."""
        stages: dict[int, list[BlockSpec]] = {}
        for position, index in zip(self.positions, choice, strict=True):
            op = position.ops[index]
            stages.setdefault(position.stage, [])
            if op.block == SKIP:
                continue
            stages[position.stage].append(
                BlockSpec.make(
                    op.block, position.out_channels, position.stride, **dict(op.options)
                )
            )
        return Architecture(
            self.stem, tuple(tuple(s) for _, s in sorted(stages.items())), self.head
        )


class SupernetChooser:
    """A :class:`~archsearch.space.distributions.Suggester` that picks the supernet's
    skeleton: every stage at its largest width, depth and stride, the width multiplier at 1.0
    where allowed (else its largest), the first choice (or low end) of everything else."""

    def _largest(self, name: str) -> bool:
        return name == "num_stages" or (
            name.startswith("stage") and name.endswith((".depth", ".out_channels", ".stride"))
        )

    def suggest_categorical(self, name: str, choices: Any) -> Any:
        if name == "width_multiplier":
            return 1.0 if 1.0 in choices else max(choices)
        return max(choices) if self._largest(name) else choices[0]

    def suggest_int(
        self, name: str, low: int, high: int, *, step: int = 1, log: bool = False
    ) -> int:
        return high if self._largest(name) else low

    def suggest_float(
        self, name: str, low: float, high: float, *, step: float | None = None, log: bool = False
    ) -> float:
        if name == "width_multiplier":
            return 1.0 if low <= 1.0 <= high else high
        return high if self._largest(name) else low


def _op_choices(
    kind: str, options: dict[str, Distribution], own: dict[str, Distribution], activation: str
) -> list[CandidateOp]:
    accepted = get_block(kind).options
    grids: dict[str, list[Any]] = {}
    for name, dist in options.items():
        if name in accepted:
            grids[name] = grid_values(dist)
    for name, dist in own.items():
        grids[name] = grid_values(dist)
    if "activation" in accepted:
        grids.setdefault("activation", [activation])
    names = sorted(grids)
    return [
        CandidateOp(kind, tuple(zip(names, values, strict=True)))
        for values in itertools.product(*(grids[n] for n in names))
    ]


def plan_supernet(space: SearchSpace, data: Dataset, max_ops: int = 64) -> SupernetPlan:
    """The supernet's fixed skeleton and the candidate ops at every position."""
    layout = space.sample_layout(SupernetChooser(), data.input_size)
    arch = layout.architecture
    channels = next(b.out_channels for b in reversed(arch.stem) if b.out_channels is not None)
    positions = []
    for index, (spec, stage) in enumerate(zip(space.stages, layout.stages, strict=False), 1):
        ops = [
            op
            for kind in spec.block.values() or []
            for op in _op_choices(
                kind, spec.options, spec.block_options.get(kind, {}), layout.activation
            )
        ]
        for depth in range(1, stage.depth + 1):
            first = depth == 1
            in_channels = channels if first else stage.out_channels
            stride = stage.stride if first else 1
            valid = [op for op in ops if _fits(op, in_channels, stage.out_channels, stride)]
            if not first:  # identity keeps the shape: choosing it drops the block (depth)
                valid.append(CandidateOp(SKIP))
            if not valid:
                raise ArchsearchError(
                    f"supernet: no candidate op fits stage {index}, block {depth}"
                )
            if len(valid) > max_ops:
                raise ArchsearchError(
                    f"supernet: {len(valid)} candidate ops at stage {index}, block {depth}, more"
                    f" than {max_ops}: fix some options in the space file"
                )
            positions.append(
                Position(
                    f"stage{index}.block{depth}",
                    index,
                    in_channels,
                    stage.out_channels,
                    stride,
                    stage.in_size if first else stage.out_size,
                    tuple(valid),
                )
            )
            channels = stage.out_channels
    return SupernetPlan(
        arch.stem, tuple(positions), arch.head, data.in_channels, data.num_classes, data.input_size
    )


def _fits(op: CandidateOp, in_channels: int, out_channels: int, stride: int) -> bool:
    try:
        validate_block_args(op.block, in_channels, out_channels, stride, dict(op.options))
    except ArchsearchError:
        return False
    return True
