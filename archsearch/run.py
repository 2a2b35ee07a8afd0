"""``run_search``: a whole search run, stored in an Optuna study that survives crashes.

By default each run is a SQLite study at ``runs/<name>/study.db`` (readable by
optuna-dashboard), with trained weights under ``runs/<name>/weights/`` and all trials as CSV.
Re-running the same command continues the same study: completed trials are kept, a trial left
running by a crash or ``kill -9`` is marked failed and retried, and the run ends with the
requested number of completed trials.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import optuna
import torch
from optuna.trial import TrialState

from .architecture import Architecture
from .build import build_model
from .data import Dataset, load_dataset
from .errors import ArchsearchError
from .interrupt import CtrlC
from .objective import Candidates, TrialContext, evaluate_trial
from .searchers import (
    SEARCHERS,
    BaseSearcher,
    Budget,
    DartsConfig,
    DartsSearcher,
    OptunaSearcher,
    grid_size,
)
from .searchers._optuna import GRID_POINT
from .space import Distribution, SearchSpace, load_space
from .space.distributions import grid_values
from .storage import open_storage, require_study
from .study import (
    OBJECTIVES,
    STATUS_FAILED,
    completed,
    enqueue_retry,
    pareto_trials,
    status_counts,
    test_accuracies,
    trial_row,
)
from .train import evaluate, resolve_device

# 80 trials of the mobile space on digits take about 4 minutes on 2 CPU cores (see
# benchmarks/RESULTS.md), leaving room within the 10 minutes the default run must fit in.
DEFAULT_TRIALS = 80
GRID_POINTS_PER_RANGE = 3


@dataclass(frozen=True)
class RunConfig:
    space: str = "mobile"
    dataset: str = "digits"
    # TPE (multi-objective when several objectives): sample-efficient from the first trials;
    # NSGA-II's first generation alone would spend most of a 40-trial budget at random.
    searcher: str = "tpe"
    objectives: tuple[str, ...] = ("accuracy", "flops")
    trials: int = DEFAULT_TRIALS
    timeout: float | None = None
    epochs: int | None = None
    device: str = "auto"
    seed: int = 0
    name: str | None = None
    runs_dir: str = "runs"
    reports_dir: str = "reports"
    storage: str | None = None
    study: str | None = None
    pruner: str = "median"  # single-objective studies only: median | hyperband | none
    max_flops: float | None = None
    max_params: float | None = None
    max_mac: float | None = None
    max_latency_ms: float | None = None
    latency_threads: int | None = None
    val_fraction: float = 0.2
    # DARTS (--searcher darts)
    darts_mode: str = "full"  # full | gumbel
    darts_order: str = "first"  # first | second
    darts_epochs: int = 10
    cost: str = "flops"  # the cost-aware loss's cost: flops | mac | latency
    cost_weight: float = 0.0
    derive_top: int = 0
    # several workers on one study (local processes; `archsearch worker` joins from anywhere)
    workers: int = 1
    devices: str | None = None  # e.g. "cuda:0,cuda:1": one per worker, round robin
    heartbeat: int = 10  # seconds between worker heartbeats; a silent worker's trial is retried

    @property
    def run_name(self) -> str:
        return self.name or f"{Path(self.space).stem}-{self.searcher}"

    @property
    def constraints(self) -> dict[str, float]:
        limits = {
            "max_flops": self.max_flops,
            "max_params": self.max_params,
            "max_mac": self.max_mac,
            "max_latency_ms": self.max_latency_ms,
        }
        return {k: float(v) for k, v in limits.items() if v is not None}


@dataclass
class RunProgress:
    """Callbacks the command line turns into a progress display (all optional)."""

    on_start: Callable[[str, int, int], None] | None = None  # description, done, total
    on_candidate: Callable[[int, Architecture, int], None] | None = None
    on_epoch: Callable[[int, int, float], None] | None = None
    # a recorded trial, the best value per objective so far, completed trials so far
    on_trial: Callable[[optuna.trial.FrozenTrial, dict[str, float], int], None] | None = None
    on_message: Callable[[str], None] | None = None


@dataclass
class RunResult:
    name: str
    study: optuna.Study
    run_dir: Path
    storage: str
    pareto: list[dict[str, Any]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    resumed_trials: int = 0
    files: dict[str, str] = field(default_factory=dict)


def _validate(config: RunConfig) -> None:
    unknown = [o for o in config.objectives if o not in OBJECTIVES]
    if unknown or not config.objectives:
        raise ArchsearchError(
            f"--objectives: unknown '{','.join(unknown)}' (choose from {', '.join(OBJECTIVES)})"
        )
    if len(set(config.objectives)) != len(config.objectives):
        raise ArchsearchError("--objectives: an objective is listed twice")
    if config.searcher not in (*SEARCHERS, "darts"):
        raise ArchsearchError(
            f"--searcher: unknown '{config.searcher}' (choose from {', '.join(SEARCHERS)}, darts)"
        )
    if config.pruner not in ("median", "hyperband", "none"):
        raise ArchsearchError(f"--pruner: unknown '{config.pruner}' (median, hyperband, none)")
    if config.trials < 1:
        raise ArchsearchError("--trials must be at least 1")


def _pruner(name: str, single: bool) -> optuna.pruners.BasePruner:
    if not single or name == "none":
        return optuna.pruners.NopPruner()
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner()
    return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=1)


def _fingerprint(config: RunConfig, space_text: str, candidates: Candidates) -> dict[str, Any]:
    """What must match for a re-run to continue a stored study."""
    fixed = candidates.architecture.id if candidates.architecture is not None else None
    hp = (
        {k: repr(v) for k, v in candidates.hyperparameters.items()}
        if candidates.hyperparameters is not None
        else None
    )
    return {
        "space_sha256": hashlib.sha256(space_text.encode()).hexdigest(),
        "dataset": config.dataset,
        "objectives": list(config.objectives),
        "searcher": config.searcher,
        "constraints": config.constraints,
        "epochs": config.epochs,
        "architecture": fixed,
        "hyperparameter_space": hp,
        "darts": [
            config.darts_mode,
            config.darts_order,
            config.darts_epochs,
            config.cost,
            config.cost_weight,
        ]
        if config.searcher == "darts"
        else None,
    }


def _search(
    searcher: BaseSearcher,
    study: optuna.Study,
    ctx: TrialContext,
    budget: Budget,
    shared: bool,
) -> None:
    """``searcher.search`` in this process, with a Ctrl-C that cannot be lost and that leaves
    no trial RUNNING in a study of its own (``shared``: other workers' trials may be running;
    a trial of this one that Ctrl-C stops outside training is failed by its heartbeat)."""
    with CtrlC() as ctrl_c:
        ctx = replace(
            ctx,
            on_candidate=_checked(ctrl_c, ctx.on_candidate),
            on_epoch=_checked(ctrl_c, ctx.on_epoch),
        )
        callbacks = searcher.callbacks
        searcher.callbacks = [lambda *args: ctrl_c.check(), *callbacks]
        try:
            searcher.search(study, lambda t: evaluate_trial(t, ctx), budget)
        except KeyboardInterrupt:
            if not shared:
                # Optuna fails the trial that Ctrl-C stops in training; one stopped while it
                # was being asked for or told stays RUNNING unless it is failed here (and if
                # the database cannot be written now, the next run recovers it)
                with contextlib.suppress(Exception):
                    _recover_interrupted(study, "interrupted (Ctrl-C)")
            raise
        finally:
            searcher.callbacks = callbacks


def _checked(ctrl_c: CtrlC, callback: Callable[..., None] | None) -> Callable[..., None]:
    """``callback``, after raising a Ctrl-C that was pressed and lost (see :mod:`.interrupt`)."""

    def checked(*args: Any) -> None:
        ctrl_c.check()
        if callback is not None:
            callback(*args)

    return checked


def _recover_interrupted(study: optuna.Study, reason: str = "interrupted (process died)") -> int:
    """Trials left RUNNING by a dead process: mark them failed and queue them again."""
    stale = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    storage = study._storage
    for trial in stale:
        storage.set_trial_user_attr(trial._trial_id, "status", STATUS_FAILED)
        storage.set_trial_user_attr(trial._trial_id, "reason", reason)
        storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
        enqueue_retry(study, trial)
    return len(stale)


def search_grid(candidates: Candidates) -> dict[str, list[Any]]:
    """The grid for GridSampler: every parameter, continuous ranges at 3 points."""
    if candidates.hyperparameters is not None:
        dists: dict[str, Distribution] = dict(candidates.hyperparameters)
        if candidates.space is not None and candidates.architecture is None:
            dists = {**candidates.space.distributions(), **dists}
    elif candidates.space is not None:
        dists = candidates.space.distributions(architecture=candidates.architecture is None)
    else:
        dists = {}
    if candidates.epochs is not None:
        dists.pop("epochs", None)
    return {name: grid_values(d, GRID_POINTS_PER_RANGE) for name, d in dists.items()}


def run_search(
    config: RunConfig,
    *,
    candidates: Candidates | None = None,
    space_text: str | None = None,
    progress: RunProgress | None = None,
    data: Dataset | None = None,
) -> RunResult:
    """Search (or, with a fixed architecture in ``candidates``, tune) and store the results."""
    _validate(config)
    progress = progress or RunProgress()
    started = time.perf_counter()
    if candidates is None:
        space: SearchSpace = load_space(config.space)
        candidates = Candidates(space=space, epochs=config.epochs)
    if space_text is None:
        space_text = _space_text(config.space) if candidates.space is not None else ""
    data = data or load_dataset(config.dataset, val_fraction=config.val_fraction, seed=config.seed)
    if candidates.space is not None and candidates.architecture is None:
        size = data.input_size
        candidates.space.sample(1, seed=config.seed, input_size=size)[0].infer_shapes(
            data.in_channels, size
        )
    device = resolve_device(config.device)

    name = config.run_name
    run_dir = Path(config.runs_dir) / name
    run_dir.mkdir(parents=True, exist_ok=True)
    weights_dir = run_dir / "weights"
    weights_dir.mkdir(exist_ok=True)
    storage = config.storage or f"sqlite:///{(run_dir / 'study.db').as_posix()}"
    study_name = config.study or name

    grid = search_grid(candidates) if config.searcher == "grid" else None
    trials = config.trials
    if grid is not None:
        points = grid_size(grid)
        if points > trials:
            raise ArchsearchError(
                f"the grid has {points:,} points, more than the budget of {trials} trials:"
                " narrow the space (fix more fields) or raise --trials"
            )
        trials = points
    searcher: BaseSearcher
    if config.searcher == "darts":
        if candidates.space is None or candidates.architecture is not None:
            raise ArchsearchError("--searcher darts searches a space: give --space")
        searcher = DartsSearcher(
            candidates.space, data, device, _darts_config(config), log=progress.on_message
        )
        trials = 1 + config.derive_top
    else:
        searcher = OptunaSearcher(config.searcher, seed=config.seed, grid=grid)
    directions = [OBJECTIVES[o] for o in config.objectives]
    single = len(directions) == 1
    # a shared storage (--storage) may have workers in it: their trials are kept alive by
    # heartbeats, and only a trial whose heartbeat stopped is failed and retried
    shared = config.storage is not None
    backend = open_storage(storage, heartbeat=config.heartbeat if shared else None)
    try:
        study = optuna.create_study(
            storage=backend,
            study_name=study_name,
            directions=directions,
            sampler=searcher.create_sampler(directions),
            pruner=_pruner(config.pruner, single),
            load_if_exists=True,
        )
    except ValueError as err:
        raise ArchsearchError(f"--storage '{storage}': {err}") from None
    fingerprint = _fingerprint(config, space_text, candidates)
    stored = study.user_attrs.get("fingerprint")
    if stored is not None and stored != fingerprint:
        raise _mismatch(study, config, fingerprint, storage, run_dir)
    if stored is None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study.set_metric_names(list(config.objectives))
        study.set_user_attr("fingerprint", fingerprint)
        study.set_user_attr("config", {**asdict(config), "objectives": list(config.objectives)})
        study.set_user_attr("space_yaml", space_text)
        if grid is not None:
            # every grid point queued once: workers take queued trials atomically, so no
            # point is evaluated twice (Optuna's GridSampler alone may pick one twice when
            # several workers ask at the same moment)
            names = list(grid)
            for values in itertools.product(*(grid[n] for n in names)):
                study.enqueue_trial(
                    dict(zip(names, values, strict=True)), user_attrs={GRID_POINT: True}
                )
        study.set_user_attr("dataset", data.describe())
        study.set_user_attr("input_shape", [data.in_channels, *data.input_size])
        study.set_user_attr("num_classes", data.num_classes)
        study.set_user_attr("torch_version", torch.__version__)
    study.set_user_attr("device", str(device))
    resumed = 0 if shared else _recover_interrupted(study)

    ctx = TrialContext(
        candidates=candidates,
        data=data,
        objectives=tuple(config.objectives),
        constraints=config.constraints,
        device=device,
        seed=config.seed,
        weights_dir=weights_dir,
        latency_threads=config.latency_threads,
        always_latency=config.searcher == "darts" and config.cost == "latency",
        on_candidate=progress.on_candidate,
        on_epoch=progress.on_epoch,
    )
    if progress.on_start is not None:
        progress.on_start(name, len(completed(study)), trials)

    def report_trial(
        study: optuna.Study,
        trial: optuna.trial.FrozenTrial,
        done: list[optuna.trial.FrozenTrial],
    ) -> None:
        if progress.on_trial is not None:
            progress.on_trial(trial, _best(done, config.objectives), len(done))

    searcher.callbacks = [report_trial]
    if config.workers > 1:
        if config.searcher == "darts":
            raise ArchsearchError("--workers: a DARTS search runs in one process")
        _run_workers(config, storage, study_name, trials, progress, study)
    else:
        _search(searcher, study, ctx, Budget(trials=trials, timeout=config.timeout), shared)
    _evaluate_test_split(study, data, weights_dir, device)
    result = RunResult(
        name=name,
        study=study,
        run_dir=run_dir,
        storage=storage,
        counts=status_counts(study),
        seconds=time.perf_counter() - started,
        resumed_trials=resumed,
    )
    tests = test_accuracies(study)
    result.pareto = [trial_row(t, tests) for t in pareto_trials(study)]
    csv = run_dir / "trials.csv"
    _write_trials_csv(study, csv)
    from .report import write_report

    report = write_report(study, Path(config.reports_dir) / f"{name}.html")
    result.files = {
        "study": storage,
        "trials_csv": str(csv),
        "weights": str(weights_dir),
        "report": str(report),
    }
    return result


def _mismatch(
    study: optuna.Study,
    config: RunConfig,
    fingerprint: dict[str, Any],
    storage: str,
    run_dir: Path,
) -> ArchsearchError:
    """The error for a stored study whose options differ from this command's."""
    stored = study.user_attrs.get("fingerprint", {})
    changed = sorted(k for k in fingerprint if stored.get(k) != fingerprint[k])
    remedy = (
        "choose another --study"
        if config.storage
        else f"choose another --name or delete {run_dir}"
    )
    if "space_sha256" in changed:
        return _other_space(study, storage, config.space, remedy)
    return ArchsearchError(
        f"run '{study.study_name}' already exists in {storage} with different options"
        f" ({', '.join(changed)}); {remedy}"
    )


