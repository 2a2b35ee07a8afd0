"""A search that fits its time: choosing the search fidelity (training images, input size,
epochs) from a short calibration on this machine.

``--fidelity auto`` (the default of a run given ``--timeout`` and none of ``--train-limit``,
``--train-fraction``, ``--resolution``, ``--epochs``) measures, before the search, how long a
training epoch takes here (:func:`calibrate`: two networks of the space — its cheap and its
dear end — each at the data's size and at the smallest size the space's strides allow, on a
few hundred images), and then picks (:func:`choose_fidelity`) the most data that lets
:data:`TARGET_CANDIDATES` candidates be judged in the budget at the pruner's expected rates.
The choice is kept in the study (:func:`archsearch.study.record_fidelity`): a resumed run and
the workers search at the same fidelity without calibrating again.

The cost model, per candidate: a fixed part (building, profiling, proxies, the first epoch's
set-up, the study's bookkeeping) plus, for each epoch it trains, ``images x (a + c x pixels +
b x flops)`` seconds — a per-image cost, one per pixel (memory-bound work: activations, batch
norm, augmentation) and one per multiply-add — fitted to the calibration's four timings by
non-negative least squares. Epochs per candidate are the pruner's expected share
(:func:`expected_epochs`); flops at a smaller input are the space's mean at full size scaled
by the area (the allowed sizes keep every stride, so every feature map shrinks with it).
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

import numpy as np
import torch

from ..architecture import Architecture
from ..build import build_model
from ..data import Dataset, resized
from ..errors import ConfigError
from ..space import SearchSpace
from ..space.distributions import Fixed

FidelityMode = Literal["auto", "full"]
#: candidates an auto-fidelity run aims to judge in its budget: about what the default run
#: judges on digits in 3 minutes, where its front beats random search's (issue 24)
TARGET_CANDIDATES = 60
#: the fewest training images an auto run searches on, per class (a fifth of them validate)
MIN_IMAGES_PER_CLASS = 50
#: the flags that set a fidelity: a run given any of them searches where the user said
FIDELITY_FIELDS = ("train_limit", "train_fraction", "resolution", "epochs")
#: an auto run plans for this many times the target: a search's candidates improve as it
#: goes, so more of them go on at each rung than random ones would (on digits, local search's
#: candidates trained 2.6 epochs on average where random ones, played out, train 2.27)
PLANNING_MARGIN = 1.2
#: input sizes tried, as shares of the data's side (never below what the strides allow)
RESOLUTION_SHARES = (1.0, 0.75, 0.5)
#: per candidate, besides training and profiling: the sampler's proposal and the study's
#: writes (SQLite, WAL), measured on digits at about 0.1-0.2 s
BOOKKEEPING_S = 0.15
#: networks of the space whose flops give its mean cost (~30 ms each, profiled on meta)
POOL_SIZE = 48
#: seconds of training per calibration timing
TIMING_S = 0.4


@dataclass(frozen=True)
class Timing:
    """One calibration measurement: seconds per image per epoch (validation share included)
    of a network of ``flops`` multiply-adds at ``resolution`` x ``resolution``."""

    resolution: int
    flops: float
    seconds_per_image: float


@dataclass(frozen=True)
class Calibration:
    """What an epoch and a candidate cost on this machine (see the module docstring)."""

    per_image_s: float  # a
    per_pixel_s: float  # c: per image, per pixel of its side squared
    per_flop_s: float  # b: per image, per multiply-add of the network at that input
    overhead_s: float  # per candidate, outside its epochs
    seconds: float = 0.0  # the calibration's own wall time
    timings: tuple[Timing, ...] = ()

    @classmethod
    def fit(
        cls, timings: Sequence[Timing], overhead_s: float, seconds: float = 0.0
    ) -> Calibration:
        """The non-negative least-squares fit of ``a + c x pixels + b x flops`` to
        ``timings``, each weighted by 1 / its time (relative errors count alike)."""
        from scipy.optimize import nnls

        features = np.array([[1.0, t.resolution**2, t.flops] for t in timings])
        target = np.array([t.seconds_per_image for t in timings])
        weight = 1.0 / np.maximum(target, 1e-9)
        scale = np.maximum(features.max(axis=0), 1e-12)  # columns of like size for nnls
        solution, _ = nnls(features / scale * weight[:, None], target * weight)
        a, c, b = solution / scale
        return cls(float(a), float(c), float(b), overhead_s, seconds, tuple(timings))

    def image_seconds(self, flops: float, resolution: int) -> float:
        """Seconds per image per epoch for a network of ``flops`` at ``resolution``."""
        return self.per_image_s + self.per_pixel_s * resolution**2 + self.per_flop_s * flops


@functools.lru_cache(maxsize=64)
def expected_epochs(
    epochs: int,
    pruner: str,
    min_epochs: int = 1,
    reduction_factor: int = 3,
    candidates: int = TARGET_CANDIDATES,
) -> float:
    """Epochs a candidate trains on average under ``pruner`` in a run of ``candidates``.

    The rung pruners (pareto-asha; successive halving and hyperband, taken as one bracket)
    are played out on random candidates, with :class:`~archsearch.searchers.pruners.
    ParetoAshaPruner`'s own rule: a candidate goes on at a rung if it ranks in the top
    1/η of those that reached it so far (the first ones, with fewer than η there, if on the
    first front) — so early candidates train longer than the steady 1/η share. Optuna's
    median pruner (from the second epoch) is taken to stop half at once and few after;
    without a pruner every epoch."""
    if pruner == "median":
        return min(float(epochs), 2.0 + max(0, epochs - 2) / 2)
    if pruner not in ("pareto-asha", "successive-halving", "hyperband"):
        return float(epochs)
    from ..searchers.pruners import ParetoAshaPruner, nsga_position

    rungs = ParetoAshaPruner(min_epochs, reduction_factor).rungs(epochs)
    dimensions = 2 if pruner == "pareto-asha" else 1
    generator = np.random.default_rng(0)
    totals = []
    for _ in range(4):
        points = generator.random((candidates, dimensions))
        reached: dict[int, list[int]] = {rung: [] for rung in rungs}
        trained = 0
        for index in range(candidates):
            stop = epochs
            for rung in rungs:
                there = [index, *reached[rung]]
                reached[rung].append(index)
                position, ranks = nsga_position([list(points[i]) for i in there], there)
                keep = len(there) // reduction_factor
                if not (ranks[0] == 0 if keep == 0 else position < keep):
                    stop = rung
                    break
            trained += stop
        totals.append(trained / candidates)
    return float(np.mean(totals))


@dataclass(frozen=True)
class FidelityProblem:
    """What the choice depends on, besides the machine (:class:`Calibration`)."""

    images: int  # training + validation images at full data
    classes: int
    native: int  # the data's side (the smaller one)
    resolutions: tuple[int, ...]  # allowed input sides, largest first (``native`` first)
    mean_flops: float  # the space's mean multiply-adds at ``native``
    epochs: int  # per candidate at full fidelity (the space's, or --epochs)
    budget_s: float  # of searching, per worker
    pruner: str = "pareto-asha"
    min_epochs: int = 1
    reduction_factor: int = 3
    workers: int = 1
    target: int = TARGET_CANDIDATES
    #: fields the user set (FIDELITY_FIELDS → value): they win
    fixed: dict[str, Any] = field(default_factory=dict)

    def flops_at(self, resolution: int) -> float:
        return self.mean_flops * (resolution / self.native) ** 2


@dataclass(frozen=True)
class Fidelity:
    """The fidelity a run searches at, and why. ``train_limit`` / ``resolution`` /
    ``epochs`` are :class:`~archsearch.runs.RunConfig`'s fields (``None``: the full data, the
    data's size, the space's epochs)."""

    mode: FidelityMode
    train_limit: int | None
    resolution: int | None
    epochs: int | None
    images: int  # searched on (training + validation)
    side: int  # input side searched at
    epochs_per_candidate: int
    full_images: int
    native: int
    candidate_s: float  # expected seconds per candidate
    expected_candidates: float  # in the budget
    budget_s: float
    target: int
    reason: str = ""
    calibration_s: float = 0.0

    @property
    def is_full(self) -> bool:
        return self.images >= self.full_images and self.side == self.native

    def describe(self, trials: int | None = None) -> str:
        """``4,000 of 60,000 images at 14x14, 8 epochs: ~70 candidates in 10 min (~8.5 s
        each)``; without a time budget, how long ``trials`` candidates take."""
        return f"{self.where()}: {self.expectation(trials)}"

    def where(self) -> str:
        """``4,000 of 60,000 images at 14x14, 8 epochs``."""
        return describe_fidelity(self.to_record())

    def expectation(self, trials: int | None = None) -> str:
        """``~70 candidates in 10 min (~8.5 s each)``; without a time budget, how long
        ``trials`` candidates take."""
        each = f"(~{self.candidate_s:.1f} s each)"
        if not math.isfinite(self.budget_s):
            if not trials:
                return each
            return f"{trials} candidates in ~{_span(trials * self.candidate_s)} {each}"
        return f"~{self.expected_candidates:.0f} candidates in {_span(self.budget_s)} {each}"

    def to_record(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Fidelity:
        known = cls.__dataclass_fields__
        return cls(**{k: v for k, v in record.items() if k in known})

    def apply(self, options: Any) -> Any:
        """``options`` (a RunConfig) at this fidelity."""
        return replace(
            options, train_limit=self.train_limit, resolution=self.resolution, epochs=self.epochs
        )


def describe_fidelity(record: dict[str, Any]) -> str:
    """A stored choice (:meth:`Fidelity.to_record`) in words: ``4,000 of 60,000 images at
    14x14, 8 epochs`` (the report reads it from the study)."""
    images, full = record["images"], record["full_images"]
    shown = f"all {images:,} images" if images >= full else f"{images:,} of {full:,} images"
    side = record["side"]
    return f"{shown} at {side}x{side}, {record['epochs_per_candidate']} epochs"


def _span(seconds: float) -> str:
    if seconds >= 5400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 60:.0f} min" if seconds >= 120 else f"{seconds:.0f} s"


def _round_down(images: int, floor: int) -> int:
    """Two significant figures, not below ``floor``: 4,321 → 4,300."""
    if images <= floor:
        return floor
    step = 10 ** max(0, int(math.log10(images)) - 1)
    return max(floor, images // step * step)


def choose_fidelity(problem: FidelityProblem, calibration: Calibration) -> Fidelity:
    """The most data (images x side) with which ``problem.target`` candidates fit the budget.

    The full fidelity when it fits; else, over the allowed sides at the space's epochs, the
    images that fit at each and the (images, side) pair with the largest images x side — a
    halved side counts as much as halved images (it saves up to four times the time, so
    smaller sides win when the flops dominate, the full side when per-image costs do). Only
    when even the fewest images (:data:`MIN_IMAGES_PER_CLASS`) at the smallest side do not
    fit are epochs cut. User-set fields are kept as given."""
    fixed = problem.fixed
    full_images = problem.images
    floor = min(full_images, MIN_IMAGES_PER_CLASS * problem.classes)
    if fixed.get("train_limit") is not None:
        full_images = min(full_images, int(fixed["train_limit"]))
    elif fixed.get("train_fraction") is not None:
        full_images = max(1, round(float(fixed["train_fraction"]) * full_images))
    images_fixed = "train_limit" in fixed or "train_fraction" in fixed
    sides = (
        (int(fixed["resolution"]),) if fixed.get("resolution") is not None else problem.resolutions
    )
    epochs_fixed = fixed.get("epochs") is not None
    space_epochs = int(fixed["epochs"]) if epochs_fixed else problem.epochs
    per_worker = problem.budget_s
    # the seconds one candidate may take
    share = per_worker * problem.workers / (problem.target * PLANNING_MARGIN)

    def per_image(side: int, epochs: int) -> float:
        """Seconds a candidate spends per training image, over the epochs it trains."""
        trained = expected_epochs(
            epochs, problem.pruner, problem.min_epochs, problem.reduction_factor, problem.target
        )
        return trained * calibration.image_seconds(problem.flops_at(side), side)

    def seconds(images: int, side: int, epochs: int) -> float:
        return calibration.overhead_s + images * per_image(side, epochs)

    def fitting(side: int, epochs: int) -> int:
        room = share - calibration.overhead_s
        return 0 if room <= 0 else int(room / per_image(side, epochs))

    def result(images: int, side: int, epochs: int, reason: str) -> Fidelity:
        candidate_s = seconds(images, side, epochs)
        return Fidelity(
            mode="auto",
            train_limit=None if images >= problem.images else images,
            resolution=None if side == problem.native else side,
            epochs=epochs if epochs_fixed or epochs != problem.epochs else None,
            images=images,
            side=side,
            epochs_per_candidate=epochs,
            full_images=problem.images,
            native=problem.native,
            candidate_s=candidate_s,
            expected_candidates=per_worker * problem.workers / candidate_s,
            budget_s=per_worker,
            target=problem.target,
            reason=reason,
            calibration_s=calibration.seconds,
        )

    if images_fixed:  # only the side (and, failing that, the epochs) to choose
        for side in sides:
            if seconds(full_images, side, space_epochs) <= share:
                return result(full_images, side, space_epochs, "the largest side that fits")
        epochs = space_epochs
        while not epochs_fixed and epochs > 1 and seconds(full_images, sides[-1], epochs) > share:
            epochs -= 1
        return result(full_images, sides[-1], epochs, "the smallest side: images as given")
    if seconds(full_images, sides[0], space_epochs) <= share:
        return result(full_images, sides[0], space_epochs, "the full data fits")
    options = []
    for side in sides:
        images = min(full_images, fitting(side, space_epochs))
        if images >= floor:
            options.append((images * side, side, _round_down(images, floor)))
    if options:
        _, side, images = max(options)
        return result(images, side, space_epochs, "the most images x side that fits")
    smallest = sides[-1]
    for epochs in [] if epochs_fixed else range(space_epochs - 1, 0, -1):
        if fitting(smallest, epochs) >= floor:
            images = _round_down(min(full_images, fitting(smallest, epochs)), floor)
            return result(images, smallest, epochs, "fewer epochs: the fewest images did not fit")
    return result(
        floor,
        smallest,
        space_epochs if epochs_fixed else 1,
        f"the cheapest fidelity allowed; fewer than {problem.target} candidates fit",
    )


# --- the space's side: what the strides allow -------------------------------------------------
def _downsampling(arch: Architecture) -> int:
    """The product of the network's strides (its stem's pooling included)."""
    product = 1
    for block in (*arch.stem, *(b for stage in arch.stages for b in stage)):
        product *= max(1, int(block.stride))
    return product


def allowed_resolutions(
    space: SearchSpace, native: int, seed: int = 0, samples: int = 32
) -> tuple[int, ...]:
    """Sides to search at, largest first: :data:`RESOLUTION_SHARES` of ``native``, each kept
    only if every sampled network of the space downsamples by the same strides there as at
    ``native`` (the ``min_feature_size`` rule and the ``auto`` stem would otherwise make other
    networks of them)."""
    reference = [_downsampling(a) for a in space.sample(samples, seed, (native, native))]
    sides = []
    for share in RESOLUTION_SHARES:
        side = max(4, round(native * share))
        if side in sides:
            continue
        networks = space.sample(samples, seed, (side, side))
        if [_downsampling(a) for a in networks] == reference:
            sides.append(side)
    return tuple(sides)


# --- calibration ------------------------------------------------------------------------------
def space_epochs(space: SearchSpace, override: int | None) -> int:
    """Epochs per candidate at full fidelity: ``override``, the space's fixed value, or the
    largest it may sample."""
    if override is not None:
        return override
    epochs = space.hyperparameters.get("epochs")
    if isinstance(epochs, Fixed):
        return int(epochs.value)
    values = epochs.values() if epochs is not None else None
    return int(max(values)) if values else 8


def _smallest_batch(space: SearchSpace) -> int:
    """The space's smallest batch: the slowest per image (conservative: at least N)."""
    batch = space.hyperparameters.get("batch_size")
    values = (batch.values() if batch is not None else None) or [64]
    return int(min(values))


