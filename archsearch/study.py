"""The trial record: what a run stores in its Optuna study, and how it is read back.

Every trial keeps: its architecture (JSON), id and one-line form, its hyperparameters, static
profile (params, flops, mac), measured latency, per-epoch curves, wall time, device, status
(one of :data:`STATUSES`) and failure reason. They are written as two user attributes,
``candidate`` (before training: what a crash must not lose) and ``result`` (after it), because
each attribute is one storage round trip (~0.7 ms in SQLite, more over a network) and twenty
of them cost more than the rest of a trial's bookkeeping; failures add ``status`` and
``reason``.

This module is the record's one owner: :func:`record_candidate`, :func:`record_proxies`,
:func:`record_result` and :func:`mark` are its only writers, :func:`record_of` /
:func:`trial_row` / :func:`status_of` its readers.

It owns the *run record* the same way: the study keeps the run's options (space file text
included), its fingerprint, data shape, device and the front's test accuracies, so a resumed
run, a worker, a report, an export or a final training needs nothing but the study.
:func:`record_run`, :func:`record_device`, :func:`record_test_accuracies` and
:func:`record_bench_start` write it; :func:`run_record` reads it, once, into a frozen
:class:`RunRecord` with one set of defaults. Reports read only this module's functions.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args

import optuna
from optuna.trial import FrozenTrial, TrialState

if TYPE_CHECKING:
    from .architecture import Architecture
    from .proxies import ProxyScores
    from .train import TrainResult

Objective = Literal["accuracy", "flops", "params", "mac", "latency"]
#: objective name → Optuna direction
OBJECTIVES: dict[str, str] = {
    "accuracy": "maximize",
    "flops": "minimize",
    "params": "minimize",
    "mac": "minimize",
    "latency": "minimize",
}
#: objective name → the record field holding its value
OBJECTIVE_ATTRS = {
    "accuracy": "val_accuracy",
    "flops": "flops",
    "params": "params",
    "mac": "mac",
    "latency": "latency_ms",
}
#: constraint name → the record field it limits
CONSTRAINT_ATTRS = {
    "max_flops": "flops",
    "max_params": "params",
    "max_mac": "mac",
    "max_latency_ms": "latency_ms",
}

#: how a trial ended: trained (``ok``), over a constraint and never trained (``infeasible``),
#: raised or was interrupted (``failed``), stopped early (``pruned``)
Status = Literal["ok", "infeasible", "failed", "pruned"]
STATUSES: tuple[Status, ...] = get_args(Status)
STATUS_OK: Status = "ok"
STATUS_INFEASIBLE: Status = "infeasible"
STATUS_FAILED: Status = "failed"
STATUS_PRUNED: Status = "pruned"

#: the user attributes that hold a trial's record, in the order they are written
CANDIDATE_ATTR = "candidate"
RESULT_ATTR = "result"
#: user attribute of an enqueued trial that fixes its architecture (DARTS derivations)
QUEUED_ARCHITECTURE = "queued_architecture"
#: user attribute of a reference network's trial (``--searcher zoo``): "mobilenet_v2@0.25"
REFERENCE_NETWORK = "reference_network"
#: user attribute of the queued trials of a grid run
GRID_POINT = "grid_point"
#: user attribute with a running trial's validation accuracy per epoch so far, written at the
#: pruner's rungs (the pruner's state: other workers read it from the storage)
EPOCHS_ATTR = "epoch_accuracy"
#: user attribute with the zero-cost proxies of a candidate at initialisation (``--proxies``):
#: {"values": {name: score}, "missing": {name: reason}, "ms": {name: milliseconds}}
PROXIES_ATTR = "proxies"
#: user attribute of a network a one-shot search (``--searcher spos``) picked for retraining:
#: {"estimate": validation accuracy with the supernet's weights — an estimate, never a
#: trained accuracy —, "rank", "one_shot_trial", "supernet": {...}, ...}
ONE_SHOT_ATTR = "one_shot"
#: user attributes an enqueued trial carries that its retry must carry too
QUEUED_ATTRS = (
    QUEUED_ARCHITECTURE,
    "alpha_history",
    "darts",
    REFERENCE_NETWORK,
    ONE_SHOT_ATTR,
    GRID_POINT,  # a grid run takes queued grid points only: a retry without it was pruned
)


# --- writers: the only code that writes a trial's record -------------------------------------
def record_candidate(
    trial: optuna.Trial,
    arch: Architecture,
    hyperparameters: dict[str, Any],
    costs: dict[str, float],
    violations: dict[str, float],
    elementwise_mac_share: float,
) -> bool:
    """Write what a crash must not lose, before training: the architecture, hyperparameters,
    costs and constraint violations (these also reach TPE and NSGA-II through
    ``trial.set_constraint``). A candidate over a constraint is recorded ``infeasible`` in the
    same write. Returns whether the candidate is feasible.
    """
    for name, violation in violations.items():
        trial.set_constraint(name, violation)
    over = [name for name, violation in violations.items() if violation > 0]
    record: dict[str, Any] = {
        "architecture": arch.to_json(),
        "arch_id": arch.id,
        "arch_str": str(arch),
        "hyperparameters": hyperparameters,
        **costs,
        "elementwise_mac_share": round(elementwise_mac_share, 4),
        "constraints": list(violations.values()) or [0.0],
    }
    if over:
        record["status"] = STATUS_INFEASIBLE
        record["reason"] = "over budget: " + ", ".join(over)
    trial.set_user_attr(CANDIDATE_ATTR, record)
    return not over


def record_result(trial: optuna.Trial, result: TrainResult, wall_seconds: float) -> None:
    """Write what training produced."""
    trial.set_user_attr(
        RESULT_ATTR,
        {
            "status": STATUS_OK,
            "val_accuracy": result.val_accuracy,
            "best_val_accuracy": result.best_val_accuracy,
            "val_curve": result.val_curve,
            "loss_curve": result.loss_curve,
            "epochs": result.epochs,
            "train_seconds": round(result.seconds, 3),
            "epoch_seconds": result.epoch_seconds,
            "threads": result.threads,
            "images_per_s": round(result.images_per_s),
            "device": result.device,
            "wall_seconds": round(wall_seconds, 3),
        },
    )


def record_proxies(trial: optuna.Trial, scores: ProxyScores) -> None:
    """Write the candidate's zero-cost proxies, before it is trained."""
    trial.set_user_attr(PROXIES_ATTR, scores.as_record())


