"""The report's pure data functions, tested with ==, and the written files."""

from __future__ import annotations

import re
from pathlib import Path

import optuna
import pandas as pd
import pytest
from optuna.trial import TrialState, create_trial

from archsearch.report import write_report
from archsearch.report._info import (
    HistoryInfo,
    ParetoPoint,
    get_alpha_info,
    get_candidate_info,
    get_history_info,
    get_pareto_info,
    get_rank_info,
    get_run_info,
    get_trial_rows,
    pareto_front_numbers,
)
from tests.report.conftest import make_study


def test_pareto_front_numbers() -> None:
    # (number, accuracy, cost): 2 is dominated by 1 (less accurate, costlier); 3 ties nothing
    points = [(0, 0.90, 100.0), (1, 0.95, 200.0), (2, 0.93, 300.0), (3, 0.99, 1000.0)]
    assert pareto_front_numbers(points) == {0, 1, 3}
    assert pareto_front_numbers([]) == set()


def _study_with(values: list[tuple[float, int]], failed_cost: int | None = None) -> optuna.Study:
    study = optuna.create_study(study_name="s", directions=["maximize", "minimize"])
    study.set_metric_names(["accuracy", "flops"])
    trials = [
        create_trial(
            values=[a, f],
            user_attrs={"val_accuracy": a, "flops": f, "status": "ok", "arch_str": f"net{i}"},
        )
        for i, (a, f) in enumerate(values)
    ]
    if failed_cost is not None:
        trials.append(
            create_trial(
                state=TrialState.FAIL,
                user_attrs={"flops": failed_cost, "status": "failed", "arch_str": "bad"},
            )
        )
    study.add_trials(trials)
    return study


def test_pareto_info() -> None:
    study = _study_with([(0.9, 100), (0.95, 200), (0.93, 300)], failed_cost=150)
    info = get_pareto_info(study, "flops")
    assert info is not None and info.run == "s" and info.axis == "flops"
    assert info.points == (
        ParetoPoint(0, 100.0, 0.9, "front", "net0"),
        ParetoPoint(1, 200.0, 0.95, "front", "net1"),
        ParetoPoint(2, 300.0, 0.93, "dominated", "net2"),
        ParetoPoint(3, 150.0, None, "failed", "bad"),
    )
    assert info.log_axis is False  # 300 / 100 < 100
    assert get_pareto_info(study, "latency_ms") is None  # never measured


def test_history_info() -> None:
    study = _study_with([(0.9, 100), (0.95, 200), (0.93, 50)])
    assert get_history_info(study) == [
        HistoryInfo("s", "accuracy", (0, 1, 2), (0.9, 0.95, 0.93), (0.9, 0.95, 0.95)),
        HistoryInfo("s", "flops", (0, 1, 2), (100.0, 200.0, 50.0), (100.0, 100.0, 50.0)),
    ]


def test_run_info_counts_every_status(fake_study: optuna.Study) -> None:
    info = get_run_info(fake_study)
    counts = dict(info.counts)
    states = [t.user_attrs["status"] for t in fake_study.trials]
    assert counts["ok"] == states.count("ok")
    assert counts["failed"] == states.count("failed") > 0
    assert counts["infeasible"] == states.count("infeasible") > 0
    assert counts["pruned"] == states.count("pruned") > 0
    assert info.objectives == ("accuracy", "flops")
    best = dict(info.best)
    done = [t for t in fake_study.trials if t.state == TrialState.COMPLETE]
    assert best["accuracy"] == max(t.values[0] for t in done)
    assert best["flops"] == min(t.values[1] for t in done)


def test_candidate_info_reprofiles_the_architecture(fake_study: optuna.Study) -> None:
    trial = fake_study.trials[0]
    info = get_candidate_info(fake_study, trial)
    assert info.number == 0 and info.arch_id == trial.user_attrs["arch_id"]
    assert sum(row.flops for row in info.layers) > 0
    assert info.val_curve == tuple(trial.user_attrs["val_curve"])
    assert info.blocks[0][1] == "plain" and info.alpha is None


def test_alpha_info() -> None:
    study = make_study(4, alpha=True, statuses=False)
    alpha = get_alpha_info(study.trials[0])
    assert alpha is not None
    assert alpha.positions == ("stage1.block1", "stage2.block1")
    assert alpha.epochs[1][0] == (0.6, 0.3, 0.1)


def test_rank_info_from_recorded_latency() -> None:
    study = make_study(30, latency=True, statuses=False)
    info = get_rank_info(study)
    assert info is not None and info.source == "recorded during the search"
    # latency was made from flops plus < 1 ms of noise: FLOPs rank it almost perfectly
    assert info.spearman_flops is not None and info.spearman_flops > 0.9
    assert get_rank_info(make_study(10, statuses=False)) is None  # nothing recorded


def test_rank_info_measured_now() -> None:
    info = get_rank_info(make_study(6, statuses=False), measure=3)
    assert info is not None and len(info.numbers) == 3
    assert info.source == "measured for this report on cpu"


def test_report_files_and_csv_match_the_study(tmp_path: Path, fake_study: optuna.Study) -> None:
    path = write_report(fake_study, tmp_path / "r.html")
    text = path.read_text()
    # self-contained: no script, stylesheet or font loaded from anywhere
    assert not re.search(r"<script[^>]*\ssrc=", text) and not re.search(r"<link[^>]*href=", text)
    assert "@import" not in text and "@font-face" not in text
    assert text.count('class="lazy-plot"') >= 3  # the fronts and the history
    csv = pd.read_csv(tmp_path / "r.csv")
    rows = get_trial_rows(fake_study)
    assert list(csv["number"]) == [r["number"] for r in rows]
    assert list(csv["status"]) == [r["status"] for r in rows]
    assert list(csv["flops (multiply-adds)"]) == [r["flops"] for r in rows]


def test_report_of_one_trial(tmp_path: Path) -> None:
    study = make_study(1, statuses=False)
    path = write_report(study, tmp_path / "one.html")
    assert "All trials (1)" in path.read_text()


def test_report_of_a_darts_run(tmp_path: Path) -> None:
    path = write_report(make_study(4, alpha=True, statuses=False), tmp_path / "darts.html")
    text = path.read_text()
    assert 'id="alpha-1"' in text and "softmax" in text


def test_report_overlays_several_runs(tmp_path: Path) -> None:
    a, b = make_study(10, name="tpe"), make_study(12, name="random", seed=1)
    path = write_report([a, b], tmp_path / "both.html")
    text = path.read_text()
    assert "archsearch: tpe vs random" in text and "All trials (22)" in text
    assert set(pd.read_csv(tmp_path / "both.csv")["run"]) == {"tpe", "random"}


@pytest.mark.slow
def test_report_of_1000_trials_stays_small(tmp_path: Path) -> None:
    path = write_report(make_study(1000, seed=3), tmp_path / "big.html")
    size = path.stat().st_size
    assert size < 9_000_000, size  # plotly.js itself is about 4.7 MB
    assert "All trials (1000)" in path.read_text()
