"""A run's life, like Optuna's ``study`` package: its options (:mod:`.config`), the searchers
it may use (:mod:`.searchers`, one table), its stored study — created, resumed, recovered
(:mod:`.resume`) —, what a run and a worker share (:mod:`._loop`: data, setup, the search
loop), the search itself (:mod:`.search`) at a fidelity that fits its time
(:mod:`.fidelity`), several workers on one study (:mod:`.workers`), tuning one fixed network
(:mod:`.tune`) and training a chosen one to the end (:mod:`.final`). Experiments over many
runs live in :mod:`archsearch.bench`.
"""

from __future__ import annotations

from ._loop import search_grid
from .config import DEFAULT_TRIALS, RunConfig, RunProgress, RunResult
from .fidelity import Fidelity, FidelityPlan, plan_run
from .final import FinalConfig, FinalResult, train_final
from .resume import open_run, open_runs, open_storage, run_folder
from .search import run_search
from .tune import parse_hyperparameter_text, tune
from .workers import run_worker, worker_command, worker_devices

__all__ = [
    "DEFAULT_TRIALS",
    "Fidelity",
    "FidelityPlan",
    "FinalConfig",
    "FinalResult",
    "RunConfig",
    "RunProgress",
    "RunResult",
    "open_run",
    "open_runs",
    "open_storage",
    "parse_hyperparameter_text",
    "plan_run",
    "run_folder",
    "run_search",
    "run_worker",
    "search_grid",
    "train_final",
    "tune",
    "worker_command",
    "worker_devices",
]