def _subset(data: Dataset, images: int, val_fraction: float) -> Dataset:
    """The first ``images`` of ``data``, a ``val_fraction`` of them validating."""
    val = max(1, round(images * val_fraction))
    train = max(1, images - val)
    return replace(
        data,
        x_train=data.x_train.subset(slice(0, train)),
        y_train=data.y_train[:train],
        x_val=data.x_val.subset(slice(0, val)),
        y_val=data.y_val[:val],
    )


def calibrate(
    space: SearchSpace,
    data: Dataset,
    resolutions: Sequence[int],
    *,
    device: torch.device,
    val_fraction: float = 0.2,
    seed: int = 0,
    overhead: Callable[[torch.nn.Module, Dataset], float] | None = None,
) -> tuple[Calibration, float]:
    """Time the space's cheap and dear ends (10th and 90th flops percentile of
    :data:`POOL_SIZE` sampled networks) at the largest and the smallest of ``resolutions``;
    returns the fit and the space's mean flops at the data's size. ``overhead(model, data)``:
    the seconds a candidate spends outside training (profiling, proxies), measured on both
    ends at the data's size."""
    from ..profiler import architecture_costs
    from ..train import TrainConfig, train

    started = time.perf_counter()
    native = min(data.input_size)
    shape = (1, data.in_channels, *data.input_size)
    pool = space.sample(POOL_SIZE, seed, data.input_size)
    flops = [architecture_costs(a, shape, data.num_classes).flops for a in pool]
    order = np.argsort(flops)
    ends = [pool[order[int(q * (len(pool) - 1))]] for q in (0.1, 0.9)]
    batch = _smallest_batch(space)
    config = TrainConfig(epochs=1, batch_size=batch, seed=seed)
    timings: list[Timing] = []
    outside: list[float] = []
    for side in dict.fromkeys((max(resolutions), min(resolutions))):
        sample = _subset(data, 4096, val_fraction)
        scaled = sample if side == native else resized(sample, side)
        for arch in ends:
            # a first epoch on two batches: the set-up every new network pays (its kernels'
            # first calls), and a rough speed to size the timed epoch by
            model = build_model(arch, data.num_classes, data.in_channels)
            probe = train(model, _subset(scaled, 2 * batch, val_fraction), config, device)
            first = probe.epoch_seconds[0]
            rough = max(first / (2 * batch), 1e-5)
            images = int(min(max(TIMING_S / rough, 2 * batch), len(scaled.y_train)))
            model = build_model(arch, data.num_classes, data.in_channels)
            timed = train(model, _subset(scaled, images, val_fraction), config, device)
            per_image = timed.epoch_seconds[0] / images
            costs = architecture_costs(arch, (1, data.in_channels, side, side), data.num_classes)
            timings.append(Timing(side, float(costs.flops), per_image))
            if side == native:
                set_up = max(0.0, first - per_image * 2 * batch)
                outside.append(set_up + (overhead(model, scaled) if overhead else 0.0))
    calibration = Calibration.fit(
        timings,
        float(np.mean(outside)) + BOOKKEEPING_S,
        seconds=time.perf_counter() - started,
    )
    return calibration, float(np.mean(flops))


