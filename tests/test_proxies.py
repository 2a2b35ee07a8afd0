"""Zero-cost proxies: closed forms and hand-computed values, the papers' invariances,
determinism, missing scores, the rank correlations, and proxies recorded by a run."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import optuna
import pandas as pd
import pytest
import torch
from torch import nn
from typer.testing import CliRunner

import archsearch
from archsearch.build import build_model
from archsearch.cli import app
from archsearch.data import load_dataset
from archsearch.proxies import (
    PROXIES,
    Proxy,
    ProxyBatch,
    proxy_batch,
    proxy_names,
    score_candidate,
)
from archsearch.proxies.correlation import rank_correlation
from archsearch.runs import RunConfig, run_search
from archsearch.study import PROXIES_ATTR, completed, proxies_of, record_of, trial_row
from tests.conftest import run_config


def linear_net(*layers: nn.Module) -> nn.Module:
    return nn.Sequential(nn.Flatten(), *layers)


def fixed(layer: nn.Linear, weight: list[list[float]]) -> nn.Linear:
    with torch.no_grad():
        layer.weight.copy_(torch.tensor(weight))
    return layer


W1 = [[1.0, -2.0, 0.0], [0.0, 1.0, 1.0], [-1.0, 0.0, 2.0], [0.0, 0.0, -1.0]]
W2 = [[1.0, 0.0, -1.0, 2.0], [0.0, -3.0, 1.0, 0.0]]


def two_layer(batch_norm: bool = False) -> nn.Module:
    middle = [nn.BatchNorm1d(4)] if batch_norm else []
    return linear_net(
        fixed(nn.Linear(3, 4, bias=False), W1),
        *middle,
        nn.ReLU(),
        fixed(nn.Linear(4, 2, bias=False), W2),
    )


def batch_of(inputs: list[list[float]]) -> ProxyBatch:
    x = torch.tensor(inputs, dtype=torch.float32).reshape(len(inputs), -1, 1, 1)
    return ProxyBatch(x, torch.zeros(len(inputs), dtype=torch.long))


def test_synflow_closed_form_of_a_two_layer_network() -> None:
    # all-ones input through |W1|, |W2|: R = 1ᵀ|W2||W1|1. Row sums of |W1|: 3, 2, 3, 1;
    # column sums of |W2|: 1, 3, 2, 2; R = 1·3 + 3·2 + 2·3 + 2·1 = 17. R is homogeneous of
    # degree one in each layer, so Σ θ·∂R/∂θ = R per layer: synflow = 2 · 17 = 34
    batch = batch_of([[0.5, -1.0, 2.0]] * 4)
    assert PROXIES["synflow"].compute(two_layer(), batch) == pytest.approx(34.0)
    # batch norm is off (replaced by the identity): the same 34
    assert PROXIES["synflow"].compute(two_layer(batch_norm=True), batch) == pytest.approx(34.0)


def test_synflow_does_not_depend_on_the_data() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 3))
    first = score_candidate(
        model, ProxyBatch(torch.randn(8, 1, 8, 8), torch.zeros(8).long()), ["synflow"]
    )
    other = score_candidate(
        model, ProxyBatch(torch.rand(8, 1, 8, 8) * 9, torch.ones(8).long()), ["synflow"]
    )
    assert first.values["synflow"] == other.values["synflow"] > 0


def code_net() -> nn.Module:
    # three ReLU units reading (x1, x2): x1, x2 and -(x1 + x2)
    return linear_net(fixed(nn.Linear(2, 3, bias=False), [[1, 0], [0, 1], [-1, -1]]), nn.ReLU())


def test_naswot_by_hand_rises_with_more_distinct_codes() -> None:
    naswot = PROXIES["naswot"].compute
    # (1, 1) -> pre-activations (1, 1, -2): codes 110; (1, -1) -> (1, -1, 0): codes 100.
    # Hamming distance 1 of N_A = 3: K = [[3, 2], [2, 3]], det 9 - 4 = 5
    assert naswot(code_net(), batch_of([[1, 1], [1, -1]])) == pytest.approx(math.log(5))
    # (-1, -1) -> (-1, -1, 2): codes 001, distance 3: K = [[3, 0], [0, 3]], det 9
    assert naswot(code_net(), batch_of([[1, 1], [-1, -1]])) == pytest.approx(math.log(9))


def test_equal_codes_and_nan_networks_are_missing_with_the_reason() -> None:
    same = score_candidate(code_net(), batch_of([[1, 1], [2, 2]]), ["naswot"])
    assert same.values == {} and "singular" in same.missing["naswot"]

    class NaNNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(1, 2, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return (self.conv(x) * float("nan")).flatten(1)

    batch = ProxyBatch(torch.randn(8, 1, 2, 2), torch.zeros(8, dtype=torch.long))
    scores = score_candidate(NaNNet(), batch, proxy_names(baselines=False))
    assert set(scores.missing) | set(scores.values) == set(proxy_names(baselines=False))
    assert scores.missing["synflow"] == "not finite (nan)"
    assert "synflow" not in scores.values and set(scores.ms) == set(proxy_names(baselines=False))


@pytest.fixture(scope="module")
def data() -> archsearch.data.Dataset:
    return load_dataset("synthetic")


def test_every_proxy_is_deterministic_and_leaves_the_model_and_rng_alone(data) -> None:
    space = archsearch.load_space("mobile")
    arch = space.sample(1, seed=3, input_size=data.input_size)[0]
    torch.manual_seed(0)
    model = build_model(arch, data.num_classes, data.in_channels)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    batch = proxy_batch(data, size=16, seed=0)
    torch.manual_seed(123)
    first = score_candidate(model, batch, proxy_names(), seed=5)
    after_rng = torch.rand(1)
    torch.manual_seed(123)
    again = score_candidate(model, batch, proxy_names(), seed=5)
    assert torch.rand(1) == after_rng  # the global generator is where it was
    assert first.missing == {} and first.values == again.values
    assert set(first.values) == set(proxy_names())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert first.values["params"] == sum(p.numel() for p in model.parameters())


def test_rank_correlations_of_known_rankings() -> None:
    x = [1, 2, 3, 4, 5]
    y = [2, 1, 4, 3, 5]
    result = rank_correlation("p", x, y, resamples=200)
    # Spearman: rank differences -1, 1, -1, 1, 0, Σd² = 4: 1 - 6·4 / (5·24) = 0.8
    assert result.spearman == pytest.approx(0.8)
    # Kendall: 10 pairs, 2 discordant ((1,2) and (3,4)): (8 - 2) / 10 = 0.6
    assert result.kendall == pytest.approx(0.6)
    low, high = result.spearman_ci
    assert -1 <= low <= 0.8 <= high <= 1
    assert rank_correlation("p", x, x[::-1]).spearman == pytest.approx(-1.0)
    assert rank_correlation("p", [1, 1, 1, 1], [1, 2, 3, 4]).spearman is None  # constant


def test_batched_statistics_of_the_bootstrap_equal_scipys_with_ties() -> None:
    import numpy as np
    from scipy import stats

    from archsearch.proxies.correlation import _kendall, _spearman

    x = np.array([[1.0, 2, 2, 3, 5, 5, 5, 8], [3.0, 1, 4, 1, 5, 9, 2, 6]])
    y = np.array([[2.0, 1, 3, 3, 4, 6, 5, 5], [2.0, 7, 1, 8, 2, 8, 1, 8]])
    for row in range(2):
        assert _spearman(x, y)[row] == pytest.approx(stats.spearmanr(x[row], y[row]).statistic)
        assert _kendall(x, y)[row] == pytest.approx(stats.kendalltau(x[row], y[row]).statistic)


def config(tmp_path: Path, space: Path, **changes: object) -> RunConfig:
    return run_config(tmp_path, space, **{"searcher": "random", **changes})


def test_a_run_records_proxies_and_trains_the_same_networks(
    tmp_path: Path, tiny_space: Path
) -> None:
    plain = run_search(config(tmp_path, tiny_space, name="plain", proxies=()))
    scored = run_search(
        config(
            tmp_path, tiny_space, name="scored", proxies=("synflow", "naswot"), write_report=True
        )
    )
    accuracies = [t.values for t in completed(plain.study)]
    assert [t.values for t in completed(scored.study)] == accuracies  # proxies change nothing
    for trial in completed(scored.study):
        assert set(proxies_of(trial)) == {"synflow", "naswot"}
        assert trial.user_attrs[PROXIES_ATTR]["ms"]["synflow"] > 0
        assert trial_row(trial)["proxy.naswot"] == proxies_of(trial)["naswot"]
    assert all(PROXIES_ATTR not in t.user_attrs for t in completed(plain.study))
    report = Path(scored.files["report"]).read_text()
    assert 'id="proxies"' in report and "proxies-scored" in report


def test_a_broken_proxy_is_recorded_missing_and_the_search_goes_on(
    tmp_path: Path, tiny_space: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(model: nn.Module, batch: ProxyBatch) -> float:
        raise RuntimeError("out of memory (pretend)")

    monkeypatch.setitem(PROXIES, "broken", Proxy("broken", broken, False, "test"))
    result = run_search(config(tmp_path, tiny_space, name="b", proxies=("broken", "synflow")))
    trials = completed(result.study)
    assert len(trials) == 3
    for trial in trials:
        record = trial.user_attrs[PROXIES_ATTR]
        assert record["missing"] == {"broken": "RuntimeError: out of memory (pretend)"}
        assert set(record["values"]) == {"synflow"}


def test_unknown_proxy_is_a_clear_error(tiny_space: Path) -> None:
    result = CliRunner().invoke(app, ["run", "--space", str(tiny_space), "--proxies", "synfow"])
    assert result.exit_code == 2
    assert "proxies" in result.output and "unknown proxy 'synfow'" in result.output


def test_bench_proxies_end_to_end(tmp_path: Path, tiny_space: Path) -> None:
    # the learning rate is searched here; the benchmark trains every candidate at the middle
    # of its log range, sqrt(0.01 x 0.1) = 0.0316..., so only the architecture varies
    tiny_space.write_text(
        tiny_space.read_text().replace("lr: 0.1", "lr: {low: 0.01, high: 0.1, log: true}")
    )
    out = tmp_path / "bench"
    result = CliRunner().invoke(
        app,
        [
            "bench", "proxies", "--space", str(tiny_space), "--dataset", "synthetic",
            "--samples", "4", "--epochs", "1", "--device", "cpu", "-o", str(out),
        ],
        env={"COLUMNS": "200"},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = pd.read_csv(out / "summary.csv")
    assert list(summary["proxy"]) == proxy_names()  # every proxy, the baselines last
    assert (summary["n"] <= 4).all() and (summary["n"] >= 3).all()
    study = optuna.load_study(
        study_name="proxies", storage=f"sqlite:///{out / 'runs' / 'proxies' / 'study.db'}"
    )
    assert len(completed(study)) == 4
    rates = [record_of(t)["hyperparameters"]["lr"] for t in completed(study)]
    assert rates == [pytest.approx(math.sqrt(0.01 * 0.1))] * 4
    html = (out / "proxies.html").read_text()
    assert "Zero-cost proxies at initialisation" in html
    assert "Spearman" in (out / "summary.md").read_text()


def scored_study(points: list[tuple[float, float]]) -> optuna.Study:
    """Completed trials with (synflow score, flops) and nothing else."""
    from archsearch.study import CANDIDATE_ATTR

    study = optuna.create_study(directions=["maximize", "minimize"])
    for score, flops in points:
        study.add_trial(
            optuna.trial.create_trial(
                state=optuna.trial.TrialState.COMPLETE,
                values=[0.5, flops],
                user_attrs={
                    CANDIDATE_ATTR: {"flops": flops},
                    PROXIES_ATTR: {"values": {"synflow": score}, "missing": {}, "ms": {}},
                },
            )
        )
    study.set_metric_names(["accuracy", "flops"])
    return study


def test_proxy_screen_stops_the_bottom_fraction_by_score_and_cost() -> None:
    from archsearch.searchers.pruners import ProxyScreen

    # ten candidates of equal cost, scores 1..10: each front holds one, so the order is by
    # score. Fraction 0.3 of 10: positions 8-10 (ceil(10 x 0.7) = 7 go on) are screened
    study = scored_study([(float(s), 1000.0) for s in range(1, 11)])
    screen = ProxyScreen(0.3, "synflow")
    trials = {t.user_attrs[PROXIES_ATTR]["values"]["synflow"]: t for t in study.trials}
    assert screen.judge(study, trials[4.0]).prune is False
    verdict = screen.judge(study, trials[3.0])
    assert verdict.prune and verdict.reason == (
        "screened out before training: synflow with its costs: 8th of 10 scored (front 8);"
        " the bottom 3 stop untrained"
    )
    # the lowest score at the lowest cost is on the first front: it trains
    cheap = scored_study([(float(s), 1000.0) for s in range(2, 11)] + [(1.0, 10.0)])
    assert ProxyScreen(0.3, "synflow").judge(cheap, cheap.trials[-1]).prune is False
    # fewer than min_seen scored: everything trains
    few = scored_study([(float(s), 1000.0) for s in range(1, 6)])
    assert "fewer than 10" in ProxyScreen(0.5, "synflow").judge(few, few.trials[0]).reason


def test_a_screened_run_stops_the_worst_untrained(tmp_path: Path, tiny_space: Path) -> None:
    from archsearch.study import judged, record_of, status_of

    result = run_search(
        config(
            tmp_path,
            tiny_space,
            name="s",
            trials=16,
            epochs=1,
            proxies=("synflow",),
            proxy_screen=0.5,
            workers=1,  # in order: the first ten scored are the first ten trials
        )
    )
    trials = result.study.get_trials()
    screened = [t for t in trials if status_of(t) == "pruned"]
    assert screened, "nothing screened"
    for trial in screened:
        record = record_of(trial)
        assert record["epochs"] == 0 and record["reason"].startswith("screened out")
        assert trial.number >= 10  # the first ten scored all train
    assert len(judged(result.study)) == 16  # the screened ones do not count as judged
    assert len(trials) == 16 + len(screened)


def test_proxy_warm_up_enqueues_the_best_tenth_first(tmp_path: Path, tiny_space: Path) -> None:
    from archsearch.runs.warmup import WARMUP_ATTR

    run = config(tmp_path, tiny_space, name="w", trials=3, proxies=("synflow",), proxy_warmup=20)
    study = run_search(run).study
    warm = [t for t in study.trials if WARMUP_ATTR in t.user_attrs]
    # 20 scored, 20 // 10 = 2 enqueued: the run's first two trials, best first
    assert [t.number for t in warm] == [0, 1]
    assert [t.user_attrs[WARMUP_ATTR]["rank"] for t in warm] == [0, 1]
    assert all(t.user_attrs[WARMUP_ATTR]["scored"] == 20 for t in warm)
    again = run_search(replace(run, trials=4)).study  # resumed: no second warm-up
    assert sum(WARMUP_ATTR in t.user_attrs for t in again.trials) == 2


def test_screen_and_warm_up_need_a_proxy() -> None:
    from archsearch.errors import ConfigError

    with pytest.raises(ConfigError, match="needs --proxies"):
        RunConfig(proxies=(), proxy_screen=0.5)
    with pytest.raises(ConfigError, match=r"must be in \(0, 1\)"):
        RunConfig(proxies=("synflow",), proxy_screen=1.0)
