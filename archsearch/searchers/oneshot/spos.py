"""Single Path One-Shot search (Guo, Zhang et al., "Single Path One-Shot Neural Architecture
Search with Uniform Sampling", ECCV 2020), over the same space files as the Optuna searchers.

1. **Supernet training** (:func:`train_supernet`): the supernet of :func:`.plan.plan_supernet`
   (the widest point of the space), one path per step — an op per position, ``skip`` for
   depth, a width per stage by channel masking (:mod:`.supernet`) — sampled uniformly
   (SPOS) or with FairNAS's strict fairness (Chu et al., ICCV 2021: every op of every
   position once in each group of m paths, their gradients summed into one step). The weight
   steps are the standard trainer's (optimiser, schedule, augmentation: :mod:`archsearch.train`)
   with the space's middle hyperparameters. A checkpoint per epoch: a killed search resumes
   its supernet instead of training it again.
2. **One-shot search** (:func:`one_shot_search`): Optuna's NSGA-II (or TPE) samples networks
   from the space by its own walk (the supernet's stage count, stem and head fixed), and each
   is scored by its validation accuracy with the supernet's weights after recomputing its
   BatchNorm statistics on a few training batches (without which inherited accuracies are
   noise), with its static costs (:func:`~archsearch.profiler.architecture_costs`) as the
   other objectives and the run's limits as constraints. No training: thousands fit in
   minutes. These *estimates* live in a study of their own (a journal file in the run's
   folder), never in the run's study, so no report, Pareto table or export can take one for
   a trained accuracy.
3. **Retraining**: the first ``retrain_top`` of the one-shot front (NSGA-II's order) are
   enqueued into the run's study and trained from scratch by the standard pipeline; each
   carries its estimate as ``one_shot`` trial data, labelled as such.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import optuna
import torch
import torch.nn.functional as F

from ...checkpoint import signature
from ...data import Dataset
from ...errors import ArchsearchError
from ...profiler import architecture_costs
from ...space import SearchSpace, default_hyperparameters
from ...study import ONE_SHOT_ATTR, QUEUED_ARCHITECTURE, completed
from ...train import (
    EpochCheckpoint,
    EpochPlan,
    StepInfo,
    TrainConfig,
    evaluate,
    initialize_weights,
    make_optimizer,
    memory_format_for,
    recalibrate_batch_norm,
    run_epochs,
    seed_everything,
)
from .._base import Budget, PickingSearcher, TrialCallback
from ..pruners import nsga_order
from .paths import (
    DISTILLING,
    PATH_SAMPLERS,
    Sampling,
    sample_network,
)
from .plan import (
    SupernetPath,
    SupernetPlan,
    plan_supernet,
)
from .supernet import CHECKPOINT, PathNetwork, Supernet

OneShotSampler = Literal["nsga2", "tpe", "random"]
#: the costs a one-shot search can rank by: static, known without training or measuring
ONE_SHOT_COSTS = {"params": "params", "flops": "flops", "mac": "mac"}
ONE_SHOT_JOURNAL = "oneshot.journal"


@dataclass(frozen=True)
class SposConfig:
    epochs: int = 10  # supernet training
    # fair: FairNAS's strict fairness; sandwich: BigNAS's sandwich rule, distilled in place
    sampling: Sampling = "uniform"
    evaluations: int = 1000  # one-shot evaluations
    sampler: OneShotSampler = "nsga2"
    population: int = 50  # NSGA-II's
    retrain_top: int = 5
    bn_batches: int = 4  # training batches to recompute BatchNorm statistics per candidate
    eval_images: int | None = None  # validation images per candidate (default: all)
    # with a wall-time budget: the supernet trains until this share of it has passed (at
    # least one epoch), the one-shot search until this much more; retraining gets the rest
    train_share: float = 0.4
    search_share: float = 0.1
    seed: int = 0


@dataclass
class SupernetTraining:
    """What training the supernet did."""

    epochs: int = 0  # epochs done (resumed ones included)
    resumed_from: int = 0  # the epoch a checkpoint continued from (0: trained from scratch)
    seconds: float = 0.0  # this process's training time
    images_per_s: float = 0.0
    peak_memory_bytes: int = 0  # CUDA only
    loss_curve: list[float] = field(default_factory=list)
    op_counts: list[list[int]] = field(default_factory=list)  # paths through each op
    stopped: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if k != "op_counts"}


# --- 1. supernet training ------------------------------------------------------------------
def supernet_hyperparameters(space: SearchSpace) -> dict[str, Any]:
    """The training hyperparameters of the supernet and of the retrained networks: the
    space's middle values (its fixed ones as they are)."""
    return space.sample_hyperparameters(optuna.trial.FixedTrial(default_hyperparameters(space)))


