"""Weight-sharing (one-shot) searchers: one supernet over a space's candidate ops, trained
once. :mod:`.plan` (positions and candidate ops: the one planning function, which takes the
space's own stride and width rules), :mod:`.supernet`, :mod:`.costs` (flops/mac tables, the
latency table and its cache) and :mod:`.darts` (the DARTS searcher)."""

from __future__ import annotations

from .costs import LatencyTable, fixed_latency_ms, latency_table, op_costs
from .darts import (
    DartsConfig,
    DartsResult,
    DartsSearch,
    DartsSearcher,
    default_hyperparameters,
    derive_front,
    most_likely,
)
from .plan import (
    SKIP,
    CandidateOp,
    Position,
    SupernetChooser,
    SupernetPlan,
    plan_supernet,
    stage_choices,
)
from .supernet import MixedOp, Supernet

__all__ = [
    "SKIP",
    "CandidateOp",
    "DartsConfig",
    "DartsResult",
    "DartsSearch",
    "DartsSearcher",
    "LatencyTable",
    "MixedOp",
    "Position",
    "Supernet",
    "SupernetChooser",
    "SupernetPlan",
    "default_hyperparameters",
    "derive_front",
    "fixed_latency_ms",
    "latency_table",
    "most_likely",
    "op_costs",
    "plan_supernet",
    "stage_choices",
]