def record_epochs(trial: optuna.Trial, accuracies: list[float]) -> None:
    """Write a running trial's validation accuracy after each epoch so far."""
    trial.set_user_attr(EPOCHS_ATTR, list(accuracies))


def record_pruned(trial: optuna.Trial, accuracies: list[float], reason: str) -> None:
    """Write a trial stopped early: its last accuracy and curve, and why it stopped (no
    accuracies: stopped before training, by the proxy screen)."""
    trial.set_user_attr(
        RESULT_ATTR,
        {
            "status": STATUS_PRUNED,
            "reason": reason,
            "val_accuracy": accuracies[-1] if accuracies else None,
            "best_val_accuracy": max(accuracies) if accuracies else None,
            "val_curve": list(accuracies),
            "epochs": len(accuracies),
        },
    )


def mark(
    trial: optuna.Trial | FrozenTrial,
    status: Status,
    reason: str,
    study: optuna.Study | None = None,
) -> None:
    """Record why a trial did not end ``ok``. A stored trial (a ``FrozenTrial``, e.g. one a
    dead process left RUNNING) is written through ``study``'s storage."""
    if status not in STATUSES:
        raise ValueError(f"unknown trial status '{status}' (declared: {', '.join(STATUSES)})")
    if isinstance(trial, FrozenTrial):
        if study is None:
            raise ValueError("a stored trial is marked through its study")
        storage = study._storage  # Optuna has no public writer for another process's trial
        storage.set_trial_user_attr(trial._trial_id, "status", status)
        storage.set_trial_user_attr(trial._trial_id, "reason", reason)
        return
    trial.set_user_attr("status", status)
    trial.set_user_attr("reason", reason)