def train_supernet(
    space: SearchSpace,
    plan: SupernetPlan,
    data: Dataset,
    device: torch.device,
    config: SposConfig,
    hyperparameters: dict[str, Any],
    *,
    checkpoint: Path | None = None,
    deadline: float | None = None,
    on_epoch: Callable[[int, float], None] | None = None,
) -> tuple[Supernet, SupernetTraining]:
    """Train ``plan``'s supernet, one sampled path per step (:data:`PATH_SAMPLERS`), in the
    trainer's epoch loop (:func:`~archsearch.train.run_epochs`).

    ``checkpoint``: a file written after every epoch (weights, optimiser, random states,
    epoch) and read first, so a killed search continues from its last finished epoch (with
    the same seed and the same paths as an uninterrupted one). ``deadline``: a
    ``time.monotonic()`` after which no further epoch starts (one always runs).
    """
    train_config = TrainConfig.from_hyperparameters(
        {**hyperparameters, "epochs": config.epochs}, seed=config.seed
    )
    seed_everything(config.seed)
    cuda = device.type == "cuda"
    model = Supernet(plan, entangled=True)
    initialize_weights(model, train_config.init)
    model = model.to(device=device, memory_format=memory_format_for(device))
    optimizer = make_optimizer(model, train_config)
    torch_generator = torch.Generator(device=device).manual_seed(config.seed)
    path_generator = random.Random(config.seed)
    result = SupernetTraining(op_counts=[[0] * len(p.ops) for p in plan.positions])
    # what a checkpoint must match to be resumed: the same supernet, training and data
    digest = signature(
        plan=repr(plan),
        epochs=config.epochs,
        sampling=config.sampling,
        seed=config.seed,
        hyperparameters=sorted((k, repr(v)) for k, v in hyperparameters.items()),
        data=[data.name, len(data.y_train), list(data.x_train.shape[1:])],
        format=2,  # the epoch loop's checkpoints (those of before are not resumed)
    )
    paths = PATH_SAMPLERS[config.sampling](space, plan, path_generator)  # lazy: drawn after
    distilling = config.sampling in DISTILLING  # a checkpoint's state is restored

    def step(xb: torch.Tensor, yb: torch.Tensor, _: StepInfo) -> tuple[torch.Tensor, int]:
        group_paths = next(paths)
        optimizer.zero_grad(set_to_none=True)
        teacher: torch.Tensor | None = None
        running = torch.zeros((), device=device)
        for k, path in enumerate(group_paths):  # the paths' gradients add up to one step
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=cuda):
                logits = model.forward_path(xb, path).float()
            if teacher is None:
                loss = F.cross_entropy(logits, yb, label_smoothing=train_config.label_smoothing)
                if k == 0 and distilling:
                    teacher = logits.detach().softmax(1)
            else:  # in-place distillation: the largest path's predictions as targets
                loss = F.cross_entropy(logits, teacher)
            (loss / len(group_paths)).backward()
            running += loss.detach() / len(group_paths)
            for counts, index in zip(result.op_counts, path.choice, strict=True):
                counts[index] += 1
        optimizer.step()
        return running, len(yb) * len(group_paths)

    def state() -> dict[str, Any]:
        return {
            "model": model.state_dict(),
            "paths": path_generator.getstate(),
            "op_counts": result.op_counts,
        }

    def restore(state: dict[str, Any]) -> None:
        model.load_state_dict(state["model"])
        path_generator.setstate(state["paths"])
        result.op_counts = state["op_counts"]

    def after_epoch(epoch: int, loss: float) -> None:
        if on_epoch is not None:
            on_epoch(epoch, loss)

    loop = run_epochs(
        step,
        EpochPlan.of(train_config),
        x=data.x_train.to(device),
        y=data.y_train.to(device),
        natural=data.natural,
        optimizer=optimizer,
        generator=torch_generator,
        model=model,
        after_epoch=after_epoch,
        checkpoint=None
        if checkpoint is None
        else EpochCheckpoint(checkpoint, digest, state, restore),
        deadline=deadline,
        failure=lambda loss, _: ArchsearchError(f"SPOS: the supernet's loss became {loss}"),
    )
    result.loss_curve = [round(loss, 6) for loss in loop.loss_curve]
    result.epochs, result.resumed_from = loop.epochs, loop.resumed_from
    if loop.out_of_time:
        result.stopped = (
            f"wall-time budget: supernet trained {loop.epochs} of {config.epochs} epochs"
        )
    result.seconds = loop.seconds
    result.images_per_s = loop.images / max(loop.seconds, 1e-9)
    result.peak_memory_bytes = loop.peak_memory_bytes
    return model, result


