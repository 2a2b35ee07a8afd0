"""Several processes on one study: local worker processes (``run --workers N``) and
``run_worker``, which joins a stored run from any machine (``archsearch worker``).

A worker needs only the storage URL and the study name: the run's options and its space file
are stored in the study. Given a run's options, a worker creates the study as ``run`` would
when it does not exist yet, and checks them against it when it does.
"""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Literal

import optuna
import torch

from ..data import Dataset
from ..errors import ConfigError, DiskFull, nearly_full
from ..objective import Candidates
from ..searchers import Budget, grid_size
from ..space import space_from_text
from ..study import RunRecord, best_values, completed, judged, run_record
from ..train import resolve_device
from ._loop import open_run_study, run_data, search, search_grid, set_up_run, trial_context
from .config import OPTUNA_PRUNERS, RunConfig, RunProgress
from .resume import load_run_space, open_storage, other_space, pruner, require_study
from .searchers import PICKING_SEARCHERS, make_searcher, sampling_searcher

#: forward multiply-adds per image (the space's median candidate at the run's input size)
#: above which ``--workers auto`` trains one candidate at a time with every core's threads.
#: On 2 cores, two processes of one thread trained more images per second than one process
#: of two threads at every size measured, but less so as networks grow: the default job's
#: candidates (28k-2M flops) 1.91x, MobileNetV2 at 32x32 (6M) 1.58x, at 64x64 (24M) 1.33x,
#: ResNet-18 at 32x32 (37M) 1.22x, at 64x64 (148M) 1.12x (benchmarks/throughput.py steps
#: and scaling; RESULTS.md, issue 26). Past ~100M the gain is small against its costs: each
#: candidate takes 1.8x as long to judge (the early-stopping rungs and the deadline wait
#: longer) and every process holds its own copy of the data.
THREADED_FLOPS = 100e6
#: ``--workers auto`` starts processes only when each has this many trials of the run's
#: budget to share: a worker process takes ~3 s to start (importing torch, loading the data)
MIN_TRIALS_PER_WORKER = 8
#: candidates of the space sampled for the median of ``THREADED_FLOPS``
FLOPS_SAMPLE = 16


@dataclass(frozen=True)
class WorkersChoice:
    """How a run trains: ``workers`` processes of ``threads`` CPU threads each, and why."""

    workers: int
    threads: int
    reason: str

    def describe(self) -> str:
        processes = "1 process" if self.workers == 1 else f"{self.workers} processes"
        threads = "1 thread" if self.threads == 1 else f"{self.threads} threads"
        return f"{processes} x {threads} ({self.reason})"


