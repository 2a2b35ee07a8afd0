"""``archsearch bench search``: the searcher list, the fixed axes of the hypervolume (checked by
hand), the summary over seeds, and the harness end to end on a tiny space."""

from __future__ import annotations

import math
from pathlib import Path

import optuna
import pandas as pd
import pytest
from typer.testing import CliRunner

from archsearch.bench.search import (
    CostScale,
    RunMetrics,
    hypervolume,
    parse_entries,
    reach_time,
    summary_rows,
)
from archsearch.cli import app
from archsearch.errors import ConfigError
from archsearch.study import record_of, status_of


def test_searchers_parse_with_typed_options() -> None:
    entries = parse_entries("random, tpe:pruner=none:train_limit=500, nsga2:resolution=none")
    assert [e.label for e in entries] == [
        "random",
        "tpe:pruner=none:train_limit=500",
        "nsga2:resolution=none",
    ]
    assert entries[1].options == {"searcher": "tpe", "pruner": "none", "train_limit": 500}
    assert entries[2].options == {"searcher": "nsga2", "resolution": None}
    # a list option's items are joined by "+" (commas separate the searchers)
    (screened,) = parse_entries("tpe:proxies=naswot+synflow:proxy_screen=0.5")
    assert screened.options == {
        "searcher": "tpe",
        "proxies": ("naswot", "synflow"),
        "proxy_screen": 0.5,
    }
    with pytest.raises(ConfigError, match="not FIELD=VALUE"):
        parse_entries("tpe:nonsense=1")
    with pytest.raises(ConfigError, match="twice"):
        parse_entries("tpe,tpe")


def test_cost_axis_is_log_cost_normalised_to_the_range() -> None:
    scale = CostScale("flops", 100.0, 10_000.0)
    # log10: 100 -> 2, 10,000 -> 4; 1,000 -> 3 is half way
    assert scale.normalise(1_000) == pytest.approx(0.5)
    assert scale.normalise(50) == 0.0 and scale.normalise(10**6) == 1.0  # clipped
    assert scale.at(0.25) == pytest.approx(10**2.5)


def test_hypervolume_by_hand() -> None:
    scale = CostScale("flops", 100.0, 10_000.0)
    chance = 0.1  # ten classes: chance error 0.9
    # (100 flops, 0.55): error 0.45 / 0.9 = 0.5 at cost 0 -> (1 - 0.5) x (1 - 0) = 0.5
    assert hypervolume([(100, 0.55)], scale, chance) == pytest.approx(0.5)
    # + (1,000 flops, 0.91): error 0.09 / 0.9 = 0.1 at cost 0.5. Staircase by error:
    # (1 - 0.1) x (1 - 0.5) = 0.45, then (1 - 0.5) x (0.5 - 0) = 0.25: 0.70
    front = [(100, 0.55), (1_000, 0.91)]
    assert hypervolume(front, scale, chance) == pytest.approx(0.70)
    # a dominated point (dearer and less accurate) adds nothing
    assert hypervolume([*front, (5_000, 0.90)], scale, chance) == pytest.approx(0.70)


def metrics(label: str, seed: int, hv: float, curve: list[float]) -> RunMetrics:
    return RunMetrics(
        label=label,
        seed=seed,
        study="s",
        storage="",
        hypervolume=hv,
        test_hypervolume=hv,
        completed=4,
        pruned=2 * seed,
        judged=4 + 2 * seed,
        best_under=(0.9, None),
        curve_t=[10.0, 20.0, 30.0, 40.0],
        curve_hv=curve,
        front=[],
        wall_s=40.0,
    )


