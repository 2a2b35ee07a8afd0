"""One candidate through the whole pipeline: the function to read to understand a run.

sample (space + trial) → Architecture → static profile (meta device, no weights) → constraint
check (over budget: recorded infeasible, never trained) → build → zero-cost proxies at
initialisation (``--proxies``; ``--proxy-screen`` stops the worst untrained) → train /
validate → record in the trial (:mod:`.study`, the record's owner) → objective values.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
import torch
from torch import nn

from .architecture import Architecture
from .build import build_model
from .checkpoint import save_tensors
from .data import Dataset
from .profiler import QUICK_LATENCY, LatencyBackend, measure_latency, static_costs
from .proxies import ProxyBatch, score_candidate
from .searchers.pruners import ParetoAshaPruner, ProxyScreen
from .space import DEFAULT_HYPERPARAMETERS, Distribution, SearchSpace
from .study import (
    CONSTRAINT_ATTRS,
    OBJECTIVE_ATTRS,
    QUEUED_ARCHITECTURE,
    frozen,
    record_candidate,
    record_epochs,
    record_proxies,
    record_pruned,
    record_result,
    weights_file,
)
from .train import TrainConfig, seed_everything, train


@dataclass
class Candidates:
    """Where candidates come from: a space, or one fixed architecture (hyperparameter tuning)."""

    space: SearchSpace | None = None
    architecture: Architecture | None = None
    hyperparameters: dict[str, Distribution] | None = None  # overrides the space's section
    epochs: int | None = None  # overrides the sampled / default epochs

    def sample(
        self, trial: optuna.Trial, input_size: tuple[int, int]
    ) -> tuple[Architecture, dict[str, Any]]:
        queued = trial.user_attrs.get(QUEUED_ARCHITECTURE)
        if queued is not None:  # enqueued with the trial (DARTS derivations, known networks)
            arch = Architecture.from_json(queued)
        elif self.architecture is not None:
            arch = self.architecture
        else:
            assert self.space is not None
            arch = self.space.sample_architecture(trial, input_size)
        if self.hyperparameters is not None:
            sampled = {k: d.suggest(trial, k) for k, d in self.hyperparameters.items()}
            hp = {**DEFAULT_HYPERPARAMETERS, **sampled}
        elif self.space is not None:
            hp = self.space.sample_hyperparameters(trial)
        else:
            hp = dict(DEFAULT_HYPERPARAMETERS)
        if self.epochs is not None:
            hp["epochs"] = self.epochs
        return arch, hp


@dataclass
class TrialContext:
    candidates: Candidates
    data: Dataset
    objectives: tuple[str, ...]
    constraints: dict[str, float] = field(default_factory=dict)
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    seed: int = 0
    weights_dir: Path | None = None
    latency_threads: int | None = None
    latency_backend: LatencyBackend = "torch"
    on_candidate: Callable[[int, Architecture, int], None] | None = None
    on_epoch: Callable[[int, int, float], None] | None = None
    always_latency: bool = False  # e.g. to check a DARTS latency table against a measurement
    proxies: tuple[str, ...] = ()  # zero-cost proxies to record before training
    proxy_batch: ProxyBatch | None = None  # the images they look at: the same for every trial
    screen: ProxyScreen | None = None  # the zero-epoch rung (``--proxy-screen``)
    # the run's time is up at this time.monotonic(): a candidate still training then stops at
    # the end of its epoch (recorded as stopped early, with its accuracies so far)
    deadline: float | None = None

    @property
    def needs_latency(self) -> bool:
        return (
            self.always_latency
            or "latency" in self.objectives
            or "max_latency_ms" in self.constraints
        )


def evaluate_trial(trial: optuna.Trial, ctx: TrialContext) -> list[float]:
    """Run one candidate and return its objective values (in ``ctx.objectives`` order)."""
    started = time.perf_counter()
    data = ctx.data
    arch, hp = ctx.candidates.sample(trial, data.input_size)
    seed = ctx.seed + trial.number
    # initial weights from the trial's own seed: PyTorch seeds its generator at random at
    # start-up, and a trial must not depend on what the process ran before it
    seed_everything(seed)
    model = build_model(arch, data.num_classes, data.in_channels)
    costs, elementwise_share = candidate_costs(model, ctx)
    violations = {
        name: costs[CONSTRAINT_ATTRS[name]] - limit for name, limit in ctx.constraints.items()
    }
    if not record_candidate(trial, arch, hp, costs, violations, elementwise_share):
        raise optuna.TrialPruned("infeasible")  # recorded as such; never trained
    if ctx.proxies and ctx.proxy_batch is not None:
        scores = score_candidate(model, ctx.proxy_batch, ctx.proxies, seed=seed, device=ctx.device)
        record_proxies(trial, scores)
        if ctx.screen is not None:
            verdict = ctx.screen.judge(trial.study, frozen(trial))
            if verdict.prune:
                record_pruned(trial, [], verdict.reason)
                raise optuna.TrialPruned(verdict.reason)
    if ctx.on_candidate is not None:
        ctx.on_candidate(trial.number, arch, int(hp["epochs"]))
    config = TrainConfig.from_hyperparameters(hp, seed=seed)
    hook = epoch_hook(trial, ctx.objectives, config.epochs, ctx.on_epoch, ctx.deadline)
    result = train(model, data, config, ctx.device, hook)
    if ctx.weights_dir is not None:
        save_tensors(model.state_dict(), weights_file(ctx.weights_dir, trial.number))
    record_result(trial, result, time.perf_counter() - started)
    values = {**costs, "val_accuracy": result.val_accuracy}
    return [float(values[OBJECTIVE_ATTRS[name]]) for name in ctx.objectives]


def candidate_costs(model: nn.Module, ctx: TrialContext) -> tuple[dict[str, Any], float]:
    """The candidate's costs: the static profile (meta stand-ins: the weights are not
    touched), plus its measured latency where an objective or a constraint needs it."""
    input_shape = (1, ctx.data.in_channels, *ctx.data.input_size)
    static = static_costs(model, input_shape)
    costs: dict[str, Any] = {"params": static.params, "flops": static.flops, "mac": static.mac}
    if ctx.needs_latency:
        costs["latency_ms"] = measure_latency(
            model,
            input_shape,
            device=ctx.device,
            threads=ctx.latency_threads,
            backend=ctx.latency_backend,
            **QUICK_LATENCY.as_kwargs(),
        ).median_ms
        model.train()
    return costs, static.elementwise_mac_share


def epoch_hook(
    trial: optuna.Trial,
    objectives: tuple[str, ...],
    epochs: int,
    on_epoch: Callable[[int, int, float], None] | None = None,
    deadline: float | None = None,
) -> Callable[[int, float], None]:
    """After each epoch: progress, then early stopping. The Pareto pruner (any study) reads
    the accuracies this writes at its rungs; Optuna's pruners (single-objective studies only:
    ``trial.report`` raises in the others) read ``trial.report``'s. A tabulated benchmark's
    replay calls it with the table's accuracies, so it stops what a run would stop. Past
    ``deadline`` (``time.monotonic()``) a candidate stops after the epoch it is in."""
    pruner = trial.study.pruner
    pareto = isinstance(pruner, ParetoAshaPruner)
    single = len(objectives) == 1 and not pareto
    accuracies: list[float] = []

    def hook(epoch: int, accuracy: float) -> None:
        if on_epoch is not None:
            on_epoch(trial.number, epoch, accuracy)
        accuracies.append(accuracy)
        if pareto and pruner.is_rung(epoch + 1, epochs):
            record_epochs(trial, accuracies)
            verdict = pruner.judge(trial.study, frozen(trial))
            if verdict.prune:
                record_pruned(trial, accuracies, verdict.reason)
                raise optuna.TrialPruned(verdict.reason)
        elif single:
            trial.report(accuracy, epoch)
            if trial.should_prune():
                record_pruned(trial, accuracies, f"stopped after epoch {epoch + 1}")
                raise optuna.TrialPruned()
        if deadline is not None and epoch + 1 < epochs and time.monotonic() >= deadline:
            reason = f"the run's time ran out: stopped after epoch {epoch + 1} of {epochs}"
            record_pruned(trial, accuracies, reason)
            raise optuna.TrialPruned(reason)

    return hook
