"""The plan of a weight-sharing supernet: its fixed stem and head, and at every searchable
position the candidate ops of the space (block types × their options, plus ``skip`` where a
block may be left out, which searches depth). The one planning function of the one-shot
searchers.

The skeleton — stem, strides, widths, depths, head — comes from the space's own sampling walk
(:meth:`~archsearch.space.SearchSpace.sample_layout`) with a chooser that takes each stage at
its largest listed width, depth and stride (width multiplier 1.0 where allowed, else its
largest; with ``widest``, the largest multiplier and stem width) and the first listed choice
elsewhere, so a supernet follows exactly the stride and width rules that sampling does.

A :class:`SupernetPath` is one network through the supernet: an op per position and, for
searchers that search widths by channel masking, the width each position keeps.
:func:`path_of` maps an Architecture sampled from the space (by the same walk) onto a path.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from ...architecture import Architecture, BlockSpec, Head
from ...blocks import get_block, validate_block_args
from ...data import Dataset
from ...errors import ArchsearchError
from ...space import Distribution, SearchSpace
from ...space.distributions import grid_values
from ...space.sample import scale_width

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
    # the stage widths the space can give (listed channels x width multipliers, by the
    # space's rounding), up to out_channels: what channel masking may keep
    widths: tuple[int, ...] = ()


@dataclass(frozen=True)
class SupernetPath:
    """One network through a supernet: op ``choice[i]`` at position i, keeping the first
    ``widths[i]`` of its output channels, and the first ``stem_width`` of the stem's."""

    choice: tuple[int, ...]
    widths: tuple[int, ...]
    stem_width: int


@dataclass(frozen=True)
class SupernetPlan:
    stem: tuple[BlockSpec, ...]
    positions: tuple[Position, ...]
    head: Head
    in_channels: int
    num_classes: int
    input_size: tuple[int, int]
    stem_widths: tuple[int, ...] = ()

    @property
    def stem_channels(self) -> int:
        return next(b.out_channels for b in reversed(self.stem) if b.out_channels is not None)

    def full_path(self, choice: Sequence[int]) -> SupernetPath:
        """``choice`` at the supernet's own widths."""
        widths = tuple(p.out_channels for p in self.positions)
        return SupernetPath(tuple(choice), widths, self.stem_channels)

    def architecture(self, choice: Sequence[int] | SupernetPath) -> Architecture:
        """The network that takes op ``choice[i]`` at position i (skips leave the stage), at
        the path's widths (the supernet's own for a plain ``choice``)."""
        path = choice if isinstance(choice, SupernetPath) else self.full_path(choice)
        stages: dict[int, list[BlockSpec]] = {}
        for position, index, width in zip(self.positions, path.choice, path.widths, strict=True):
            op = position.ops[index]
            stages.setdefault(position.stage, [])
            if op.block == SKIP:
                continue
            stages[position.stage].append(
                BlockSpec.make(op.block, width, position.stride, **dict(op.options))
            )
        stem = list(self.stem)
        last = max(i for i, b in enumerate(stem) if b.out_channels is not None)
        stem[last] = replace(stem[last], out_channels=path.stem_width)
        return Architecture(
            tuple(stem), tuple(tuple(s) for _, s in sorted(stages.items())), self.head
        )


def stage_choices(plan: SupernetPlan) -> list[list[tuple[int, ...]]]:
    """The op choices the space allows, stage by stage (positions in order): a space picks a
    stage's block and its options once for all the stage's blocks, and its depth, so a
    stage takes one op at its first ``depth`` positions and ``skip`` after — not an op per
    position, which the supernet mixes while it trains. Each stage's list: the positions'
    op indices, one tuple per (op, depth)."""
    stages: dict[int, list[Position]] = {}
    for position in plan.positions:
        stages.setdefault(position.stage, []).append(position)
    out = []
    for positions in stages.values():
        names = [[op.name for op in position.ops] for position in positions]
        options = []
        for name in dict.fromkeys([*names[0], SKIP] if SKIP in names[0] else names[0]):
            depths = [0] if name == SKIP else range(1, len(positions) + 1)
            for depth in depths:
                ops = [name] * depth + [SKIP] * (len(positions) - depth)
                wanted = list(zip(names, ops, strict=True))
                if all(op in row for row, op in wanted):
                    options.append(tuple(row.index(op) for row, op in wanted))
        out.append(options)
    return out


