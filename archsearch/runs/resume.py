"""Opening, creating and resuming a run's study: the one place that knows how a run is stored.

By default each run is a SQLite study at ``runs/<name>/study.db`` (readable by
optuna-dashboard), with trained weights under ``runs/<name>/weights/``. Re-running the same
command continues the same study: completed trials are kept, a trial left running by a crash
or ``kill -9`` is marked failed and retried. A study is continued only with the options it was
made with (its *fingerprint*); anything else is an error naming what differs.

SQLite is opened in write-ahead-log mode with ``synchronous=NORMAL``: every committed
transaction survives a crash or ``kill -9`` of the process (only a power loss could lose the
last ones), commits cost a fraction of the default full fsync, and readers
(optuna-dashboard, ``archsearch report``) do not block the writer.
"""

from __future__ import annotations

import hashlib
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
import torch
from optuna.trial import TrialState

from ..data import Dataset
from ..errors import ArchsearchError, ConfigError
from ..objective import Candidates
from ..searchers.pruners import ParetoAshaPruner
from ..space import SearchSpace, read_space_text, space_from_text
from ..study import (
    GRID_POINT,
    OBJECTIVES,
    RunRecord,
    fail_and_retry,
    fail_stale,
    heartbeat_seconds,
    record_device,
    record_run,
    run_record,
)
from .config import RunConfig

#: a running trial whose worker missed this many heartbeats is stale: failed and retried
GRACE_BEATS = 3


# --- storage ---------------------------------------------------------------------------------
#: SQLAlchemy's connection pool for a database server (PostgreSQL ...), per process: a worker
#: uses one connection at a time plus its heartbeat thread's, so 2 kept and 1 more at a peak
#: (SQLAlchemy's default, 5 + 10, lets a few dozen workers exhaust PostgreSQL's default 100
#: connections); a connection is tested before use (pre-ping: the server or a firewall may
#: have dropped an idle one, optuna#5600) and replaced after 30 minutes
SERVER_ENGINE: dict[str, Any] = {
    "pool_size": 2,
    "max_overflow": 1,
    "pool_pre_ping": True,
    "pool_recycle": 1800,
}


def open_storage(url: str, heartbeat: int | None = None) -> optuna.storages.BaseStorage:
    """An Optuna storage for ``url``; a clear :class:`ArchsearchError` if it cannot be opened.

    With ``heartbeat`` (seconds), running trials send heartbeats; a trial whose worker died
    (no heartbeat for 3 intervals) is marked failed and re-queued by Optuna's
    ``RetryHeartbeatStaleTrialCallback`` when another worker starts its next trial.
    """
    options: dict[str, Any] = {}
    if heartbeat is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            retry = optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=3)
        options = {
            "heartbeat_interval": heartbeat,
            "grace_period": GRACE_BEATS * heartbeat,
            "heartbeat_stale_trial_callback": retry,
        }
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            if url.startswith("sqlite:///"):
                return _sqlite(url, options)
            return optuna.storages.RDBStorage(url, engine_kwargs=SERVER_ENGINE, **options)
    except ImportError:
        hint = (
            " (for PostgreSQL: pip install 'archsearch[postgres]')"
            if url.startswith("postgres")
            else ""
        )
        raise ConfigError(
            "storage", f"'{url}': its database driver is not installed{hint}"
        ) from None
    except Exception as err:
        raise ConfigError("storage", f"'{url}': cannot open ({_explain(url, err)})") from None


def _explain(url: str, err: Exception) -> str:
    scheme = url.split("://", 1)[0] if "://" in url else ""
    if scheme == "postgres":
        return "write postgresql:// (SQLAlchemy's name for PostgreSQL), e.g. postgresql://USER@HOST/DB"
    if type(err).__name__ in ("NoSuchModuleError", "ArgumentError"):
        return (
            f"unknown database type '{scheme or url}'; expected sqlite:///FILE or"
            " postgresql://USER@HOST/DB (any SQLAlchemy URL that Optuna supports)"
        )
    return f"{type(err).__name__}: {str(err).splitlines()[0]}"


def _sqlite(url: str, options: dict[str, Any]) -> optuna.storages.RDBStorage:
    from sqlalchemy import event

    storage = optuna.storages.RDBStorage(
        url, engine_kwargs={"connect_args": {"timeout": 60}}, **options
    )

    @event.listens_for(storage.engine, "connect")
    def _pragmas(connection: Any, _record: Any) -> None:
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    storage.engine.dispose()  # connections opened before the listener: reopen with it
    return storage


def require_study(backend: optuna.storages.BaseStorage, url: str, name: str) -> None:
    """A clear error when ``name`` is not a study in the storage, listing those that are."""
    known = optuna.get_all_study_names(backend)
    if name not in known:
        raise ConfigError(
            "study",
            f"'{name}': no such study in {url} (it has: {', '.join(sorted(known)) or 'none'})",
        )