def fail_and_retry(study: optuna.Study, trial: FrozenTrial, reason: str) -> None:
    """Fail a trial that a dead (or stopped) process left RUNNING, and queue it again —
    queued first: a process killed in between leaves it RUNNING (failed again later, a retry
    too many at worst), never failed without a retry."""
    mark(trial, STATUS_FAILED, reason, study)
    enqueue_retry(study, trial)
    study._storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)


def enqueue_retry(study: optuna.Study, trial: FrozenTrial | optuna.Trial) -> None:
    """Queue ``trial`` again with its parameters: an interrupted trial is retried, not lost."""
    carried = {k: v for k, v in trial.user_attrs.items() if k in QUEUED_ATTRS}
    study.enqueue_trial(trial.params, user_attrs={"retry_of": trial.number, **carried})


def requeue_unstarted(study: optuna.Study, trial: optuna.Trial) -> None:
    """Queue again a trial taken from the queue (a retry, a grid point) that will not run
    after all: its parameters (queued as fixed ones, or a retry's own) and attributes go back
    as they were, for a worker with room."""
    taken = study._storage.get_trial(trial._trial_id)
    if "fixed_params" in taken.system_attrs or taken.params:  # a fresh trial: nothing to give
        study.add_trial(
            optuna.trial.create_trial(
                state=TrialState.WAITING,
                params=taken.params,
                distributions=taken.distributions,
                user_attrs=taken.user_attrs,
                system_attrs=taken.system_attrs,
            )
        )


def fail_stale(study: optuna.Study) -> list[FrozenTrial]:
    """Fail the trials of dead workers (:func:`stale_trials`), saying why, and queue each
    again through the storage's stale-trial callback (Optuna's retry), as Optuna's
    ``fail_stale_trials`` does for the trials it can see; then queue again any trial that
    such a failing left without its retry (:func:`requeue_lost_retries`). Returns those this
    call failed."""
    storage = study._storage
    callback = storage.get_heartbeat_stale_trial_callback()
    failed = []
    for trial in stale_trials(study):
        try:
            mark(trial, STATUS_FAILED, SILENT_WORKER, study)
            if not storage.set_trial_state_values(trial._trial_id, TrialState.FAIL):
                continue
        except optuna.exceptions.UpdateFinishedTrialError:
            continue  # another worker failed it first (and queued it again)
        failed.append(trial)
        if callback is not None:
            callback(study, _without_failure(storage.get_trial(trial._trial_id)))
    requeue_lost_retries(study)
    return failed


SILENT_WORKER = "its worker went silent (no heartbeat)"


def requeue_lost_retries(study: optuna.Study) -> list[int]:
    """Queue the retry of each trial failed as a dead worker's whose retry was never queued:
    failing it and queuing it are two writes, and the process between them may be killed too,
    or lose the database. Such a trial failed longer ago than the grace period (by then its
    retry would be queued) is retried through the storage's stale-trial callback. Returns the
    numbers of the trials queued again."""
    storage = study._storage
    callback = storage.get_heartbeat_stale_trial_callback()
    interval = heartbeat_seconds(storage)
    if callback is None or not interval:
        return []
    settled_before = datetime.now() - timedelta(seconds=_grace_seconds(storage, interval))
    trials = study.get_trials(deepcopy=False)
    retried = {n for t in trials for n in t.system_attrs.get("retry_history", ())}
    retried |= {t.user_attrs["retry_of"] for t in trials if "retry_of" in t.user_attrs}
    lost = [
        t
        for t in trials
        if t.state == TrialState.FAIL
        and t.number not in retried
        # failed by a heartbeat check (Optuna's leaves no status; archsearch's says why), not
        # a candidate that failed in its own worker
        and t.user_attrs.get("reason", SILENT_WORKER) == SILENT_WORKER
        and t.datetime_complete is not None
        and t.datetime_complete < settled_before
    ]
    for trial in lost:
        callback(study, _without_failure(copy.deepcopy(trial)))
    return [t.number for t in lost]


def _without_failure(trial: FrozenTrial) -> FrozenTrial:
    """``trial`` for its retry, which copies its attributes: not the failure's, or the retry,
    once trained, would read as failed."""
    trial.user_attrs = {k: v for k, v in trial.user_attrs.items() if k not in ("status", "reason")}
    return trial


