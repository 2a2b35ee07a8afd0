"""A run's life, like Optuna's ``study`` package: its options (:mod:`.config`), its stored
study — created, resumed, recovered (:mod:`.resume`) —, the search itself (:mod:`.search`),
several workers on one study (:mod:`.workers`), and tuning one fixed network (:mod:`.tune`).
"""

from __future__ import annotations

from .config import DEFAULT_TRIALS, RunConfig, RunProgress, RunResult
from .resume import open_run, open_storage, run_folder
from .search import run_search, search_grid
from .tune import parse_hyperparameter_text, tune
from .workers import run_worker, worker_command, worker_devices

__all__ = [
    "DEFAULT_TRIALS",
    "RunConfig",
    "RunProgress",
    "RunResult",
    "open_run",
    "open_storage",
    "parse_hyperparameter_text",
    "run_folder",
    "run_search",
    "run_worker",
    "search_grid",
    "tune",
    "worker_command",
    "worker_devices",
]