def storage_url(config: RunConfig) -> str:
    """The run's storage: ``config.storage``, or SQLite in the run's folder."""
    return config.storage or f"sqlite:///{(config.run_dir / 'study.db').as_posix()}"


def stored_record(config: RunConfig) -> RunRecord | None:
    """The record of the run ``config`` would resume, or ``None`` when there is none yet
    (nothing is created: a new run's SQLite file is not made here)."""
    url = storage_url(config)
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).is_file():
        return None
    backend = open_storage(url)
    name = config.study or config.run_name
    if name not in optuna.get_all_study_names(backend):
        return None
    return run_record(optuna.load_study(study_name=name, storage=backend))


def open_run(
    run: str, runs_dir: str = "runs", storage: str | None = None, study_name: str | None = None
) -> optuna.Study:
    """A stored run's study (for report, export and status): by run folder, by run name under
    ``runs_dir``, or by storage URL and study name. Opened with the run's heartbeat, so
    :func:`stale_trials` can tell a dead worker's trial."""
    if storage is None:
        folder = run_folder(run, runs_dir)
        database = folder / "study.db"
        if not database.is_file():
            raise ArchsearchError(f"{run}: no run found (looked for {database})")
        storage = f"sqlite:///{database.as_posix()}"
        study_name = study_name or folder.name
    name = study_name or run
    backend = open_storage(storage)
    require_study(backend, storage, name)
    study = optuna.load_study(study_name=name, storage=backend)
    heartbeat = run_record(study).heartbeat
    if heartbeat:  # workers' trials send heartbeats: open it as they do, to see stale ones
        study = optuna.load_study(study_name=name, storage=open_storage(storage, heartbeat))
    return study


def open_runs(
    runs: list[str] | None = None,
    *,
    storage: str | None = None,
    studies: list[str] | None = None,
    runs_dir: str = "runs",
) -> list[optuna.Study]:
    """Several stored runs (for a report): by folder or name under ``runs_dir``, or the
    ``studies`` in ``storage``."""
    if storage is not None:
        if not studies:
            raise ConfigError("study", "give the study names to open in the storage")
        return [open_run(name, storage=storage, study_name=name) for name in studies]
    if not runs:
        raise ArchsearchError("give one or more run folders, or a storage URL and study names")
    return [open_run(run, runs_dir) for run in runs]


def run_folder(run: str, runs_dir: str = "runs") -> Path:
    """A run's folder: ``run`` itself when it holds a study, else ``runs_dir/run``."""
    folder = Path(run)
    return folder if (folder / "study.db").is_file() else Path(runs_dir) / run


# --- a run's space and fingerprint -----------------------------------------------------------
def load_run_space(name_or_path: str) -> tuple[SearchSpace, str]:
    """The space and its file's text, read once (the text is stored with the run)."""
    text, source = read_space_text(name_or_path)
    return space_from_text(text, source), text


def _fingerprint(config: RunConfig, space_text: str, candidates: Candidates) -> dict[str, Any]:
    """What must match for a re-run to continue a stored study."""
    fixed = candidates.architecture.id if candidates.architecture is not None else None
    hp = (
        {k: repr(v) for k, v in candidates.hyperparameters.items()}
        if candidates.hyperparameters is not None
        else None
    )
    darts = config.darts
    return {
        "space_sha256": hashlib.sha256(space_text.encode()).hexdigest(),
        "dataset": config.dataset,
        "objectives": list(config.objectives),
        "searcher": config.searcher,
        "constraints": config.constraints,
        "epochs": config.epochs,
        "architecture": fixed,
        "hyperparameter_space": hp,
        "pruner": [config.pruner_name, config.min_epochs, config.reduction_factor],
        "fidelity": [config.train_limit, config.train_fraction, config.resolution],
        "screen": [config.proxy_screen, config.proxies[0]] if config.proxy_screen else None,
        "darts": [
            darts.mode,
            darts.order,
            darts.epochs,
            darts.cost,
            darts.cost_weight,
            # the fixes, only when used: runs made before them keep their fingerprint
            *(
                [darts.beta_weight, darts.aux_skip, darts.partial_channels]
                if darts.beta_weight or darts.aux_skip or darts.partial_channels > 1
                else []
            ),
        ]
        if config.searcher == "darts"
        else None,
        "spos": [
            config.spos.epochs,
            config.spos.sampling,
            config.spos.sampler,
            config.spos.evaluations,
            config.spos.retrain_top,
        ]
        if config.searcher == "spos"
        else None,
        # only when not the default: runs made before the option keep their fingerprint
        **(
            {"latency_backend": config.latency_backend}
            if config.latency_backend != "torch"
            else {}
        ),
    }