def weights_file(weights_dir: Path, number: int) -> Path:
    """Where trial ``number``'s trained weights are kept."""
    return weights_dir / f"trial_{number}.pt"


# --- readers ---------------------------------------------------------------------------------
def record_of(trial: FrozenTrial | optuna.Trial) -> dict[str, Any]:
    """A trial's record as one flat dict (``flops``, ``val_accuracy``, ``status``...).

    Studies written before the record was grouped kept every field as its own attribute; they
    read the same.
    """
    attrs = trial.user_attrs
    flat = {k: v for k, v in attrs.items() if k not in (CANDIDATE_ATTR, RESULT_ATTR)}
    return {**attrs.get(CANDIDATE_ATTR, {}), **attrs.get(RESULT_ATTR, {}), **flat}


def proxies_of(trial: FrozenTrial) -> dict[str, float]:
    """A trial's recorded proxy scores (the missing ones left out)."""
    return dict(trial.user_attrs.get(PROXIES_ATTR, {}).get("values", {}))


def epoch_accuracies(trial: FrozenTrial) -> list[float]:
    """A trial's validation accuracy per epoch: the whole curve once it has a result, else
    what it has written at the rungs so far."""
    record = record_of(trial)
    return list(record.get("val_curve") or record.get(EPOCHS_ATTR) or [])


def frozen(trial: optuna.Trial) -> FrozenTrial:
    """A live trial as stored now (what Optuna's own ``should_prune`` hands a pruner)."""
    return trial.study._storage.get_trial(trial._trial_id)  # no public reader in Optuna


def status_of(trial: FrozenTrial) -> Status | Literal["running", "waiting"]:
    """How a trial ended (one of :data:`STATUSES`), or ``running`` / ``waiting``."""
    if trial.state == TrialState.RUNNING:
        return "running"
    if trial.state == TrialState.WAITING:
        return "waiting"
    if trial.state == TrialState.COMPLETE:
        return STATUS_OK
    status = record_of(trial).get("status")
    if status in (STATUS_INFEASIBLE, STATUS_FAILED, STATUS_PRUNED):
        return status
    return STATUS_FAILED if trial.state == TrialState.FAIL else STATUS_PRUNED


def heartbeat_seconds(storage: optuna.storages.BaseStorage) -> int | None:
    """The storage's heartbeat interval; None when its trials send no heartbeats."""
    interval = getattr(storage, "get_heartbeat_interval", None)
    return interval() if interval is not None else None


def stale_trials(study: optuna.Study) -> list[FrozenTrial]:
    """RUNNING trials whose worker has stopped sending heartbeats (a dead worker's) — or never
    sent one: a worker killed between creating its trial and the trial's first heartbeat
    leaves a trial that Optuna never sees as stale (it looks only at trials with a heartbeat);
    one older than the storage's grace period is stale here."""
    storage = study._storage
    interval = heartbeat_seconds(storage)
    if not interval:
        return []
    stale = set(storage._get_stale_trial_ids(study._study_id))  # no public reader in Optuna
    running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    # Optuna's clock for the start
    silent_since = datetime.now() - timedelta(seconds=_grace_seconds(storage, interval))
    old = [t for t in running if t.datetime_start is not None and t.datetime_start < silent_since]
    silent = {t._trial_id for t in old} - (
        _with_heartbeats(storage, [t._trial_id for t in old]) if old else set()
    )
    return [t for t in running if t._trial_id in stale | silent]


def _grace_seconds(storage: optuna.storages.BaseStorage, interval: int) -> float:
    """How long a trial may go without a heartbeat before it is stale: the storage's grace
    period, else Optuna's default of two heartbeat intervals."""
    return getattr(_rdb(storage), "grace_period", None) or 2 * interval


def _rdb(storage: optuna.storages.BaseStorage) -> Any:
    return getattr(storage, "_backend", storage)  # Optuna's cache around an RDB storage


