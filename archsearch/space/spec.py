"""The schema of a search space: what a space file may say (:class:`SearchSpace` and its
parts, the hyperparameters it may search). Parsing lives in :mod:`._parse`, sampling in
:mod:`.sample`.

File format (every field takes a fixed value, ``{choices: [...]}``, or a range
``{low, high, step?, log?}``: ints when both ends are ints, floats otherwise)::

    name: mobile
    description: one line shown by `archsearch spaces`
    input_sizes: [8, 28, 32, 224]      # sizes the space is checked against
    min_feature_size: 2                # a stride-2 step that would go below this runs at stride 1
    activation: {choices: [relu, hardswish]}
    width_multiplier: {choices: [0.75, 1.0]}   # channels x m, rounded to a multiple of 8
    stem: {out_channels: {choices: [16, 24]}, kernel_size: 3, stride: auto, pool: auto}
    num_stages: {low: 3, high: 4}      # use the first N of `stages`
    stages:
      - out_channels: {choices: [16, 24]}
        depth: {low: 1, high: 3}
        stride: 2
        block: {choices: [dwsep, mbconv, shuffle]}
        per_block: false               # true: every block picks its own type and options
        kernel_size: {choices: [3, 5]} # any option of the chosen blocks ...
        mbconv: {expansion: {choices: [3, 6]}}   # ... or options for one block type only
    head: {conv_channels: {choices: [0, 128]}, dropout: {low: 0.0, high: 0.3}}
    hyperparameters:
      lr: {low: 1.0e-3, high: 0.1, log: true}
      batch_size: {choices: [32, 64, 128]}

``stem.stride: auto`` is 2 for inputs of at least 64 pixels, else 1; ``stem.pool: auto`` adds a
3x3/2 max-pool for inputs of at least 128 pixels. With the ``min_feature_size`` rule this makes
one space serve 8x8 digits and 224x224 images alike.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

from ..blocks.registry import is_int, is_number
from ..train import AUGMENTATIONS, INITS, OPTIMIZERS, SCHEDULES, TrainConfig
from .distributions import Distribution, Suggester

if TYPE_CHECKING:
    from ..architecture import Architecture
    from .sample import Layout

# name → (check, what it must be): the training hyperparameters a space may search.
HYPERPARAMETERS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "lr": (lambda v: is_number(v) and v > 0, "a number > 0"),
    "weight_decay": (lambda v: is_number(v) and v >= 0, "a number >= 0"),
    "momentum": (lambda v: is_number(v) and 0 <= v < 1, "a number in [0, 1)"),
    "nesterov": (lambda v: isinstance(v, bool), "true or false"),
    "schedule": (lambda v: v in SCHEDULES, f"one of {', '.join(SCHEDULES)}"),
    "init": (lambda v: v in INITS, f"one of {', '.join(INITS)}"),
    "batch_size": (lambda v: is_int(v) and v >= 1, "an integer >= 1"),
    "epochs": (lambda v: is_int(v) and v >= 1, "an integer >= 1"),
    "warmup_epochs": (lambda v: is_int(v) and v >= 0, "an integer >= 0"),
    "optimizer": (lambda v: v in OPTIMIZERS, f"one of {', '.join(OPTIMIZERS)}"),
    "label_smoothing": (lambda v: is_number(v) and 0 <= v < 1, "a number in [0, 1)"),
    "augmentation": (lambda v: v in AUGMENTATIONS, f"one of {', '.join(AUGMENTATIONS)}"),
}
#: what a space that does not search a hyperparameter trains with: TrainConfig's defaults
_TRAIN_DEFAULTS = {f.name: f.default for f in fields(TrainConfig)}
DEFAULT_HYPERPARAMETERS: dict[str, Any] = {name: _TRAIN_DEFAULTS[name] for name in HYPERPARAMETERS}

STAGE_FIELDS = ("out_channels", "depth", "stride", "block", "per_block")
TOP_FIELDS = (
    "name",
    "description",
    "input_sizes",
    "min_feature_size",
    "activation",
    "width_multiplier",
    "stem",
    "num_stages",
    "stages",
    "head",
    "hyperparameters",
)


@dataclass(frozen=True)
class StemSpec:
    block: Distribution
    out_channels: Distribution
    kernel_size: Distribution
    stride: Distribution | None  # None: auto
    pool: Distribution | None  # None: auto


@dataclass(frozen=True)
class StageSpec:
    out_channels: Distribution
    depth: Distribution
    stride: Distribution
    block: Distribution
    per_block: bool
    options: dict[str, Distribution]  # options for whichever chosen block accepts them
    block_options: dict[str, dict[str, Distribution]]  # block type → its own options


@dataclass(frozen=True)
class HeadSpec:
    conv_channels: Distribution
    pool: Distribution
    dropout: Distribution
    hidden: tuple[int, ...]


@dataclass(frozen=True)
class SearchSpace:
    """A parsed, validated search space; sample it with an Optuna trial."""

    name: str
    description: str
    source: str
    input_sizes: tuple[int, ...]
    min_feature_size: int
    activation: Distribution
    width_multiplier: Distribution
    stem: StemSpec
    num_stages: Distribution
    stages: tuple[StageSpec, ...]
    head: HeadSpec
    hyperparameters: dict[str, Distribution] = field(default_factory=dict)

    def sample_architecture(
        self, trial: Suggester, input_size: int | tuple[int, int] = 32
    ) -> Architecture:
        """Sample one architecture for ``input_size`` inputs (define-by-run, Optuna params)."""
        from .sample import sample_layout

        return sample_layout(self, trial, input_size).architecture

    def sample_layout(self, trial: Suggester, input_size: int | tuple[int, int] = 32) -> Layout:
        """The sampled architecture with each stage's width, stride and feature-map sizes (the
        space's stride and width rules, which the one-shot supernets use too)."""
        from .sample import sample_layout

        return sample_layout(self, trial, input_size)

    def sample_hyperparameters(self, trial: Suggester) -> dict[str, Any]:
        """Training hyperparameters: the space's, sampled, over :data:`DEFAULT_HYPERPARAMETERS`."""
        sampled = {name: dist.suggest(trial, name) for name, dist in self.hyperparameters.items()}
        return {**DEFAULT_HYPERPARAMETERS, **sampled}

    def distributions(self, architecture: bool = True) -> dict[str, Distribution]:
        """Every Optuna parameter the space can create, by name (conditional ones included),
        found by the same walk as sampling; fixed values create none. With
        ``architecture=False``, only the hyperparameters."""
        from .sample import distributions

        return distributions(self, architecture)

    def sample(
        self, n: int = 1, seed: int | None = 0, input_size: int | tuple[int, int] = 32
    ) -> list[Architecture]:
        """``n`` architectures from Optuna's RandomSampler (for browsing and checks)."""
        from .sample import sample_random

        return sample_random(self, n, seed, input_size)

    def check_feasible(self, samples: int = 12, seed: int = 0) -> None:
        """Sample architectures for every declared input size and validate their shapes.

        Raises :class:`SpaceError` when the space yields an impossible architecture.
        """
        from .sample import check_feasible

        check_feasible(self, samples, seed)