# --- 2. one-shot evaluation and search --------------------------------------------------------
class OneShotEvaluator:
    """Validation accuracy of a path with the supernet's weights, after recomputing the
    BatchNorm statistics of that path on ``bn_batches`` x ``batch_size`` fixed training images,
    in one pass (SPOS): the supernet's running statistics are those of a mixture of paths.
    Deterministic: the same images for every candidate."""

    def __init__(
        self,
        supernet: Supernet,
        data: Dataset,
        device: torch.device,
        batch_size: int = 64,
        bn_batches: int = 4,
        eval_images: int | None = None,
        seed: int = 0,
    ) -> None:
        self.supernet = supernet
        self.device = device
        order = torch.randperm(len(data.y_train), generator=torch.Generator().manual_seed(seed))
        images = min(bn_batches * batch_size, len(data.y_train))
        # one pass over all the calibration images: the statistics of their union, as the
        # cumulative average over the batches would give (nearly), in a quarter of the time
        self.batch_size = images
        self.calibration = data.x_train[order[:images]].to(device)
        self.calibration = self.calibration.contiguous(memory_format=memory_format_for(device))
        limit = len(data.y_val) if eval_images is None else min(eval_images, len(data.y_val))
        self.x_val = data.x_val.subset(slice(0, limit)).to(device)  # normalised per batch
        self.y_val = data.y_val[:limit].to(device)

    def accuracy(self, path: SupernetPath, recalibrate: bool = True) -> float:
        network = PathNetwork(self.supernet, path)
        if recalibrate:
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.device.type == "cuda"):
                recalibrate_batch_norm(network, self.calibration, self.batch_size, 1)
        return evaluate(network, self.x_val, self.y_val, device=self.device)


@dataclass
class OneShotSearch:
    """A finished one-shot search: its study (estimates, never trained accuracies)."""

    study: optuna.Study
    objectives: tuple[str, ...]
    seconds: float = 0.0
    evaluations: int = 0  # in this process
    infeasible: int = 0

    @property
    def per_second(self) -> float:
        return self.evaluations / max(self.seconds, 1e-9)

    def top(self, k: int) -> list[optuna.trial.FrozenTrial]:
        """The first ``k`` estimated networks within the run's limits in NSGA-II's order
        (non-dominated rank, then crowding: a spread of the one-shot front first)."""
        done = [t for t in completed(self.study) if all(v <= 0 for v in t.constraints.values())]
        points = [[-t.values[0], *(math.log1p(v) for v in t.values[1:])] for t in done]
        order, _ = nsga_order(points, [t.number for t in done])
        picked: dict[str, optuna.trial.FrozenTrial] = {}
        for i in order:  # a network the sampler drew twice is retrained once
            picked.setdefault(done[i].user_attrs["architecture"], done[i])
            if len(picked) == k:
                break
        return list(picked.values())


def one_shot_study(
    objectives: Sequence[str],
    sampler: OneShotSampler,
    seed: int,
    population: int = 50,
    journal: Path | None = None,
    name: str = "one-shot",
) -> optuna.Study:
    """The study of one-shot estimates: in ``journal`` (appended to, so a resumed search
    keeps its evaluations), or in memory."""
    directions = ["maximize", *("minimize" for _ in objectives[1:])]
    if sampler == "nsga2":
        chosen: optuna.samplers.BaseSampler = optuna.samplers.NSGAIISampler(
            population_size=population, seed=seed
        )
    elif sampler == "tpe":
        chosen = optuna.samplers.TPESampler(seed=seed, multivariate=True)
    else:
        chosen = optuna.samplers.RandomSampler(seed=seed)
    storage: optuna.storages.BaseStorage | None = None
    if journal is not None:
        journal.parent.mkdir(parents=True, exist_ok=True)
        backend = optuna.storages.journal.JournalFileBackend(str(journal))
        storage = optuna.storages.JournalStorage(backend)
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        return optuna.create_study(
            storage=storage,
            sampler=chosen,
            study_name=name,
            directions=directions,
            load_if_exists=True,
        )
    finally:
        optuna.logging.set_verbosity(verbosity)