def mismatch(study: optuna.Study, config: RunConfig, changed: list[str]) -> ArchsearchError:
    """The error for a stored study whose options differ from this command's."""
    storage = storage_url(config)
    remedy = (
        "choose another study name"
        if config.storage
        else f"choose another run name or delete {config.run_dir}"
    )
    if "space_sha256" in changed or "space" in changed:
        return other_space(study, storage, config.space, remedy)
    return ConfigError(
        changed[0],
        f"run '{study.study_name}' already exists in {storage} with different options"
        f" ({', '.join(changed)}); {remedy}",
    )


def other_space(study: optuna.Study, storage: str, given: str, remedy: str) -> ArchsearchError:
    was = run_record(study).space or "?"
    return ConfigError(
        "space",
        f"study '{study.study_name}' in {storage} was created from another search space"
        f" ('{was}'; this command gives '{given}'); {remedy}",
    )


# --- create or resume ------------------------------------------------------------------------
@dataclass
class OpenedRun:
    study: optuna.Study
    storage: str
    shared: bool  # other workers may use the study (trials kept alive by heartbeats)
    resumed: int  # interrupted trials failed and queued again


def open_study(
    config: RunConfig,
    *,
    candidates: Candidates,
    space_text: str,
    data: Dataset,
    sampler: optuna.samplers.BaseSampler,
    device: torch.device,
    points: list[dict[str, Any]] | None = None,
) -> OpenedRun:
    """Create the run's study, or resume it if the options match; recover interrupted trials.

    A shared storage (``config.storage``) may have workers in it: their trials are kept alive
    by heartbeats, and only a trial whose heartbeat stopped is failed and retried.
    """
    config.run_dir.mkdir(parents=True, exist_ok=True)
    storage = storage_url(config)
    shared = config.storage is not None
    directions = [OBJECTIVES[o] for o in config.objectives]
    backend = open_storage(storage, heartbeat=config.heartbeat if shared else None)
    try:
        study = optuna.create_study(
            storage=backend,
            study_name=config.study or config.run_name,
            directions=directions,
            sampler=sampler,
            pruner=pruner(config),
            load_if_exists=True,
        )
    except ValueError as err:
        raise ConfigError("storage", f"'{storage}': {err}") from None
    fingerprint = _fingerprint(config, space_text, candidates)
    stored = run_record(study).fingerprint
    # a key the stored fingerprint lacks came in after that study was made: not a change
    changed = sorted(k for k in stored or {} if stored[k] != fingerprint.get(k))
    if changed:
        raise mismatch(study, config, changed)
    if stored is None:
        _describe(study, config, fingerprint, space_text, data, points)
    record_device(study, str(device))
    resumed = 0 if shared else recover_interrupted(study)
    return OpenedRun(study, storage, shared, resumed)


def _describe(
    study: optuna.Study,
    config: RunConfig,
    fingerprint: dict[str, Any],
    space_text: str,
    data: Dataset,
    points: list[dict[str, Any]] | None,
) -> None:
    """A new study: everything a resumed run, a worker or a report needs to know."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study.set_metric_names(list(config.objectives))
    record_run(
        study,
        options={**config.options(), "objectives": list(config.objectives)},
        fingerprint=fingerprint,
        space_yaml=space_text,
        dataset=data.describe(),
        input_shape=(data.in_channels, *data.input_size),
        num_classes=data.num_classes,
    )
    # every grid point queued once: workers take queued trials atomically, so no point is
    # evaluated twice (Optuna's GridSampler alone may pick one twice when several workers ask
    # at the same moment)
    for point in points or ():
        study.enqueue_trial(point, user_attrs={GRID_POINT: True})


def pruner(config: RunConfig) -> optuna.pruners.BasePruner:
    """The run's early stopping (see :attr:`RunConfig.pruner_name`)."""
    name = config.pruner_name
    if name == "pareto-asha":
        return ParetoAshaPruner(config.min_epochs, config.reduction_factor)
    if name == "successive-halving":
        return optuna.pruners.SuccessiveHalvingPruner(
            min_resource=config.min_epochs, reduction_factor=config.reduction_factor
        )
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(reduction_factor=config.reduction_factor)
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=1)
    return optuna.pruners.NopPruner()


def recover_interrupted(study: optuna.Study, reason: str = "interrupted (process died)") -> int:
    """Trials left RUNNING by a dead process: mark them failed and queue them again."""
    stale = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    for trial in stale:
        fail_and_retry(study, trial, reason)
    return len(stale)


def settle_stale_trials(study: optuna.Study, poll_s: float = 1.0) -> int:
    """Before a worker that met the budget exits: fail (and queue again) the trials of dead
    workers, so none stays RUNNING for good. A trial whose worker died a moment ago is not
    stale yet: wait at most one stale window (the grace period) for it to go stale or finish.
    Returns the number of trials failed."""
    interval = heartbeat_seconds(study._storage)
    if not interval:
        return 0
    deadline = time.monotonic() + GRACE_BEATS * interval + poll_s
    failed = 0
    while True:
        failed += len(fail_stale(study))
        running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
        if not running or time.monotonic() >= deadline:
            return failed
        time.sleep(poll_s)