def _other_space(study: optuna.Study, storage: str, given: str, remedy: str) -> ArchsearchError:
    was = study.user_attrs.get("config", {}).get("space", "?")
    return ArchsearchError(
        f"study '{study.study_name}' in {storage} was created from another search space"
        f" ('{was}'; this command gives '{given}'); {remedy}"
    )


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
    import sys

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
        raise ArchsearchError("--devices: give at least one device, e.g. cuda:0,cuda:1")
    for name in names:
        resolve_device(name)
    return [names[i % len(names)] for i in range(workers)]


def _run_workers(
    config: RunConfig,
    storage: str,
    study_name: str,
    trials: int,
    progress: RunProgress,
    study: optuna.Study,
) -> None:
    """Start ``config.workers`` local ``archsearch worker`` processes and wait for them."""
    import os
    import subprocess

    devices = worker_devices(config.devices or config.device, config.workers)
    threads = max(1, (os.cpu_count() or 1) // config.workers)
    processes = []
    for index in range(config.workers):
        command = worker_command(
            storage,
            study_name,
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
                    done = completed(study)
                    progress.on_trial(trial, _best(done, config.objectives), len(done))
            while seen < len(trials_now) and trials_now[seen].state.is_finished():
                seen += 1
    except KeyboardInterrupt:
        for process in processes:
            process.terminate()
        raise
    failures = [p.stderr.read() if p.stderr else "" for p in processes if p.returncode]
    if failures and len(completed(study)) < trials:
        raise ArchsearchError("a worker failed: " + failures[0].strip().splitlines()[-1])


def run_worker(
    storage: str,
    study_name: str,
    *,
    device: str | None = None,
    trials: int | None = None,
    heartbeat: int = 10,
    seed: int | None = None,
    progress: RunProgress | None = None,
    space: str | None = None,
) -> int:
    """Join a run stored in ``storage`` and train candidates until its budget is reached.

    The run's options and its space file are read from the study, so a worker needs only the
    storage URL and the study name. With ``space``, a study that does not exist yet is
    created from it with the default options (as ``archsearch run --space SPACE --storage
    URL --study NAME`` would), and an existing one must have been made from that space.
    Returns the number of completed trials in the study.
    """
    from .space import parse_space
    from .space._yaml import load_yaml

    backend = open_storage(storage, heartbeat=heartbeat)
    if study_name not in optuna.get_all_study_names(backend):
        if space is not None:
            created = run_search(
                RunConfig(
                    space=space,
                    storage=storage,
                    study=study_name,
                    name=study_name,
                    device=device or "auto",
                    trials=trials or RunConfig.trials,
                    heartbeat=heartbeat,
                    seed=seed or 0,
                ),
                progress=progress,
            )
            return len(completed(created.study))
        try:
            require_study(backend, storage, study_name)
        except ArchsearchError as missing:
            raise ArchsearchError(f"{missing}; give --space to create it") from None
    stored = optuna.load_study(study_name=study_name, storage=backend)
    options = stored.user_attrs.get("config")
    space_yaml = stored.user_attrs.get("space_yaml")
    if (
        not options
        or not space_yaml
        or stored.user_attrs.get("fingerprint", {}).get("architecture")
    ):
        raise ArchsearchError(
            f"study '{study_name}' was not created by `archsearch run`"
            " with a space: nothing for a worker to search"
        )
    if space is not None:
        load_space(space)  # an unknown name or a malformed file: its own clear error
    if space is not None and _space_text(space) != space_yaml:
        remedy = "leave out --space to join it, or choose another --study"
        raise _other_space(stored, storage, space, remedy)
    config = RunConfig(
        **{
            **options,
            "objectives": tuple(options["objectives"]),
            "device": device or options.get("device", "auto"),
        }
    )
    if config.searcher == "darts":
        raise ArchsearchError("a DARTS run is a single process: workers cannot join it")
    data = load_dataset(config.dataset, val_fraction=config.val_fraction, seed=config.seed)
    source = f"{study_name} (stored space)"
    space = parse_space(*load_yaml(space_yaml, source)[:1], source)
    candidates = Candidates(space=space, epochs=config.epochs)
    grid = search_grid(candidates) if config.searcher == "grid" else None
    searcher = OptunaSearcher(
        config.searcher, seed=seed if seed is not None else config.seed, grid=grid
    )
    study = optuna.load_study(
        study_name=study_name,
        storage=backend,
        sampler=searcher.create_sampler([]),
        pruner=_pruner(config.pruner, len(config.objectives) == 1),
    )
    weights_dir = Path(config.runs_dir) / config.run_name / "weights"
    weights_dir.mkdir(parents=True, exist_ok=True)
    progress = progress or RunProgress()
    ctx = TrialContext(
        candidates=candidates,
        data=data,
        objectives=config.objectives,
        constraints=config.constraints,
        device=resolve_device(config.device),
        seed=config.seed,
        weights_dir=weights_dir,
        latency_threads=config.latency_threads,
        on_candidate=progress.on_candidate,
        on_epoch=progress.on_epoch,
    )
    budget = trials or config.trials
    if grid is not None:
        budget = min(budget, grid_size(grid))
    _search(searcher, study, ctx, Budget(trials=budget, timeout=config.timeout), shared=True)
    return len(completed(study))


def _darts_config(config: RunConfig) -> DartsConfig:
    if config.darts_mode not in ("full", "gumbel"):
        raise ArchsearchError(f"--darts-mode '{config.darts_mode}': choose full or gumbel")
    if config.darts_order not in ("first", "second"):
        raise ArchsearchError(f"--darts-order '{config.darts_order}': choose first or second")
    if config.cost not in ("flops", "mac", "latency"):
        raise ArchsearchError(f"--cost '{config.cost}': choose flops, mac or latency")
    return DartsConfig(
        mode=config.darts_mode,
        order=config.darts_order,
        epochs=config.darts_epochs,
        cost=config.cost,
        cost_weight=config.cost_weight,
        derive_top=config.derive_top,
        seed=config.seed,
    )


def _space_text(space: str) -> str:
    from importlib import resources

    path = Path(space)
    if path.is_file():
        return path.read_text(encoding="utf-8")
    return (resources.files("archsearch.search_spaces") / f"{space}.yaml").read_text("utf-8")


def _best(done: list[optuna.trial.FrozenTrial], objectives: tuple[str, ...]) -> dict[str, float]:
    best: dict[str, float] = {}
    for index, name in enumerate(objectives):
        values = [t.values[index] for t in done]
        if values:
            best[name] = max(values) if OBJECTIVES[name] == "maximize" else min(values)
    return best


def _evaluate_test_split(
    study: optuna.Study, data: Dataset, weights_dir: Path, device: torch.device
) -> None:
    """Test accuracy of the Pareto-optimal candidates only (the test split's one use)."""
    known = test_accuracies(study)
    for trial in pareto_trials(study):
        path = weights_dir / f"trial_{trial.number}.pt"
        if trial.number in known or not path.is_file():
            continue
        from .study import architecture_of

        model = build_model(architecture_of(trial), data.num_classes, data.in_channels)
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        model.to(device)
        known[trial.number] = evaluate(model, data.x_test, data.y_test, device=device)
    study.set_user_attr("test_accuracy", {str(k): v for k, v in sorted(known.items())})


def _write_trials_csv(study: optuna.Study, path: Path) -> None:
    import pandas as pd

    tests = test_accuracies(study)
    rows = [trial_row(t, tests) for t in study.get_trials(deepcopy=False)]
    frame = pd.DataFrame(rows)
    frame = frame.rename(columns={"flops": "flops (multiply-adds)", "mac": "mac (elements)"})
    frame.to_csv(path, index=False)


__all__ = [
    "DEFAULT_TRIALS",
    "RunConfig",
    "RunProgress",
    "RunResult",
    "run_search",
    "search_grid",
]
