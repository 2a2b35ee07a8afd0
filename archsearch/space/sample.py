"""Sampling a space: one walk from a space and a trial (anything with Optuna's ``suggest_*``)
to an :class:`~archsearch.Architecture`, with the space's stride and width rules.

Every searcher goes through :func:`sample_layout`: the Optuna searchers with a trial, the
one-shot supernets with a :class:`~archsearch.space.distributions.Suggester` that picks the
supernet's widths and depths, and :func:`distributions` with one that records every
parameter the walk can create. The rules:

- ``stem.stride: auto`` is 2 for inputs of at least :data:`AUTO_STRIDE_MIN_SIZE` pixels, else
  1; ``stem.pool: auto`` adds a 3x3/2 max-pool for inputs of at least
  :data:`AUTO_POOL_MIN_SIZE` pixels;
- a stride-2 step that would take the feature map below ``min_feature_size`` runs at stride 1;
- widths are the listed channels times the width multiplier, rounded by ``make_divisible``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from ..architecture import Architecture, BlockSpec, Head
from ..blocks.helpers import make_divisible
from ..blocks.registry import get_block
from ..errors import ArchsearchError, SpaceError
from .distributions import Categorical, Distribution, Fixed, FloatRange, IntRange, Suggester

if TYPE_CHECKING:
    from .spec import SearchSpace, StageSpec

AUTO_STRIDE_MIN_SIZE = 64  # stem.stride auto: downsample in the stem only for images this big
AUTO_POOL_MIN_SIZE = 128  # stem.pool auto: ImageNet-sized inputs get ResNet's stem max-pool


def scale_width(channels: int, multiplier: float) -> int:
    """A listed width under the width multiplier (rounded to a multiple of 8)."""
    return channels if multiplier == 1 else make_divisible(channels * multiplier)


@dataclass
class FeatureMap:
    """The feature map's size as strides apply, under the ``min_feature_size`` rule: a
    stride-2 step that would take it below that side runs at stride 1."""

    size: list[int]
    min_feature_size: int

    def downsample(self, stride: int) -> int:
        """Apply ``stride`` (or 1, by the rule); returns the stride applied."""
        if stride > 1 and math.ceil(min(self.size) / stride) < self.min_feature_size:
            stride = 1
        self.size[0], self.size[1] = (math.ceil(side / stride) for side in self.size)
        return stride


def fit_to_input(
    arch: Architecture,
    input_size: tuple[int, int],
    width_multiplier: float = 1.0,
    min_feature_size: int = 2,
) -> Architecture:
    """A network written for ImageNet (a zoo entry) fitted to a small input by the rules a
    space's ``auto`` stem and its strides follow: the stem downsamples only for inputs of at
    least :data:`AUTO_STRIDE_MIN_SIZE` and keeps its max-pool only for
    :data:`AUTO_POOL_MIN_SIZE`, a stride-2 step that would go below ``min_feature_size`` runs
    at stride 1, and every width (the head's conv too) is scaled by ``width_multiplier``."""
    side = min(input_size)
    feature_map = FeatureMap(list(input_size), min_feature_size)

    def scaled(block: BlockSpec, stride: int) -> BlockSpec:
        channels = block.out_channels
        return replace(
            block,
            out_channels=None if channels is None else scale_width(channels, width_multiplier),
            stride=feature_map.downsample(stride),
        )

    stem = tuple(
        scaled(block, block.stride if side >= AUTO_STRIDE_MIN_SIZE else 1)
        for block in arch.stem
        if block.type != "maxpool" or side >= AUTO_POOL_MIN_SIZE
    )
    stages = tuple(tuple(scaled(block, block.stride) for block in stage) for stage in arch.stages)
    conv = arch.head.conv_channels
    head = replace(arch.head, conv_channels=scale_width(conv, width_multiplier) if conv else 0)
    return Architecture(stem=stem, stages=stages, head=head)


@dataclass(frozen=True)
class StageLayout:
    """Where a stage sits: its width, its first block's stride (after the
    ``min_feature_size`` rule), its depth, and its feature-map sizes."""

    out_channels: int
    stride: int
    depth: int
    in_size: tuple[int, int]  # entering the stage's first block
    out_size: tuple[int, int]  # after its stride


@dataclass(frozen=True)
class Layout:
    architecture: Architecture
    stages: tuple[StageLayout, ...]
    activation: str


def sample_layout(
    space: SearchSpace, trial: Suggester, input_size: int | tuple[int, int] = 32
) -> Layout:
    """Sample one architecture for ``input_size`` inputs, with its stages' layout."""
    height, width = (input_size, input_size) if isinstance(input_size, int) else input_size
    side = min(height, width)
    multiplier = space.width_multiplier.suggest(trial, "width_multiplier")
    activation = space.activation.suggest(trial, "activation")
    feature_map = FeatureMap([height, width], space.min_feature_size)
    size = feature_map.size
    downsample = feature_map.downsample

    stem_block = space.stem.block.suggest(trial, "stem.block")
    stem_stride = (
        space.stem.stride.suggest(trial, "stem.stride")
        if space.stem.stride is not None
        else (2 if side >= AUTO_STRIDE_MIN_SIZE else 1)
    )
    stem_options = {"kernel_size": space.stem.kernel_size.suggest(trial, "stem.kernel_size")}
    if "activation" in get_block(stem_block).options:
        stem_options["activation"] = activation
    stem = [
        BlockSpec.make(
            stem_block,
            scale_width(space.stem.out_channels.suggest(trial, "stem.out_channels"), multiplier),
            downsample(stem_stride),
            **stem_options,
        )
    ]
    pool = (
        space.stem.pool.suggest(trial, "stem.pool")
        if space.stem.pool is not None
        else side >= AUTO_POOL_MIN_SIZE
    )
    if pool:
        stem.append(BlockSpec.make("maxpool", None, downsample(2), kernel_size=3, padding=1))

    stages = []
    layouts = []
    num_stages = space.num_stages.suggest(trial, "num_stages")
    for index, spec in enumerate(space.stages[:num_stages], start=1):
        prefix = f"stage{index}"
        depth = spec.depth.suggest(trial, f"{prefix}.depth")
        channels = scale_width(
            spec.out_channels.suggest(trial, f"{prefix}.out_channels"), multiplier
        )
        before = (size[0], size[1])
        stride = downsample(spec.stride.suggest(trial, f"{prefix}.stride"))
        layouts.append(StageLayout(channels, stride, depth, before, (size[0], size[1])))
        shared = None if spec.per_block else sample_block(spec, trial, prefix, activation)
        blocks = []
        for position in range(1, depth + 1):
            kind, options = shared or sample_block(
                spec, trial, f"{prefix}.block{position}", activation
            )
            blocks.append(
                BlockSpec.make(kind, channels, stride if position == 1 else 1, **options)
            )
        stages.append(tuple(blocks))

    head = Head(
        conv_channels=space.head.conv_channels.suggest(trial, "head.conv_channels"),
        pool=space.head.pool.suggest(trial, "head.pool"),
        hidden=space.head.hidden,
        dropout=space.head.dropout.suggest(trial, "head.dropout"),
        activation=activation,
    )
    architecture = Architecture(stem=tuple(stem), stages=tuple(stages), head=head)
    return Layout(architecture, tuple(layouts), activation)


def sample_block(
    spec: StageSpec, trial: Suggester, prefix: str, activation: str
) -> tuple[str, dict[str, Any]]:
    """One block's type and options at ``prefix`` (a stage, or one block of it)."""
    kind = spec.block.suggest(trial, f"{prefix}.block")
    accepted = get_block(kind).options
    options: dict[str, Any] = {}
    if "activation" in accepted:
        options["activation"] = activation
    for name, dist in spec.options.items():
        if name in accepted:
            options[name] = dist.suggest(trial, f"{prefix}.{name}")
    for name, dist in spec.block_options.get(kind, {}).items():
        options[name] = dist.suggest(trial, f"{prefix}.{kind}.{name}")
    return kind, options


class _Recorder:
    """A suggester that records every parameter asked of it. Categorical choices take the
    ``pick``-th value (the last where there are fewer), so walks with pick 0, 1, ... visit
    every block type and its options; structural parameters (how many stages and blocks)
    take their largest value, and ranges their high end, so the walks reach every stage and
    block."""

    def __init__(self, pick: int, structural: set[str]) -> None:
        self.pick = pick
        self.structural = structural
        self.found: dict[str, Distribution] = {}

    def suggest_categorical(self, name: str, choices: Any) -> Any:
        self.found.setdefault(name, Categorical(tuple(choices)))
        if name in self.structural:
            return max(choices)
        return choices[min(self.pick, len(choices) - 1)]

    def suggest_int(
        self, name: str, low: int, high: int, *, step: int = 1, log: bool = False
    ) -> int:
        self.found.setdefault(name, IntRange(low, high, step, log))
        return high

    def suggest_float(
        self, name: str, low: float, high: float, *, step: float | None = None, log: bool = False
    ) -> float:
        self.found.setdefault(name, FloatRange(low, high, step, log))
        return high


def distributions(space: SearchSpace, architecture: bool = True) -> dict[str, Distribution]:
    """Every Optuna parameter the space can create, by name (conditional ones included)."""
    found: dict[str, Distribution] = {}
    if architecture:
        structural = {"num_stages", *(f"stage{i}.depth" for i in range(1, len(space.stages) + 1))}
        # only a block's type makes parameters conditional: one walk per type index
        kinds = max(len(stage.block.values() or [None]) for stage in space.stages)
        for pick in range(kinds):
            recorder = _Recorder(pick, structural)
            sample_layout(space, recorder, max(space.input_sizes))
            for name, dist in recorder.found.items():
                found.setdefault(name, dist)
    recorder = _Recorder(0, set())
    space.sample_hyperparameters(recorder)
    return {**found, **recorder.found}


def sample_random(
    space: SearchSpace, n: int = 1, seed: int | None = 0, input_size: int | tuple[int, int] = 32
) -> list[Architecture]:
    """``n`` architectures from Optuna's RandomSampler (for browsing and checks)."""
    import optuna

    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # no "study created" line each time
    try:
        study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    finally:
        optuna.logging.set_verbosity(verbosity)
    return [space.sample_architecture(study.ask(), input_size) for _ in range(n)]


def check_feasible(space: SearchSpace, samples: int = 12, seed: int = 0) -> None:
    """Sample architectures for every declared input size and validate their shapes."""
    for size in space.input_sizes:
        for arch in sample_random(space, samples, seed, size):
            try:
                arch.infer_shapes(3, size)
            except ArchsearchError as err:
                raise SpaceError(
                    space.source,
                    "stages",
                    f"impossible architecture for {size}x{size} inputs: {err}",
                ) from None


def default_hyperparameters(space: SearchSpace) -> dict[str, Any]:
    """One deterministic value per hyperparameter for retraining derived networks: the first
    choice, the middle of a linear range, the geometric middle of a log range."""
    values: dict[str, Any] = {}
    for name, dist in space.hyperparameters.items():
        if isinstance(dist, Fixed):
            continue
        if isinstance(dist, Categorical):
            values[name] = dist.choices[0]
        elif isinstance(dist, IntRange):
            values[name] = dist.low + ((dist.high - dist.low) // dist.step // 2) * dist.step
        elif isinstance(dist, FloatRange):
            values[name] = (
                math.sqrt(dist.low * dist.high) if dist.log else (dist.low + dist.high) / 2
            )
    return values