def per_stage(
    choices: list[list[tuple[int, ...]]],
    values: Sequence[Sequence[float]],
    combine: Callable[[Iterable[float]], float],
) -> list[list[float]]:
    """Per-position ``values`` (a row per position, a value per op) as per-stage rows over
    ``choices`` (:func:`stage_choices`), each stage choice's values combined by ``combine``
    (``math.prod`` for probabilities, ``sum`` for costs)."""
    rows, start = [], 0
    for options in choices:
        width = len(options[0])
        rows.append(
            [combine(values[start + k][op] for k, op in enumerate(option)) for option in options]
        )
        start += width
    return rows


def positions_of(choices: list[list[tuple[int, ...]]], picked: Sequence[int]) -> list[int]:
    """A choice per stage (indices into ``choices``) as the op index at every position."""
    return [op for options, index in zip(choices, picked, strict=True) for op in options[index]]


def path_of(plan: SupernetPlan, arch: Architecture) -> SupernetPath:
    """The supernet path of ``arch``, a network of the plan's space: its ops found among each
    position's candidates (at the supernet's width), a stage's missing blocks as ``skip``,
    its widths as the masks. Raises :class:`ArchsearchError` saying what the supernet cannot
    represent (a stem, head or stage count other than the plan's, a wider stage, an op that
    is not a candidate at its position)."""
    stem_width = next(b.out_channels for b in reversed(arch.stem) if b.out_channels is not None)
    widened = tuple(
        replace(b, out_channels=p.out_channels) if b.out_channels is not None else b
        for b, p in zip(arch.stem, plan.stem, strict=False)
    )
    if widened != plan.stem or arch.head != plan.head:
        raise ArchsearchError("one-shot: the stem or head differs from the supernet's")
    stage_count = max((p.stage for p in plan.positions), default=0)
    if len(arch.stages) != stage_count:
        raise ArchsearchError(
            f"one-shot: {len(arch.stages)} stages, the supernet has {stage_count}"
        )
    if stem_width > plan.stem_channels:
        raise ArchsearchError(
            f"one-shot: stem width {stem_width} exceeds the supernet's {plan.stem_channels}"
        )
    choice: list[int] = []
    widths: list[int] = []
    for index, stage in enumerate(arch.stages, start=1):
        positions = [p for p in plan.positions if p.stage == index]
        if len(stage) > len(positions):
            raise ArchsearchError(
                f"one-shot: stage {index} has {len(stage)} blocks, the supernet {len(positions)}"
            )
        width = stage[0].out_channels if stage else positions[0].out_channels
        if width is None or width > positions[0].out_channels:
            raise ArchsearchError(
                f"one-shot: stage {index} width {width} exceeds the supernet's"
                f" {positions[0].out_channels}"
            )
        for depth, position in enumerate(positions):
            if depth < len(stage):
                wanted = replace(stage[depth], out_channels=position.out_channels)
                found = [
                    i
                    for i, op in enumerate(position.ops)
                    if op.block != SKIP and _spec(op, position) == wanted
                ]
            else:
                found = [i for i, op in enumerate(position.ops) if op.block == SKIP]
            if not found:
                what = stage[depth] if depth < len(stage) else "skip"
                raise ArchsearchError(f"one-shot: {what} is not a candidate at {position.name}")
            choice.append(found[0])
            widths.append(width)
    return SupernetPath(tuple(choice), tuple(widths), stem_width)


def _spec(op: CandidateOp, position: Position) -> BlockSpec:
    return BlockSpec.make(op.block, position.out_channels, position.stride, **dict(op.options))