def test_summary_is_mean_and_std_over_seeds_against_the_first_searcher() -> None:
    runs = [
        metrics("random", 0, 0.60, [0.1, 0.3, 0.5, 0.60]),
        metrics("random", 1, 0.70, [0.2, 0.4, 0.6, 0.70]),
        metrics("tpe", 0, 0.80, [0.5, 0.66, 0.7, 0.80]),  # reaches 0.65 at 20 s
        metrics("tpe", 1, 0.90, [0.7, 0.8, 0.9, 0.90]),  # at 10 s
    ]
    assert reach_time(runs[2].curve_t, runs[2].curve_hv, 0.65) == 20.0
    assert reach_time(runs[0].curve_t, runs[0].curve_hv, 0.95) is None
    rows = summary_rows(runs, budget_s=40.0)
    # random: mean 0.65, sample std |0.6 - 0.7| / sqrt(2) = 0.0707
    assert rows[0]["hypervolume"] == "0.6500 ± 0.0707"
    # the baseline's final hypervolume is 0.65: random reaches it at 40 s in seed 1 only
    # (1.0 of the budget); tpe at 20 s and 10 s: (0.5 + 0.25) / 2 = 0.375 -> "0.38"
    assert rows[0]["time to baseline hv"] == "1.00 ± 0.00 of budget (1/2 seeds)"
    assert rows[1]["time to baseline hv"] == "0.38 ± 0.18 of budget (2/2 seeds)"
    assert rows[1]["judged"] == "5.0 ± 1.4"  # 4 and 6
    assert rows[1]["best acc, budget 2"] == "-"  # nothing under it
    assert rows[1]["best acc, budget 1"] == "0.9000 ± 0.0000"


@pytest.mark.xdist_group("processes")  # a pool of processes
def test_bench_search_end_to_end(tmp_path: Path, tiny_space: Path) -> None:
    out = tmp_path / "bench"
    result = CliRunner().invoke(
        app,
        [
            "bench", "search", "--space", str(tiny_space), "--dataset", "synthetic",
            "--searchers", "random:pruner=none,random", "--budget-s", "5", "--seeds", "0",
            "--epochs", "2", "--device", "cpu", "-o", str(out),
        ],
        env={"COLUMNS": "200"},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    for name in ("summary.md", "summary.csv", "runs.csv", "curves.csv", "bench.html"):
        assert (out / name).is_file()
    runs = pd.read_csv(out / "runs.csv")
    assert list(runs["searcher"]) == ["random:pruner=none", "random"]
    assert runs.loc[0, "pruned"] == 0  # pruner none
    summary = (out / "summary.md").read_text()
    assert "reference (1, 1)" in summary and "| random:pruner=none | 1 |" in summary
    html = (out / "bench.html").read_text()
    assert "Hypervolume against wall time" in html and "Accuracy against" in html
    # the stored hypervolume is that of the study's completed trials within the budget
    study = optuna.load_study(
        study_name="random-s0", storage=f"sqlite:///{out / 'runs' / 'random-s0' / 'study.db'}"
    )
    ok = [record_of(t) for t in study.get_trials() if status_of(t) == "ok"]
    # the budget counts from the run's start, and a trial still training when it is up
    # stops after its epoch: 2 short epochs, 5 s, so one completes even on a loaded machine
    assert ok, "no trial completed in 5 s"
    assert "bench_started" in study.user_attrs
    curves = pd.read_csv(out / "curves.csv")
    assert len(curves) == 2 * 60 and curves["hypervolume"].between(0, 1).all()
    assert runs.loc[1, "completed"] <= len(ok)
    # the hypervolume counts the trials finished within the budget (how many did depends on
    # the machine's load: the assertion holds either way)
    started = study.user_attrs["bench_started"]
    in_time = [
        t for t in study.get_trials() if status_of(t) == "ok"
        and t.datetime_complete.timestamp() - started <= 5
    ]  # fmt: skip
    assert runs.loc[1, "completed"] == len(in_time)
    assert (0 < runs.loc[1, "hypervolume"] <= 1) == bool(in_time)
    assert not math.isnan(runs.loc[1, "test_hypervolume"])


def test_bench_refuses_three_objectives(tmp_path: Path, tiny_space: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["bench", "search", "--space", str(tiny_space), "--objectives", "accuracy,flops,params"],
    )
    assert result.exit_code == 2 and "accuracy against one cost" in result.output
