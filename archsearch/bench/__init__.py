"""Experiments over many runs or networks, each behind one ``archsearch bench`` command:
searchers at equal wall time (:mod:`.search`), zero-cost proxies against training
(:mod:`.proxies`), one-shot estimates against training (:mod:`.one_shot`), the ShuffleNetV2
guideline tables (:mod:`.guidelines`) and tabulated benchmarks (:mod:`.tabulate`: every
network of a finite space trained once). They use runs (:mod:`archsearch.runs`), profiles and
the report's pieces; nothing below them imports them. :mod:`._output` writes what they all
write (machine line, markdown, CSV, one HTML page).
"""

from __future__ import annotations

from .guidelines import BenchRow, BenchTable, run_guideline_benchmarks
from .one_shot import OneShotBenchConfig, OneShotBenchResult, run_one_shot_bench
from .proxies import ProxyBenchConfig, ProxyBenchResult, run_proxy_bench
from .search import (
    BenchConfig,
    BenchEntry,
    BenchResult,
    parse_cost_budgets,
    parse_entries,
    parse_seeds,
    run_bench,
)
from .tabulate import (
    Table,
    TabulateConfig,
    TabulateResult,
    read_table,
    shipped_tables,
    tabulate,
)

__all__ = [
    "BenchConfig",
    "BenchEntry",
    "BenchResult",
    "BenchRow",
    "BenchTable",
    "OneShotBenchConfig",
    "OneShotBenchResult",
    "ProxyBenchConfig",
    "ProxyBenchResult",
    "Table",
    "TabulateConfig",
    "TabulateResult",
    "parse_cost_budgets",
    "parse_entries",
    "parse_seeds",
    "read_table",
    "run_bench",
    "run_guideline_benchmarks",
    "run_one_shot_bench",
    "run_proxy_bench",
    "shipped_tables",
    "tabulate",
]
