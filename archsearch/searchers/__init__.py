"""Searchers: propose candidates into an Optuna study (see :class:`BaseSearcher`)."""

from __future__ import annotations

from ._base import BaseSearcher, Budget, PickingSearcher, TrialCallback, guarded
from ._optuna import SEARCHERS, OptunaSearcher, grid_size
from .oneshot import DartsConfig, DartsSearcher

__all__ = [
    "SEARCHERS",
    "BaseSearcher",
    "Budget",
    "DartsConfig",
    "DartsSearcher",
    "OptunaSearcher",
    "PickingSearcher",
    "TrialCallback",
    "grid_size",
    "guarded",
]