class SupernetChooser:
    """A :class:`~archsearch.space.distributions.Suggester` that picks the supernet's
    skeleton: every stage at its largest width, depth and stride, the width multiplier at 1.0
    where allowed (else its largest), the first choice (or low end) of everything else.
    ``widest``: the largest width multiplier and stem width too, so that every network of the
    space fits inside (for searchers that mask channels)."""

    def __init__(self, widest: bool = False) -> None:
        self.widest = widest

    def _largest(self, name: str) -> bool:
        return (
            name == "num_stages"
            or (name.startswith("stage") and name.endswith((".depth", ".out_channels", ".stride")))
            or (self.widest and name in ("stem.out_channels", "width_multiplier"))
        )

    def suggest_categorical(self, name: str, choices: Any) -> Any:
        if name == "width_multiplier" and not self.widest:
            return 1.0 if 1.0 in choices else max(choices)
        return max(choices) if self._largest(name) else choices[0]

    def suggest_int(
        self, name: str, low: int, high: int, *, step: int = 1, log: bool = False
    ) -> int:
        return high if self._largest(name) else low

    def suggest_float(
        self, name: str, low: float, high: float, *, step: float | None = None, log: bool = False
    ) -> float:
        if name == "width_multiplier" and not self.widest:
            return 1.0 if low <= 1.0 <= high else high
        return high if self._largest(name) else low


class PathSuggester:
    """Samples a network the supernet can run: ``trial`` picks what the supernet varies
    (block types and options, depths, widths, the width multiplier), ``chooser`` the rest
    (how many stages, strides, stem, head, activation: the supernet's own)."""

    def __init__(self, trial: Any, chooser: SupernetChooser) -> None:
        self.trial = trial
        self.chooser = chooser

    @staticmethod
    def _fixed(name: str) -> bool:
        return (
            name in ("num_stages", "activation")
            or name.endswith(".stride")
            or (name.startswith(("stem.", "head.")) and name != "stem.out_channels")
        )

    def suggest_categorical(self, name: str, choices: Any) -> Any:
        target = self.chooser if self._fixed(name) else self.trial
        return target.suggest_categorical(name, choices)

    def suggest_int(
        self, name: str, low: int, high: int, *, step: int = 1, log: bool = False
    ) -> int:
        target = self.chooser if self._fixed(name) else self.trial
        return target.suggest_int(name, low, high, step=step, log=log)

    def suggest_float(
        self, name: str, low: float, high: float, *, step: float | None = None, log: bool = False
    ) -> float:
        target = self.chooser if self._fixed(name) else self.trial
        return target.suggest_float(name, low, high, step=step, log=log)


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


def plan_supernet(
    space: SearchSpace, data: Dataset, max_ops: int = 64, widest: bool = False
) -> SupernetPlan:
    """The supernet's fixed skeleton and the candidate ops at every position (``widest``:
    see :class:`SupernetChooser`)."""
    layout = space.sample_layout(SupernetChooser(widest), data.input_size)
    arch = layout.architecture
    channels = next(b.out_channels for b in reversed(arch.stem) if b.out_channels is not None)
    channels_of_stem = channels
    multipliers = grid_values(space.width_multiplier)

    def widths(listed: Distribution, limit: int) -> tuple[int, ...]:
        scaled = {scale_width(c, m) for c in grid_values(listed) for m in multipliers}
        return tuple(sorted(w for w in scaled if w <= limit)) or (limit,)

    positions = []
    for index, (spec, stage) in enumerate(zip(space.stages, layout.stages, strict=False), 1):
        ops = [
            op
            for kind in spec.block.values() or []
            for op in _op_choices(
                kind, spec.options, spec.block_options.get(kind, {}), layout.activation
            )
        ]
        min_depth = min(grid_values(spec.depth))
        for depth in range(1, stage.depth + 1):
            first = depth == 1
            in_channels = channels if first else stage.out_channels
            stride = stage.stride if first else 1
            valid = [op for op in ops if _fits(op, in_channels, stage.out_channels, stride)]
            if depth > min_depth:  # identity keeps the shape: choosing it drops the block
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
                    widths(spec.out_channels, stage.out_channels),
                )
            )
            channels = stage.out_channels
    return SupernetPlan(
        arch.stem,
        tuple(positions),
        arch.head,
        data.in_channels,
        data.num_classes,
        data.input_size,
        widths(space.stem.out_channels, channels_of_stem),
    )


def _fits(op: CandidateOp, in_channels: int, out_channels: int, stride: int) -> bool:
    try:
        validate_block_args(op.block, in_channels, out_channels, stride, dict(op.options))
    except ArchsearchError:
        return False
    return True