def available_cores() -> int:
    """The CPU cores this process may run on (its affinity where the OS tells it)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def choose_workers(
    workers: int | Literal["auto"],
    *,
    searcher: str,
    device: torch.device,
    devices: str | None,
    trials: int,
    flops: Callable[[], float] | None,
    cores: int | None = None,
) -> WorkersChoice:
    """The processes and threads of a run: ``workers`` when given as a number, else (auto)
    one process for a picking searcher (DARTS, SPOS, zoo), a run on CUDA (one per device of
    ``devices``), a single core, a run that cannot be joined (``flops`` is None: a tuning run
    or data given in memory) or a budget of fewer than ``MIN_TRIALS_PER_WORKER`` trials per
    core; one process with every core's threads when ``flops()`` (the median candidate's
    forward multiply-adds) is over ``THREADED_FLOPS``; else one process per core."""
    cores = cores or available_cores()
    if workers != "auto":
        return WorkersChoice(workers, max(1, cores // workers), "as given")
    if searcher in PICKING_SEARCHERS:
        return WorkersChoice(1, cores, f"a {searcher} run is one process")
    if device.type != "cpu":
        count = len([d for d in (devices or "").split(",") if d.strip()]) or 1
        return WorkersChoice(count, max(1, cores // count), f"one per {device.type} device")
    if cores < 2:
        return WorkersChoice(1, 1, "one core")
    if flops is None:
        return WorkersChoice(1, cores, "this run's candidates are trained by its own process")
    if trials < MIN_TRIALS_PER_WORKER * cores:
        return WorkersChoice(
            1, cores, f"{trials} trials: too few to share among {cores} processes"
        )
    median = flops()
    if median > THREADED_FLOPS:
        return WorkersChoice(
            1, cores, f"candidates of {median:,.0f} flops: threads pay on networks this large"
        )
    return WorkersChoice(
        cores, 1, f"candidates of {median:,.0f} flops: one per core trains them fastest"
    )


def median_flops(candidates: Candidates, data: Dataset, seed: int) -> float:
    """The forward multiply-adds of the median candidate at ``data``'s input size (of
    ``FLOPS_SAMPLE`` drawn from the space; the fixed architecture of a tuning run)."""
    from ..profiler import architecture_costs

    shape = (1, data.in_channels, *data.input_size)
    if candidates.architecture is not None:
        pool = [candidates.architecture]
    else:
        assert candidates.space is not None
        pool = candidates.space.sample(FLOPS_SAMPLE, seed, data.input_size)
    return statistics.median(architecture_costs(a, shape, data.num_classes).flops for a in pool)


def resolve_workers(
    config: RunConfig,
    candidates: Candidates,
    data: Dataset,
    device: torch.device,
    *,
    joinable: bool = True,
    trials: int | None = None,
) -> tuple[RunConfig, WorkersChoice]:
    """``config`` with its workers decided (:func:`choose_workers`), and the choice.
    ``joinable``: whether worker processes could join this run (a search of a space)."""
    choice = choose_workers(
        config.workers,
        searcher=config.searcher,
        device=device,
        devices=config.devices,
        trials=config.trials if trials is None else trials,
        flops=(lambda: median_flops(candidates, data, config.seed)) if joinable else None,
    )
    return replace(config, workers=choice.workers), choice


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
    timeout: float | None = None,
) -> None:
    """Start ``config.workers`` local ``archsearch worker`` processes and wait for them.
    ``timeout``: the seconds left of the run's (each worker stops taking trials then)."""
    assert config.workers != "auto"  # resolved by the run
    devices = worker_devices(config.devices or config.device, config.workers)
    threads = max(1, available_cores() // config.workers)
    processes: list[subprocess.Popen[str]] = []
    config.run_dir.mkdir(parents=True, exist_ok=True)
    logs = [config.run_dir / f"worker-{index}.log" for index in range(config.workers)]
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
        if timeout is not None:
            command += ["--timeout", f"{max(timeout, 0.0):.3f}"]
        # its messages go to a file, not a pipe: nobody reads a pipe while the run lasts, and
        # a full one (64 KB of warnings) would stop the worker
        with logs[index].open("w") as log:
            processes.append(
                subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log, text=True)
            )
    shown: set[int] = {t.number for t in study.get_trials(deepcopy=False) if t.state.is_finished()}
    try:
        while any(p.poll() is None for p in processes):
            time.sleep(0.5)
            for trial in study.get_trials(deepcopy=False):  # each finished trial shown once
                if trial.state.is_finished() and trial.number not in shown:
                    shown.add(trial.number)
                    if progress.on_trial is not None:
                        best = best_values(completed(study), config.objectives)
                        progress.on_trial(trial, best, len(judged(study)))
    except KeyboardInterrupt:
        stop_workers(processes)
        raise
    failed = [log for log, p in zip(logs, processes, strict=True) if p.returncode]
    if failed and len(judged(study)) < trials:
        last = (failed[0].read_text().strip().splitlines() or [""])[-1]
        # a worker stopped by a full disk says so, unless its message could not be written
        # either (its log is in the run's folder): then the disk's free space tells
        if DiskFull.WORDS in last or (not last and nearly_full(config.run_dir)):
            raise DiskFull(config.run_dir)
        last = last or "no message"
        raise ConfigError("workers", f"a worker failed: {last} (its messages: {failed[0]})")


def stop_workers(processes: list[subprocess.Popen[str]], wait_s: float = 30.0) -> None:
    """Ctrl-C for local workers: each is sent SIGINT, as a terminal sends it to the whole
    process group, so that it fails and queues again the trial it is training (see
    :func:`archsearch.searchers._base.guarded`); one still running after ``wait_s`` is killed
    (its trial, RUNNING, is recovered by the run)."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
    deadline = time.monotonic() + wait_s
    for process in processes:
        try:
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


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