def fidelity_mode(options: Any) -> FidelityMode:
    """The fidelity a run (a RunConfig) searches at: ``--fidelity`` as given, else auto when it
    has a ``--timeout``, samples candidates one by one and sets none of
    :data:`FIDELITY_FIELDS`."""
    from .searchers import PICKING_SEARCHERS

    if options.fidelity is not None:
        return options.fidelity  # type: ignore[no-any-return]
    chosen = any(getattr(options, name) is not None for name in FIDELITY_FIELDS)
    picks = options.searcher in PICKING_SEARCHERS
    return "auto" if options.timeout is not None and not chosen and not picks else "full"


def check_fidelity(options: Any) -> None:
    """``--fidelity auto`` needs a time budget and a searcher that trains candidates."""
    from .searchers import PICKING_SEARCHERS

    if options.fidelity == "auto":
        if options.timeout is None:
            raise ConfigError("fidelity", "auto fits the search to --timeout: give one")
        if options.searcher in PICKING_SEARCHERS:
            raise ConfigError(
                "fidelity",
                f"auto is for searchers that judge candidates one by one, not {options.searcher}",
            )


# --- a run's fidelity -------------------------------------------------------------------------
def _outside_training(options: Any, data: Dataset, device: torch.device) -> Callable[..., float]:
    """Seconds a candidate spends outside training: its profile (with latency where the run
    needs it) and its zero-cost proxies, as :func:`archsearch.objective.evaluate_trial` does."""
    from ..objective import Candidates, TrialContext, candidate_costs
    from ..proxies import proxy_batch, score_candidate

    context = TrialContext(
        candidates=Candidates(),
        data=data,
        objectives=tuple(options.objectives),
        constraints=options.constraints,
        device=device,
        latency_threads=options.latency_threads,
        latency_backend=options.latency_backend,
    )
    batch = proxy_batch(data, seed=options.seed) if options.proxies else None

    def seconds(model: torch.nn.Module, _: Dataset) -> float:
        started = time.perf_counter()
        candidate_costs(model, context)
        if batch is not None:
            score_candidate(model, batch, options.proxies, seed=options.seed, device=device)
        return time.perf_counter() - started

    return seconds


