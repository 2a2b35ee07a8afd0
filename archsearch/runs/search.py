"""``run_search``: a whole search run — open the study, let the searcher fill it, finish.

Finishing evaluates the Pareto-optimal candidates on the test split (its one use) and writes
the trials as CSV and the HTML report.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any

import optuna
import torch

from ..build import build_model
from ..data import Dataset
from ..errors import as_disk_full
from ..folder_lock import folder_lock
from ..objective import Candidates
from ..searchers import Budget
from ..study import (
    architecture_of,
    judged,
    pareto_trials,
    record_fidelity,
    record_test_accuracies,
    run_record,
    status_counts,
    test_accuracies,
    trial_row,
    weights_file,
)
from ..train import evaluate, resolve_device
from ._loop import (
    open_run_study,
    progress_callback,
    search,
    set_up_run,
    trial_context,
)
from .config import RunConfig, RunProgress, RunResult
from .fidelity import Fidelity, resolve_fidelity, retrain_command
from .resume import recover_interrupted
from .searchers import PICKING_SEARCHERS, make_searcher
from .warmup import proxy_warm_start
from .workers import resolve_workers, run_local_workers


def run_search(
    config: RunConfig,
    *,
    candidates: Candidates | None = None,
    space_text: str | None = None,
    progress: RunProgress | None = None,
    data: Dataset | None = None,
    points: list[dict[str, Any]] | None = None,
    finish_interrupted: bool = False,
) -> RunResult:
    """Search (or, with a fixed architecture in ``candidates``, tune) and store the results.
    ``points``: a grid run's points, when not all of them (:func:`._loop.distinct_points`).
    ``finish_interrupted``: Ctrl-C ends the search, not the call: the front so far is tested
    and reported, and the result says ``interrupted`` (else KeyboardInterrupt propagates).
    A run with its study in its folder holds the folder's lock throughout (one writer)."""
    # a shared study (--storage) is meant to be joined by other processes: not locked
    lock = (
        contextlib.nullcontext()
        if config.storage is not None
        else folder_lock(config.run_dir, "choose another run name (--name)")
    )
    with lock:
        try:
            return _run_search(
                config, candidates, space_text, progress, data, points, finish_interrupted
            )
        except Exception as error:  # a full disk while writing the run's files: one message
            full = as_disk_full(error, config.run_dir)
            if full is not None and full is not error:
                raise full from error
            raise


def _run_search(
    config: RunConfig,
    candidates: Candidates | None,
    space_text: str | None,
    progress: RunProgress | None,
    data: Dataset | None,
    points: list[dict[str, Any]] | None,
    finish_interrupted: bool,
) -> RunResult:
    progress = progress or RunProgress()
    started = time.perf_counter()
    device = resolve_device(config.device)
    chosen = None
    if candidates is None and data is None:  # a search of a space: its fidelity may be auto
        config, chosen = resolve_fidelity(
            config, device=device, started=started, on_message=progress.on_message
        )
    setup = set_up_run(
        config, candidates=candidates, space_text=space_text, data=data, points=points
    )
    trials = config.trials if setup.points is None else len(setup.points)
    if config.workers == "auto":
        # worker processes join a search of a space from the study alone
        joinable = candidates is None and data is None
        config, how = resolve_workers(
            config, setup.candidates, setup.data, device, joinable=joinable, trials=trials
        )
        if progress.on_message is not None:
            progress.on_message(f"workers (auto): {how.describe()}")
    searcher = make_searcher(config, setup, device, progress)
    trials = searcher.planned_trials(trials)
    opened = open_run_study(config, setup, searcher, device)
    study = opened.study
    if chosen is not None:
        record_fidelity(study, chosen.to_record())
    if progress.on_start is not None:
        progress.on_start(config.run_name, len(judged(study)), trials)
    warmed = proxy_warm_start(study, config, setup.candidates, setup.data)
    if warmed and progress.on_message is not None:
        progress.on_message(warmed)
    interrupted = False
    try:
        # the timeout counts from the command's start: calibration and loading included
        spent = time.perf_counter() - started
        left = None if config.timeout is None else config.timeout - spent
        if config.workers > 1:
            run_local_workers(config, opened.storage, study, trials, progress, left)
        else:
            # a candidate in training when it is up stops after its epoch (not the few
            # networks a picking searcher retrains: they are all meant to train)
            picks = config.searcher in PICKING_SEARCHERS
            deadline = None if left is None or picks else time.monotonic() + left
            ctx = trial_context(config, setup.candidates, setup.data, device, progress, deadline)
            budget = Budget(trials=trials, timeout=left)
            callbacks = [progress_callback(config, progress)]
            search(searcher, study, ctx, budget, opened.shared, callbacks)
    except KeyboardInterrupt:
        if config.workers > 1 and not opened.shared:
            # the workers have stopped: a trial one left RUNNING (stopped outside training,
            # or killed) is failed and queued again, as a run in one process does
            with contextlib.suppress(Exception):
                recover_interrupted(study, "interrupted (Ctrl-C)")
        if not finish_interrupted:
            raise
        interrupted = True
    result = finish(config, study, setup.data, device, opened.storage, started, opened.resumed)
    result.interrupted = interrupted
    return result


def finish(
    config: RunConfig,
    study: optuna.Study,
    data: Dataset,
    device: torch.device,
    storage: str,
    started: float,
    resumed: int,
) -> RunResult:
    """Test accuracy of the front, the trials as CSV, the report."""
    from ..report import write_report, write_trials_table

    weights_dir = config.run_dir / "weights"
    evaluate_test_split(study, data, weights_dir, device)
    tests = test_accuracies(study)
    csv = config.run_dir / "trials.csv"
    write_trials_table([trial_row(t, tests) for t in study.get_trials(deepcopy=False)], csv)
    files = {"study": storage, "trials_csv": str(csv), "weights": str(weights_dir)}
    if config.write_report:
        report = Path(config.reports_dir) / f"{config.run_name}.html"
        files["report"] = str(write_report(study, report))
    pareto = [trial_row(t, tests) for t in pareto_trials(study)]
    fidelity = run_record(study).fidelity
    advice = None
    if fidelity and pareto and not Fidelity.from_record(fidelity).is_full:
        best = max(pareto, key=lambda row: row.get("accuracy") or 0.0)
        advice = retrain_command(
            Fidelity.from_record(fidelity), config.run_name, config.runs_dir, best["number"]
        )
    return RunResult(
        name=config.run_name,
        study=study,
        run_dir=config.run_dir,
        storage=storage,
        pareto=pareto,
        counts=status_counts(study),
        seconds=time.perf_counter() - started,
        resumed_trials=resumed,
        files=files,
        fidelity=fidelity,
        advice=advice,
    )


def evaluate_test_split(
    study: optuna.Study,
    data: Dataset,
    weights_dir: Path,
    device: torch.device,
    trials: list[optuna.trial.FrozenTrial] | None = None,
) -> None:
    """Test accuracy of the Pareto-optimal candidates only (the test split's one use in a
    search; a tabulated benchmark gives ``trials``: all of them)."""
    known = test_accuracies(study)
    for trial in pareto_trials(study) if trials is None else trials:
        path = weights_file(weights_dir, trial.number)
        if trial.number in known or not path.is_file():
            continue
        model = build_model(architecture_of(trial), data.num_classes, data.in_channels)
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        model.to(device)
        known[trial.number] = evaluate(model, data.x_test, data.y_test, device=device)
    record_test_accuracies(study, known)