def one_shot_search(
    space: SearchSpace,
    plan: SupernetPlan,
    evaluator: OneShotEvaluator,
    study: optuna.Study,
    objectives: Sequence[str],
    *,
    evaluations: int,
    constraints: dict[str, float] | None = None,
    deadline: float | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> OneShotSearch:
    """Estimate networks sampled by ``study``'s sampler until it holds ``evaluations``
    finished ones (or ``deadline``, a ``time.monotonic()``, passes). ``objectives``: the run's,
    accuracy first, then static costs (:data:`ONE_SHOT_COSTS`); ``constraints``: the run's
    ``max_params``/``max_flops``/``max_mac``, as Optuna constraints."""
    limits = {name.removeprefix("max_"): limit for name, limit in (constraints or {}).items()}
    shape = (1, plan.in_channels, *plan.input_size)
    result = OneShotSearch(study, tuple(objectives))
    started = time.perf_counter()
    done = len(completed(study))
    while done < evaluations:
        if deadline is not None and time.monotonic() >= deadline and result.evaluations:
            break
        trial = study.ask()
        try:
            arch, path = sample_network(space, plan, trial, plan.input_size)
            costs = architecture_costs(arch, shape, plan.num_classes)
        except ArchsearchError as error:
            trial.set_user_attr("reason", str(error))
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
            result.infeasible += 1
            continue
        figures = {"params": costs.params, "flops": costs.flops, "mac": costs.mac}
        for name, limit in limits.items():  # NSGA-II and TPE prefer the feasible
            trial.set_constraint(f"max_{name}", float(figures[name] - limit))
        trial.set_user_attr("architecture", arch.to_json())
        trial.set_user_attr("costs", figures)
        estimate = evaluator.accuracy(path)
        study.tell(trial, [estimate, *(float(figures[o]) for o in objectives[1:])])
        result.evaluations += 1
        done += 1
        if on_progress is not None:
            on_progress(done, evaluations)
    result.seconds = time.perf_counter() - started
    return result


# --- the searcher ------------------------------------------------------------------------------
class SposSearcher(PickingSearcher):
    """Trains the supernet, searches it, then enqueues the best estimated networks into the
    study, where the run's standard pipeline trains, profiles and records each."""

    name = "spos"

    def __init__(
        self,
        space: SearchSpace,
        data: Dataset,
        device: torch.device,
        config: SposConfig,
        objectives: Sequence[str] = ("accuracy", "flops"),
        constraints: dict[str, float] | None = None,
        run_dir: Path | None = None,
        log: Callable[[str], None] | None = None,
    ) -> None:
        check_objectives(objectives, constraints or {})
        self.space = space
        self.data = data
        self.device = device
        self.config = config
        # the one-shot study's: accuracy first, then the run's costs in the run's order
        self.objectives = ("accuracy", *(o for o in objectives if o != "accuracy"))
        self.constraints = dict(constraints or {})
        self.run_dir = run_dir
        self.log = log or (lambda _message: None)
        self.seed = config.seed
        self.training: SupernetTraining | None = None
        self.one_shot: OneShotSearch | None = None

    def planned_trials(self, requested: int) -> int:
        return self.config.retrain_top

    def search(
        self,
        study: optuna.Study,
        evaluate: Callable[[optuna.Trial], Sequence[float]],
        budget: Budget,
        callbacks: Sequence[TrialCallback] = (),
    ) -> None:
        queued = [t for t in study.trials if ONE_SHOT_ATTR in t.user_attrs]
        started = time.monotonic()
        deadline = None if budget.timeout is None else started + budget.timeout
        if not queued:
            self._search_supernet(study, budget, started)
        waiting = [t for t in study.trials if t.state == optuna.trial.TrialState.WAITING]
        remaining = None if deadline is None else deadline - time.monotonic()
        self.train_queued(study, evaluate, len(waiting), remaining, callbacks)

    def _search_supernet(self, study: optuna.Study, budget: Budget, started: float) -> None:
        config, data = self.config, self.data
        plan = plan_supernet(self.space, data, widest=True)
        sizes = [len(p.ops) for p in plan.positions]
        self.log(
            f"SPOS ({config.sampling} paths): {len(plan.positions)} positions,"
            f" {min(sizes)}-{max(sizes)} candidate ops each, widths by channel masking"
        )
        hp = supernet_hyperparameters(self.space)
        timeout = budget.timeout
        checkpoint = None if self.run_dir is None else self.run_dir / CHECKPOINT

        def on_epoch(epoch: int, loss: float) -> None:
            self.log(f"  supernet epoch {epoch + 1}/{config.epochs}: loss {loss:.3f}")

        supernet, training = train_supernet(
            self.space,
            plan,
            data,
            self.device,
            config,
            hp,
            checkpoint=checkpoint,
            deadline=None if timeout is None else started + config.train_share * timeout,
            on_epoch=on_epoch,
        )
        self.training = training
        resumed = f", resumed from epoch {training.resumed_from}" if training.resumed_from else ""
        self.log(
            f"  supernet: {training.epochs} epochs{resumed}, {training.seconds:.0f} s,"
            f" {training.images_per_s:,.0f} images/s"
            + (f" ({training.stopped})" if training.stopped else "")
        )
        evaluator = OneShotEvaluator(
            supernet,
            data,
            self.device,
            batch_size=int(hp.get("batch_size", 64)),
            bn_batches=config.bn_batches,
            eval_images=config.eval_images,
            seed=config.seed,
        )
        journal = None if self.run_dir is None else self.run_dir / ONE_SHOT_JOURNAL
        oneshot = one_shot_study(
            self.objectives, config.sampler, config.seed, config.population, journal
        )
        share = config.train_share + config.search_share
        last = [0.0]

        def on_progress(done: int, total: int) -> None:
            if time.monotonic() - last[0] >= 10 or done == total:
                last[0] = time.monotonic()
                self.log(f"  one-shot evaluations: {done}/{total}")

        search = one_shot_search(
            self.space,
            plan,
            evaluator,
            oneshot,
            self.objectives,
            evaluations=config.evaluations,
            constraints=self.constraints,
            deadline=None if timeout is None else started + share * timeout,
            on_progress=on_progress,
        )
        self.one_shot = search
        self.log(
            f"  one-shot search: {search.evaluations} networks estimated in"
            f" {search.seconds:.0f} s ({search.per_second:,.1f}/s), {search.infeasible}"
            " outside the supernet or the limits"
        )
        summary = {
            "supernet": training.to_dict(),
            "sampling": config.sampling,
            "sampler": config.sampler,
            "evaluations": len(completed(oneshot)),
            "evaluations_per_s": round(search.per_second, 2),
        }
        hp_enqueued = default_hyperparameters(self.space)
        for rank, trial in enumerate(search.top(config.retrain_top)):
            study.enqueue_trial(
                hp_enqueued,
                user_attrs={
                    QUEUED_ARCHITECTURE: trial.user_attrs["architecture"],
                    ONE_SHOT_ATTR: {
                        **summary,
                        "rank": rank,
                        "one_shot_trial": trial.number,
                        # validation accuracy with the supernet's weights: an estimate, not
                        # a trained accuracy
                        "estimate": round(trial.values[0], 6),
                    },
                },
                skip_if_exists=False,
            )


def check_objectives(objectives: Sequence[str], constraints: dict[str, float]) -> None:
    """A one-shot search ranks by accuracy and static costs only."""
    from ...errors import ConfigError

    if "accuracy" not in objectives:
        raise ConfigError("objectives", "a one-shot search ranks by accuracy (and costs)")
    measured = [o for o in objectives if o != "accuracy" and o not in ONE_SHOT_COSTS]
    if measured:
        raise ConfigError(
            "objectives",
            f"a one-shot search ranks by static costs ({', '.join(ONE_SHOT_COSTS)}), not"
            f" {', '.join(measured)}: latency is measured per trained network",
        )
    if "max_latency_ms" in constraints:
        raise ConfigError(
            "max_latency_ms", "a one-shot search checks static limits only (params, flops, mac)"
        )