def plan_fidelity(
    options: Any,
    *,
    device: torch.device,
    started: float | None = None,
    mode: FidelityMode | None = None,
) -> FidelityPlan:
    """Calibrate on this machine and choose the fidelity of the run ``options`` (a
    RunConfig): at ``mode`` (default: :func:`fidelity_mode`), with the time left of its
    ``timeout`` counted from ``started`` (``time.perf_counter()``; default: now) once the
    calibration is done. A full-fidelity plan only estimates: every field is kept."""
    from ._loop import run_data
    from .resume import load_run_space

    started = time.perf_counter() if started is None else started
    mode = mode or fidelity_mode(options)
    space, _ = load_run_space(options.space)
    full = replace(options, train_limit=None, train_fraction=None, resolution=None, epochs=None)
    data = run_data(full)
    native = min(data.input_size)
    fixed = {k: getattr(options, k) for k in FIDELITY_FIELDS if getattr(options, k) is not None}
    epochs = space_epochs(space, None)
    images = len(data.y_train) + len(data.y_val)
    # full fidelity, with the flags given: every field fixed (nothing to choose, an estimate)
    every = {} if "train_fraction" in fixed else {"train_limit": images}
    full_fixed = {**every, "resolution": native, "epochs": epochs, **fixed}
    if mode == "full":
        fixed = full_fixed
    sides = allowed_resolutions(space, native, options.seed)
    if fixed.get("resolution") is not None and fixed["resolution"] not in sides:
        sides = tuple(sorted({*sides, int(fixed["resolution"])}, reverse=True))
    calibration, mean_flops = calibrate(
        space,
        data,
        sides,
        device=device,
        val_fraction=options.val_fraction,
        seed=options.seed,
        overhead=_outside_training(options, data, device),
    )
    workers = options.workers
    if workers == "auto":  # as the run decides it (at the data's full size: the same or fewer)
        from ..objective import Candidates
        from .workers import resolve_workers

        candidates = Candidates(space=space, epochs=options.epochs)
        workers = resolve_workers(options, candidates, data, device)[0].workers
    timeout = options.timeout
    budget = math.inf if timeout is None else max(0.0, timeout - (time.perf_counter() - started))
    problem = FidelityProblem(
        images=images,
        classes=data.num_classes,
        native=native,
        resolutions=sides,
        mean_flops=mean_flops,
        epochs=epochs,
        budget_s=budget,
        pruner=options.pruner_name,
        min_epochs=options.min_epochs,
        reduction_factor=options.reduction_factor,
        workers=workers,
        fixed=fixed,
    )
    chosen = replace(choose_fidelity(problem, calibration), mode=mode)
    if mode == "full":
        return FidelityPlan(chosen, chosen)
    full = choose_fidelity(replace(problem, fixed=full_fixed), calibration)
    return FidelityPlan(chosen, replace(full, mode="full"))


