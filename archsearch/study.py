"""What a run stores in its Optuna study, and how it is read back.

Every trial keeps: its architecture (JSON), id and one-line form, its hyperparameters, static
profile (params, flops, mac), measured latency, per-epoch curves, wall time, device, status
(``ok``, ``infeasible``, ``failed``, ``pruned``) and failure reason. They are written as two
user attributes, ``candidate`` (before training: what a crash must not lose) and ``result``
(after it), because each attribute is one storage round trip (~0.7 ms in SQLite, more over a
network) and twenty of them cost more than the rest of a trial's bookkeeping; failures add
``status`` and ``reason``. :func:`record_of` reads them back as one flat dict. The study keeps
the run's options (space file text included), so a resumed run, a worker or a report needs
nothing but the study. Reports read only this module's functions.
"""

from __future__ import annotations

import json
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

#: objective name → Optuna direction
OBJECTIVES: dict[str, str] = {
    "accuracy": "maximize",
    "flops": "minimize",
    "params": "minimize",
    "mac": "minimize",
    "latency": "minimize",
}
#: objective name → the trial user attribute holding its value
OBJECTIVE_ATTRS = {
    "accuracy": "val_accuracy",
    "flops": "flops",
    "params": "params",
    "mac": "mac",
    "latency": "latency_ms",
}
CONSTRAINT_ATTRS = {
    "max_flops": "flops",
    "max_params": "params",
    "max_mac": "mac",
    "max_latency_ms": "latency_ms",
}

STATUS_OK = "ok"
STATUS_INFEASIBLE = "infeasible"
STATUS_FAILED = "failed"
STATUS_PRUNED = "pruned"

#: the user attributes that hold a trial's record, in the order they are written
CANDIDATE_ATTR = "candidate"
RESULT_ATTR = "result"


def record_of(trial: FrozenTrial | optuna.Trial) -> dict[str, Any]:
    """A trial's record as one flat dict (``flops``, ``val_accuracy``, ``status``...).

    Studies written before the record was grouped kept every field as its own attribute; they
    read the same.
    """
    attrs = trial.user_attrs
    flat = {k: v for k, v in attrs.items() if k not in (CANDIDATE_ATTR, RESULT_ATTR)}
    return {**attrs.get(CANDIDATE_ATTR, {}), **attrs.get(RESULT_ATTR, {}), **flat}


#: user attributes an enqueued trial carries (a fixed architecture, DARTS data) that its retry
#: must carry too
QUEUED_ATTRS = ("queued_architecture", "alpha_history", "darts")


def enqueue_retry(study: optuna.Study, trial: FrozenTrial | optuna.Trial) -> None:
    """Queue ``trial`` again with its parameters: an interrupted trial is retried, not lost."""
    carried = {k: v for k, v in trial.user_attrs.items() if k in QUEUED_ATTRS}
    study.enqueue_trial(trial.params, user_attrs={"retry_of": trial.number, **carried})


def format_value(name: str, value: float) -> str:
    """An objective value as people read it: accuracy to 4 places, costs with thousands."""
    if name == "accuracy":
        return f"{value:.4f}"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.4g}"


def completed(study: optuna.Study) -> list[FrozenTrial]:
    """Trials that trained to the end (the budget counts these)."""
    return [
        t
        for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if record_of(t).get("status", STATUS_OK) == STATUS_OK
    ]


def status_counts(study: optuna.Study) -> dict[str, int]:
    counts = {STATUS_OK: 0, STATUS_INFEASIBLE: 0, STATUS_FAILED: 0, STATUS_PRUNED: 0, "running": 0}
    for trial in study.get_trials(deepcopy=False):
        if trial.state == TrialState.RUNNING:
            counts["running"] += 1
        elif trial.state == TrialState.COMPLETE:
            counts[STATUS_OK] += 1
        else:
            status = record_of(trial).get("status")
            if status in counts:
                counts[status] += 1
            else:
                counts[STATUS_FAILED if trial.state == TrialState.FAIL else STATUS_PRUNED] += 1
    return counts


def objective_names(study: optuna.Study) -> list[str]:
    return list(study.metric_names or ["accuracy"])


def pareto_trials(study: optuna.Study) -> list[FrozenTrial]:
    """Pareto-optimal completed trials (Optuna's own front); the best one if single-objective."""
    if not completed(study):
        return []
    if len(study.directions) == 1:
        return [study.best_trial]
    return sorted(study.best_trials, key=lambda t: t.number)


def test_accuracies(study: optuna.Study) -> dict[int, float]:
    return {int(k): v for k, v in study.user_attrs.get("test_accuracy", {}).items()}


def trial_row(trial: FrozenTrial, test: dict[int, float] | None = None) -> dict[str, Any]:
    """One trial as a flat dict (the report's table and CSV use the same rows)."""
    attrs = record_of(trial)
    return {
        "number": trial.number,
        "state": trial.state.name,
        "status": attrs.get(
            "status", STATUS_OK if trial.state == TrialState.COMPLETE else trial.state.name.lower()
        ),
        "arch_id": attrs.get("arch_id"),
        "architecture": attrs.get("arch_str"),
        "accuracy": attrs.get("val_accuracy"),
        "test_accuracy": (test or {}).get(trial.number),
        "params": attrs.get("params"),
        "flops": attrs.get("flops"),
        "mac": attrs.get("mac"),
        "latency_ms": attrs.get("latency_ms"),
        "epochs": attrs.get("epochs"),
        "train_seconds": attrs.get("train_seconds"),
        "device": attrs.get("device"),
        "reason": attrs.get("reason"),
        **{f"hp.{k}": v for k, v in attrs.get("hyperparameters", {}).items()},
    }


def architecture_of(trial: FrozenTrial) -> Any:
    from .architecture import Architecture

    return Architecture.from_dict(json.loads(record_of(trial)["architecture"]))