def _with_heartbeats(storage: optuna.storages.BaseStorage, trial_ids: list[int]) -> set[int]:
    """Those of ``trial_ids`` that have a heartbeat recorded (Optuna's trial_heartbeats)."""
    from optuna.storages._rdb.models import TrialHeartbeatModel
    from sqlalchemy import select

    engine = _rdb(storage).engine
    query = select(TrialHeartbeatModel.trial_id).where(TrialHeartbeatModel.trial_id.in_(trial_ids))
    with engine.connect() as connection:
        return {row[0] for row in connection.execute(query)}


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


def judged(study: optuna.Study) -> list[FrozenTrial]:
    """Trials that a search budget counts: trained to the end, or stopped early after at
    least one epoch. (Infeasible candidates are never trained, and cost next to nothing.)"""
    return [
        t
        for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED))
        if is_judged(t)
    ]


def is_judged(trial: FrozenTrial) -> bool:
    """Whether a search budget counts ``trial`` (see :func:`judged`)."""
    if trial.state not in (TrialState.COMPLETE, TrialState.PRUNED):
        return False
    status = status_of(trial)
    if status == STATUS_PRUNED:  # stopped early: counted once it trained an epoch
        return bool(record_of(trial).get("epochs"))
    return status == STATUS_OK


def places_taken(trials: list[FrozenTrial], below: int | None = None) -> int:
    """The places of a search budget that ``trials`` hold: judged trials, and running ones
    (each may end judged); with ``below``, only trials numbered below it, queued ones too.

    Workers sharing a study keep the budget exact with it: a worker starts a trial only while
    ``places_taken(all) < budget``, and a trial it has started trains only while
    ``places_taken(all, below=its number) < budget``. The second check makes the count exact
    when workers start trials at the same moment: of the trials that pass it, the k-th by
    number saw the k - 1 before it (each queued, running or judged then, having been created
    before it), so at most ``budget`` pass. Queued trials count there because a queued one
    (a retry) keeps the low number of when it was queued, not of when it starts.
    """
    held = (TrialState.RUNNING,) if below is None else (TrialState.RUNNING, TrialState.WAITING)
    return sum(
        1
        for t in trials
        if (below is None or t.number < below) and (t.state in held or is_judged(t))
    )


def status_counts(study: optuna.Study) -> dict[str, int]:
    counts = dict.fromkeys((*STATUSES, "running"), 0)
    for trial in study.get_trials(deepcopy=False):
        status = status_of(trial)
        if status in counts:
            counts[status] += 1
    return counts


def best_values(trials: list[FrozenTrial], objectives: tuple[str, ...]) -> dict[str, float]:
    """The best value of each objective over ``trials`` (completed ones)."""
    best: dict[str, float] = {}
    for index, name in enumerate(objectives):
        values = [t.values[index] for t in trials]
        if values:
            best[name] = max(values) if OBJECTIVES[name] == "maximize" else min(values)
    return best


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
    return run_record(study).test_accuracy


def trial_row(trial: FrozenTrial, test: dict[int, float] | None = None) -> dict[str, Any]:
    """One trial as a flat dict (the report's table and CSV use the same rows)."""
    attrs = record_of(trial)
    return {
        "number": trial.number,
        "state": trial.state.name,
        "status": status_of(trial),
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
        # a one-shot search's estimate for the network it picked: named apart from accuracy
        "one_shot_estimate": trial.user_attrs.get(ONE_SHOT_ATTR, {}).get("estimate"),
        **{f"proxy.{k}": v for k, v in proxies_of(trial).items()},
        **{f"hp.{k}": v for k, v in attrs.get("hyperparameters", {}).items()},
    }


def architecture_of(trial: FrozenTrial) -> Architecture:
    from .architecture import Architecture

    return Architecture.from_dict(json.loads(record_of(trial)["architecture"]))


# --- the run record: what a run keeps about itself in the study ------------------------------
#: study user attributes of the run record (one each: a study attribute is one storage write)
RUN_OPTIONS, RUN_FINGERPRINT, RUN_SPACE = "config", "fingerprint", "space_yaml"
RUN_DATASET, RUN_INPUT_SHAPE, RUN_CLASSES = "dataset", "input_shape", "num_classes"
RUN_TORCH, RUN_DEVICE, RUN_TEST = "torch_version", "device", "test_accuracy"
RUN_BENCH_STARTED, RUN_FIDELITY = "bench_started", "fidelity"