@dataclass(frozen=True)
class FidelityPlan:
    """A run's fidelity (``chosen``) and, from the same calibration, what the full one
    would give (``full``): ``archsearch run --dry-run``'s answer."""

    chosen: Fidelity
    full: Fidelity

    def describe(self, trials: int | None = None) -> list[str]:
        lines = [f"fidelity ({self.chosen.mode}): {self.chosen.describe(trials)}"]
        if self.chosen.mode == "auto":
            lines.append(f"  why: {self.chosen.reason}")
            lines.append(f"  at full fidelity: {self.full.describe(trials)}")
        lines.append(f"  calibrated in {self.chosen.calibration_s:.1f} s")
        return lines


def resolve_fidelity(
    options: Any,
    *,
    device: torch.device,
    started: float | None = None,
    on_message: Callable[[str], None] | None = None,
) -> tuple[Any, Fidelity | None]:
    """The run ``options`` (a RunConfig) at the fidelity it searches at, and the fidelity
    when it was chosen now (to be recorded in the new study).

    A run that exists keeps its fidelity: the one chosen when it began (without calibrating
    again, whatever the timeout now), or the full one it was made at; asking it for another
    with ``--fidelity`` is an error naming the run. A new run at auto fidelity is calibrated
    (:func:`plan_fidelity`)."""
    from .resume import stored_record

    mode = fidelity_mode(options)
    record = stored_record(options)
    if record is not None and record.options:
        if record.fidelity:
            chosen = Fidelity.from_record(record.fidelity)
            given = any(getattr(options, name) is not None for name in FIDELITY_FIELDS)
            if options.fidelity == "full":
                raise ConfigError(
                    "fidelity",
                    f"run '{options.run_name}' searches at the fidelity chosen when it began"
                    f" ({chosen.describe()}): leave --fidelity out to resume it, or choose"
                    " another run name",
                )
            if given:
                return options, None  # the fingerprint says whether they are the same
            if on_message is not None:
                on_message(f"fidelity chosen when the run began: {chosen.describe()}")
            return chosen.apply(replace(options, fidelity="auto")), None
        if options.fidelity == "auto":
            raise ConfigError(
                "fidelity",
                f"run '{options.run_name}' was made at full fidelity: leave --fidelity out to"
                " resume it, or choose another run name",
            )
        return replace(options, fidelity=None), None
    if mode == "full":
        return options, None
    plan = plan_fidelity(options, device=device, started=started, mode="auto")
    chosen = plan.chosen
    if on_message is not None:
        on_message(
            f"fidelity (auto, calibrated in {chosen.calibration_s:.0f} s): {chosen.describe()}"
        )
        on_message(f"  why: {chosen.reason} (at full fidelity: {plan.full.expectation()})")
    return chosen.apply(replace(options, fidelity="auto")), chosen


def retrain_command(fidelity: Fidelity, run: str, runs_dir: str, trial: int) -> str:
    """The closing advice of a run searched below full fidelity: how to train a network of
    its front on all the data at the data's size (``archsearch train``)."""
    folder = "" if runs_dir == "runs" else f" --runs-dir {runs_dir}"
    return (
        f"searched at {fidelity.where()}: every figure above is at that"
        " fidelity. Train a front network on all the data at"
        f" {fidelity.native}x{fidelity.native}, e.g. trial {trial}:\n"
        f"  archsearch train --run {run}{folder} --trial {trial}"
        f" --resolution {fidelity.native} --epochs 30"
    )


def plan_run(options: Any) -> FidelityPlan:
    """``archsearch run --dry-run``: the fidelity the run ``options`` would search at and the
    candidates it expects, from a calibration here; no study or run folder is made."""
    from ..train import resolve_device

    return plan_fidelity(options, device=resolve_device(options.device))
