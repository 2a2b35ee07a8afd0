"""One candidate through the whole pipeline: the function to read to understand a run.

sample (space + trial) → Architecture → static profile (meta device, no weights) → constraint
check (over budget: recorded infeasible, never trained) → build → train / validate → record in
the trial → objective values.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
import torch

from .architecture import Architecture
from .build import build_model
from .data import Dataset
from .profiler import measure_latency
from .profiler.static import static_costs
from .space import DEFAULT_HYPERPARAMETERS, Distribution, SearchSpace
from .study import (
    CANDIDATE_ATTR,
    CONSTRAINT_ATTRS,
    OBJECTIVE_ATTRS,
    RESULT_ATTR,
    STATUS_INFEASIBLE,
    STATUS_OK,
)
from .train import TrainConfig, TrainResult, train

#: user attribute of an enqueued trial that fixes its architecture
QUEUED_ARCHITECTURE = "queued_architecture"


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
    on_candidate: Callable[[int, Architecture, int], None] | None = None
    on_epoch: Callable[[int, int, float], None] | None = None
    always_latency: bool = False  # e.g. to check a DARTS latency table against a measurement

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
    input_shape = (1, data.in_channels, *data.input_size)
    model = build_model(arch, data.num_classes, data.in_channels)
    static = static_costs(model, input_shape)  # meta stand-ins: the weights are not touched
    costs: dict[str, Any] = {"params": static.params, "flops": static.flops, "mac": static.mac}
    if ctx.needs_latency:
        costs["latency_ms"] = measure_latency(
            model,
            input_shape,
            device=ctx.device,
            threads=ctx.latency_threads,
            repeats=5,
            min_repeat_s=0.01,
            warmup_s=0.02,
        ).median_ms
        model.train()
    violations = [costs[CONSTRAINT_ATTRS[name]] - limit for name, limit in ctx.constraints.items()]
    record = {
        "architecture": arch.to_json(),
        "arch_id": arch.id,
        "arch_str": str(arch),
        "hyperparameters": hp,
        **costs,
        "elementwise_mac_share": round(static.elementwise_mac_share, 4),
        "constraints": violations or [0.0],
    }
    for constraint, violation in zip(ctx.constraints, violations, strict=True):
        trial.set_constraint(constraint, violation)  # seen by TPE and NSGA-II
    if any(v > 0 for v in violations):
        over = [name for name, v in zip(ctx.constraints, violations, strict=True) if v > 0]
        reason = "over budget: " + ", ".join(over)
        _record(trial, CANDIDATE_ATTR, {**record, "status": STATUS_INFEASIBLE, "reason": reason})
        raise optuna.TrialPruned("infeasible")  # never trained
    _record(trial, CANDIDATE_ATTR, record)

    if ctx.on_candidate is not None:
        ctx.on_candidate(trial.number, arch, int(hp["epochs"]))
    single = len(ctx.objectives) == 1

    def on_epoch(epoch: int, accuracy: float) -> None:
        if ctx.on_epoch is not None:
            ctx.on_epoch(trial.number, epoch, accuracy)
        if single:  # Optuna's pruners work on single-objective studies only
            trial.report(accuracy, epoch)
            if trial.should_prune():
                trial.set_user_attr("status", "pruned")
                trial.set_user_attr("reason", f"pruned after epoch {epoch + 1}")
                raise optuna.TrialPruned()

    config = TrainConfig.from_hyperparameters(hp, seed=ctx.seed + trial.number)
    result: TrainResult = train(model, data, config, ctx.device, on_epoch)
    if ctx.weights_dir is not None:
        torch.save(model.state_dict(), ctx.weights_dir / f"trial_{trial.number}.pt")
    _record(
        trial,
        RESULT_ATTR,
        {
            "status": STATUS_OK,
            "val_accuracy": result.val_accuracy,
            "best_val_accuracy": result.best_val_accuracy,
            "val_curve": result.val_curve,
            "loss_curve": result.loss_curve,
            "epochs": result.epochs,
            "train_seconds": round(result.seconds, 3),
            "images_per_s": round(result.images_per_s),
            "device": result.device,
            "wall_seconds": round(time.perf_counter() - started, 3),
        },
    )
    values = {**costs, "val_accuracy": result.val_accuracy}
    return [float(values[OBJECTIVE_ATTRS[name]]) for name in ctx.objectives]


def _record(trial: optuna.Trial, name: str, fields: dict[str, Any]) -> None:
    trial.set_user_attr(name, fields)  # one storage round trip (see study.py)