@dataclass(frozen=True)
class RunRecord:
    """A run as its study keeps it; every field has one default, for studies made by older
    versions or not by ``archsearch run`` at all."""

    #: the run's options (:class:`archsearch.runs.RunConfig` fields as stored); {} if none
    options: dict[str, Any] = field(default_factory=dict)
    fingerprint: dict[str, Any] | None = None  # what a resumed run must match
    space_yaml: str | None = None  # the space file's text
    dataset: str = ""  # the data set as described when the run started
    input_shape: tuple[int, ...] = (3, 32, 32)  # C, H, W
    num_classes: int = 10
    torch_version: str = ""
    device: str = ""  # of the latest process that opened the run
    test_accuracy: dict[int, float] = field(default_factory=dict)  # the front's, by trial
    bench_started: float | None = None  # a benchmark run's clock start (time.time())
    #: an auto-fidelity run's choice (:class:`archsearch.runs.fidelity.Fidelity`'s record)
    fidelity: dict[str, Any] | None = None

    @property
    def made_by_run(self) -> bool:
        """Made by ``archsearch run`` with a space (so a worker can join it)."""
        return bool(self.options) and bool(self.space_yaml)

    @property
    def space(self) -> str:
        return str(self.options.get("space", ""))

    @property
    def heartbeat(self) -> int | None:
        return self.options.get("heartbeat")

    @property
    def latency_backend(self) -> str:
        """The runtime its latencies were measured in (``torch`` for runs before the option)."""
        return str(self.options.get("latency_backend") or "torch")


def run_record(study: optuna.Study) -> RunRecord:
    """The run record of ``study``, read in one storage call."""
    attrs = study.user_attrs
    options = dict(attrs.get(RUN_OPTIONS) or {})
    started = attrs.get(RUN_BENCH_STARTED)
    return RunRecord(
        options=options,
        fingerprint=attrs.get(RUN_FINGERPRINT),
        space_yaml=attrs.get(RUN_SPACE),
        dataset=str(attrs.get(RUN_DATASET, options.get("dataset", ""))),
        input_shape=tuple(attrs.get(RUN_INPUT_SHAPE, (3, 32, 32))),
        num_classes=int(attrs.get(RUN_CLASSES, 10)),
        torch_version=str(attrs.get(RUN_TORCH, "")),
        device=str(attrs.get(RUN_DEVICE, "")),
        test_accuracy={int(k): v for k, v in attrs.get(RUN_TEST, {}).items()},
        bench_started=None if started is None else float(started),
        fidelity=attrs.get(RUN_FIDELITY),
    )


def record_run(
    study: optuna.Study,
    *,
    options: dict[str, Any],
    fingerprint: dict[str, Any],
    space_yaml: str,
    dataset: str,
    input_shape: tuple[int, ...],
    num_classes: int,
) -> None:
    """A new run's record: everything a resumed run, a worker or a report needs to know."""
    import torch

    study.set_user_attr(RUN_FINGERPRINT, fingerprint)
    study.set_user_attr(RUN_OPTIONS, options)
    study.set_user_attr(RUN_SPACE, space_yaml)
    study.set_user_attr(RUN_DATASET, dataset)
    study.set_user_attr(RUN_INPUT_SHAPE, list(input_shape))
    study.set_user_attr(RUN_CLASSES, num_classes)
    study.set_user_attr(RUN_TORCH, torch.__version__)


def record_device(study: optuna.Study, device: str) -> None:
    study.set_user_attr(RUN_DEVICE, device)


def record_test_accuracies(study: optuna.Study, accuracies: dict[int, float]) -> None:
    study.set_user_attr(RUN_TEST, {str(k): v for k, v in sorted(accuracies.items())})


def record_fidelity(study: optuna.Study, fidelity: dict[str, Any]) -> None:
    study.set_user_attr(RUN_FIDELITY, fidelity)


def record_bench_start(study: optuna.Study, started: float) -> None:
    study.set_user_attr(RUN_BENCH_STARTED, started)
