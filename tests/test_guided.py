"""The guided samplers by hand on tiny made-up spaces: the bin the cost-aware rule fills, the
mutation local search proposes, the network the predictor picks on a known function; and the
hypervolume gain they aim by, against the hypervolume itself."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import optuna
import pytest

from archsearch.pareto import hypervolume_2d, hypervolume_gains, nondominated_ranks
from archsearch.searchers.guided import (
    PROPOSAL_ATTR,
    GuidedOptions,
    GuidedSampler,
    RecordingSuggester,
    admits,
    neighbour,
)

WIDTHS = [1, 2, 4, 8, 16, 32, 64, 128]


def test_hypervolume_gains_by_hand_and_against_the_hypervolume() -> None:
    front = np.array([[0.5, 0.5]])
    candidates = np.array([[0.25, 0.75], [0.75, 0.25], [0.75, 0.75]])
    gains, margins = hypervolume_gains(front, candidates, (1.0, 1.0))
    # (0.25, 0.75) dominates [0.25, 1] x [0.75, 1] = 0.1875, of which the front already has
    # [0.5, 1] x [0.75, 1] = 0.125; (0.75, 0.25) adds [0.75, 1] x [0.25, 0.5]; the third is
    # dominated. Margins: the front's level at x (1 before its first point) minus y.
    assert gains == pytest.approx([0.0625, 0.0625, 0.0])
    assert margins == pytest.approx([0.25, 0.25, -0.25])
    rng = np.random.default_rng(0)
    for _ in range(50):
        front = rng.random((rng.integers(0, 6), 2)) * 1.2
        points = rng.random((10, 2)) * 1.2
        gains, _ = hypervolume_gains(front, points, (1.0, 1.0))
        expected = [
            hypervolume_2d(np.vstack([front, p]), (1.0, 1.0)) - hypervolume_2d(front, (1.0, 1.0))
            for p in points
        ]
        assert gains == pytest.approx(expected)


def test_the_recording_walk_keeps_what_it_may_and_draws_the_rest() -> None:
    suggester = RecordingSuggester(random.Random(0), fixed={"w": 4, "k": 99, "x": "off"})
    assert suggester.suggest_categorical("w", WIDTHS) == 4  # fixed, and a choice
    assert 1 <= suggester.suggest_int("k", 1, 3) <= 3  # 99 is out of range: drawn
    assert suggester.suggest_categorical("x", [True, False]) in (True, False)  # not a choice
    assert 0.1 <= suggester.suggest_float("lr", 0.1, 1.0, log=True) <= 1.0
    assert list(suggester.params) == ["w", "k", "x", "lr"]
    dist = optuna.distributions
    assert admits(dist.IntDistribution(1, 9, step=2), 5)
    assert not admits(dist.IntDistribution(1, 9, step=2), 4)
    assert not admits(dist.CategoricalDistribution([1, 2]), True)  # True == 1, not a choice
    generator = random.Random(1)
    assert {neighbour(dist.IntDistribution(1, 3), 2, generator) for _ in range(20)} == {1, 3}
    assert neighbour(dist.IntDistribution(1, 3), 1, generator) == 2  # the only neighbour


def _walk(suggester: Any) -> dict[str, Any]:
    return {
        "w": suggester.suggest_categorical("w", WIDTHS),
        "a": suggester.suggest_categorical("a", ["good", "bad1", "bad2", "bad3"]),
    }


def _costs(network: dict[str, Any]) -> dict[str, float]:
    flops = 1000.0 * network["w"]  # 1,000 to 128,000: one width per log-cost bin of 8
    return {"flops": flops, "params": flops, "mac": flops}


def _accuracy(params: dict[str, Any]) -> float:
    return (0.9 if params["a"] == "good" else 0.3) + params["w"] / 10_000


def _objective(trial: optuna.Trial) -> tuple[float, float]:
    network = _walk(trial)
    accuracy = _accuracy(trial.params)
    flops = _costs(network)["flops"]
    trial.set_user_attr("candidate", {"flops": flops, "params": flops, "mac": flops})
    trial.set_user_attr("result", {"val_accuracy": accuracy, "val_curve": [accuracy]})
    return accuracy, flops


def _study(rule: str, **options: Any) -> tuple[optuna.Study, GuidedSampler]:
    sampler = GuidedSampler(
        _walk, _costs, ("accuracy", "flops"), rule, seed=0, options=GuidedOptions(**options)
    )
    study = optuna.create_study(directions=["maximize", "minimize"], sampler=sampler)
    return study, sampler


def test_cost_bins_fill_the_emptiest_bin() -> None:
    # 32 networks, 4 per width; each width its own bin of 8 on the log-cost axis
    study, _ = _study("bins", bins=8)
    study.optimize(_objective, n_trials=8)
    # the first 8 proposals: one per bin, so every width once (random search: 8!/8^8 = 0.2%)
    assert sorted(t.params["w"] for t in study.trials) == WIDTHS
    assert [t.system_attrs[PROPOSAL_ATTR]["rule"] for t in study.trials] == ["bins"] * 8
    # with bins 1-7 filled twice more, the next proposal is in bin 0: width 1
    for width in WIDTHS[1:]:
        study.enqueue_trial({"w": width, "a": "bad1"})
        study.enqueue_trial({"w": width, "a": "bad2"})
    study.optimize(_objective, n_trials=14 + 1)
    assert study.trials[-1].params["w"] == 1
    assert study.trials[-1].system_attrs[PROPOSAL_ATTR]["bin"] == 0


def test_local_search_changes_one_choice_of_a_front_member() -> None:
    study, _ = _study("local", startup_trials=0, epsilon=0.0)
    study.enqueue_trial({"w": 8, "a": "good"})  # dominates every other network of width >= 8
    study.enqueue_trial({"w": 2, "a": "bad1"})
    study.optimize(_objective, n_trials=2)
    front = {(t.params["w"], t.params["a"]) for t in study.best_trials}
    assert front == {(8, "good"), (2, "bad1")}
    study.optimize(_objective, n_trials=6)
    for index in range(2, 8):
        before = study.trials[:index]
        points = np.array([[-t.values[0], t.values[1]] for t in before])
        front = [
            (t.params["w"], t.params["a"])
            for t, rank in zip(before, nondominated_ranks(points), strict=True)
            if rank == 0
        ]
        trial = study.trials[index]
        assert trial.system_attrs[PROPOSAL_ATTR]["rule"] == "local"
        w, a = trial.params["w"], trial.params["a"]
        # one choice of a member of the front then changed: the block, or the width
        assert any((p[0] == w) != (p[1] == a) for p in front), (w, a, front)
        assert "mutation of trial" in trial.system_attrs[PROPOSAL_ATTR]["origin"]
    assert len({(t.params["w"], t.params["a"]) for t in study.trials}) == 8  # none twice


def test_the_predictor_proposes_what_the_known_function_rewards() -> None:
    # accuracy 0.9 for block "good", 0.3 for the others: after 12 random trials, the forest
    # ranks the pool and the proposals (no optimism, no exploration) are "good" networks
    study, _ = _study("predictor", startup_trials=12, epsilon=0.0, exploration=0.0)
    study.optimize(_objective, n_trials=12)
    assert any(t.params["a"] == "good" for t in study.trials)
    study.optimize(_objective, n_trials=3)
    for trial in study.trials[12:]:
        proposal = trial.system_attrs[PROPOSAL_ATTR]
        assert proposal["rule"] == "predictor" and trial.params["a"] == "good"
        assert proposal["predicted"] > 0.6
    # the first adds to the front by its prediction; once (1, good) holds the cheap end, the
    # others' predictions (below 0.9) add nothing and the nearest miss is taken
    assert study.trials[12].system_attrs[PROPOSAL_ATTR]["gain"] > 0


def test_a_queued_trial_keeps_its_parameters() -> None:
    study, _ = _study("predictor")
    study.enqueue_trial({"w": 16, "a": "bad3"})
    study.optimize(_objective, n_trials=1)
    trial = study.trials[0]
    assert trial.params == {"w": 16, "a": "bad3"} and PROPOSAL_ATTR not in trial.system_attrs
