"""Searchers: propose candidates into an Optuna study (see :class:`BaseSearcher`)."""

from __future__ import annotations

from ._base import BaseSearcher, Budget
from ._optuna import SEARCHERS, OptunaSearcher, grid_size

__all__ = ["SEARCHERS", "BaseSearcher", "Budget", "OptunaSearcher", "grid_size"]
