"""Several processes on one study: local worker processes (``run --workers N``) and
``run_worker``, which joins a stored run from any machine (``archsearch worker``).

A worker needs only the storage URL and the study name: the run's options and its space file
are stored in the study. Given a run's options, a worker creates the study as ``run`` would
when it does not exist yet, and checks them against it when it does.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import replace
from typing import Any

import optuna

from ..data import Dataset
from ..errors import ConfigError
from ..objective import Candidates
from ..searchers import Budget, grid_size
from ..space import space_from_text
from ..study import RunRecord, best_values, completed, judged, run_record
from ..train import resolve_device
from ._loop import open_run_study, run_data, search, search_grid, set_up_run, trial_context
from .config import OPTUNA_PRUNERS, RunConfig, RunProgress
from .resume import load_run_space, open_storage, other_space, pruner, require_study
from .searchers import PICKING_SEARCHERS, make_searcher, sampling_searcher

#: run options that belong to one worker process (as do its device, trials, heartbeat and
#: seed): a worker's own value wins, and it is never checked against the study's
PER_WORKER = ("timeout", "runs_dir", "latency_threads")


def worker_command(
    storage: str,
    study_name: str,
    device: str,
    trials: int,
    heartbeat: int,
    threads: int,
    seed: int,
) -> list[str]:
    """The command line of one ``archsearch worker`` process."""
    return [
        sys.executable,
        "-m",
        "archsearch",
        "worker",
        "--storage",
        storage,
        "--study",
        study_name,
        "--device",
        device,
        "--trials",
        str(trials),
        "--heartbeat",
        str(heartbeat),
        "--threads",
        str(threads),
        "--seed",
        str(seed),
    ]


def worker_devices(devices: str, workers: int) -> list[str]:
    """The device of each of ``workers`` local workers: ``devices`` (comma-separated) taken
    round robin, each checked first, so a wrong one fails before any worker starts."""
    names = [d.strip() for d in devices.split(",") if d.strip()]
    if not names:
        raise ConfigError("devices", "give at least one device, e.g. cuda:0,cuda:1")
    for name in names:
        resolve_device(name)
    return [names[i % len(names)] for i in range(workers)]


def run_local_workers(
    config: RunConfig,
    storage: str,
    study: optuna.Study,
    trials: int,
    progress: RunProgress,
) -> None:
    """Start ``config.workers`` local ``archsearch worker`` processes and wait for them."""
    devices = worker_devices(config.devices or config.device, config.workers)
    threads = max(1, (os.cpu_count() or 1) // config.workers)
    processes = []
    for index in range(config.workers):
        command = worker_command(
            storage,
            study.study_name,
            devices[index],
            trials,
            config.heartbeat,
            threads,
            config.seed * 1000 + index,
        )
        processes.append(
            subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        )
    seen = 0
    try:
        while any(p.poll() is None for p in processes):
            time.sleep(0.5)
            trials_now = study.get_trials(deepcopy=False)
            for trial in trials_now[seen:]:
                if trial.state.is_finished() and progress.on_trial is not None:
                    best = best_values(completed(study), config.objectives)
                    progress.on_trial(trial, best, len(judged(study)))
            while seen < len(trials_now) and trials_now[seen].state.is_finished():
                seen += 1
    except KeyboardInterrupt:
        for process in processes:
            process.terminate()
        raise
    failures = [p.stderr.read() if p.stderr else "" for p in processes if p.returncode]
    if failures and len(judged(study)) < trials:
        raise ConfigError("workers", "a worker failed: " + failures[0].strip().splitlines()[-1])


def run_worker(
    storage: str,
    study_name: str,
    *,
    options: dict[str, Any] | None = None,
    device: str | None = None,
    trials: int | None = None,
    heartbeat: int = 10,
    seed: int | None = None,
    progress: RunProgress | None = None,
) -> int:
    """Join a run stored in ``storage`` and train candidates until its budget is reached.

    ``options`` are :class:`RunConfig` fields given for the run (``space``, ``dataset``,
    ``epochs``, ``objectives``, constraints ...). A study that does not exist yet is created
    from them (``space`` at least) as ``archsearch run`` would; an existing one must have been
    made with the same values. Returns the number of judged trials in the study
    (:func:`archsearch.study.judged`).
    """
    options = dict(options or {})
    own = {k: options.pop(k) for k in PER_WORKER if k in options}
    backend = open_storage(storage, heartbeat=heartbeat)
    data = None
    if study_name not in optuna.get_all_study_names(backend):
        if "space" not in options:
            try:
                require_study(backend, storage, study_name)
            except ConfigError as missing:
                reason = f"{missing.reason}; give a space to create it"
                raise ConfigError("study", reason) from None
        created = RunConfig.from_options(
            **options,
            **own,
            storage=storage,
            study=study_name,
            name=options.get("name") or study_name,
            device=device or "auto",
            trials=trials or RunConfig.trials,
            heartbeat=heartbeat,
            seed=seed or 0,
        )
        data = _create(created)
        options = {}  # the study now holds them
    stored = optuna.load_study(study_name=study_name, storage=backend)
    record = run_record(stored)
    config = _stored_config(stored, record, storage, options)
    config = replace(config, **own, device=device or config.device, heartbeat=heartbeat)
    assert record.space_yaml is not None  # checked by _stored_config
    space = space_from_text(record.space_yaml, f"{study_name} (stored space)", check=False)
    candidates = Candidates(space=space, epochs=config.epochs)
    grid = search_grid(candidates) if config.searcher == "grid" else None
    searcher = sampling_searcher(
        replace(config, seed=seed if seed is not None else config.seed),
        candidates,
        record.input_shape,  # type: ignore[arg-type]
        record.num_classes,
        grid,
    )
    study = optuna.load_study(
        study_name=study_name,
        storage=backend,
        sampler=searcher.create_sampler(),
        pruner=pruner(config),
    )
    if data is None:
        data = run_data(config)
    device_used = resolve_device(config.device)
    deadline = None if config.timeout is None else time.monotonic() + config.timeout
    ctx = trial_context(config, candidates, data, device_used, progress or RunProgress(), deadline)
    budget = trials or config.trials
    if grid is not None:
        budget = min(budget, grid_size(grid))
    search(searcher, study, ctx, Budget(trials=budget, timeout=config.timeout), True, [])
    return len(judged(study))


def _create(config: RunConfig) -> Dataset:
    """Make the run's study as ``archsearch run`` would (a worker given the run's options);
    returns the data set, loaded for it."""
    if config.searcher in PICKING_SEARCHERS:
        raise ConfigError(
            "searcher", f"'{config.searcher}' runs in one process: start it with a run"
        )
    setup = set_up_run(config)
    device = resolve_device(config.device)
    open_run_study(config, setup, make_searcher(config, setup, device, RunProgress()), device)
    return setup.data


def _stored_config(
    study: optuna.Study, record: RunRecord, storage: str, options: dict[str, Any]
) -> RunConfig:
    """The run's options as stored in ``study``, checked against those a worker was given."""
    stored, space_yaml = record.options, record.space_yaml
    if not record.made_by_run or (record.fingerprint or {}).get("architecture"):
        raise ConfigError(
            "study",
            f"'{study.study_name}' was not created by `archsearch run` with a space:"
            " nothing for a worker to search",
        )
    known = RunConfig().options()
    fields = {k: v for k, v in stored.items() if k in known}
    if len(fields.get("objectives", ())) > 1 and fields.get("pruner") in OPTUNA_PRUNERS:
        # made before pareto-asha, when every run stored the single-objective default,
        # which did nothing in a multi-objective study
        fields["pruner"] = "none"
    config = RunConfig.from_options(**fields)
    if config.searcher in PICKING_SEARCHERS:
        raise ConfigError(
            "study", f"a {config.searcher} run is a single process: workers cannot join it"
        )
    remedy = "leave it out to join the study, or choose another study"
    if "space" in options and load_run_space(options["space"])[1] != space_yaml:
        raise other_space(study, storage, options["space"], remedy)
    was = config.options()
    given = RunConfig.from_options(**{**was, **options}).options()
    changed = [k for k in options if k != "space" and given[k] != was[k]]
    if changed:
        raise ConfigError(
            changed[0],
            f"study '{study.study_name}' in {storage} was made with"
            f" {', '.join(f'{k}={was[k]!r}' for k in changed)}; {remedy}",
        )
    return config
