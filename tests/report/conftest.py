"""Studies in archsearch's format, made directly (no training), for the report tests."""

from __future__ import annotations

import random
import warnings

import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution
from optuna.trial import TrialState, create_trial

import archsearch
from archsearch.build import count_parameters

ARCHS = archsearch.load_space("mobile").sample(6, seed=0, input_size=8)


def make_study(
    n: int,
    *,
    name: str = "fake",
    seed: int = 0,
    statuses: bool = True,
    alpha: bool = False,
    latency: bool = False,
) -> optuna.Study:
    """``n`` trials: mostly completed, some failed / pruned / infeasible when ``statuses``."""
    rng = random.Random(seed)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(study_name=name, directions=["maximize", "minimize"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study.set_metric_names(["accuracy", "flops"])
    study.set_user_attr("config", {"space": "mobile", "searcher": "tpe", "trials": n})
    study.set_user_attr("dataset", "digits: 1151 train / 287 val / 359 test, 1x8x8, 10 classes")
    study.set_user_attr("input_shape", [1, 8, 8])
    study.set_user_attr("num_classes", 10)
    study.set_user_attr("device", "cpu")
    study.set_user_attr("torch_version", "test")
    trials = []
    for number in range(n):
        arch = ARCHS[number % len(ARCHS)]
        flops = rng.randint(20_000, 2_000_000)
        attrs = {
            "architecture": arch.to_json(),
            "arch_id": arch.id,
            "arch_str": str(arch),
            "params": count_parameters(arch, 10, 1)
            if number < len(ARCHS)
            else rng.randint(1_000, 200_000),
            "flops": flops,
            "mac": flops // 3 + rng.randint(0, 10_000),
            "hyperparameters": {"lr": 0.1},
        }
        if latency:
            attrs["latency_ms"] = flops / 1e5 + rng.random()
        kind = rng.random() if statuses and number >= 3 else 1.0
        params = {"lr": rng.uniform(0.01, 0.2), "stage1.block": rng.choice(["mbconv", "dwsep"])}
        dists = {
            "lr": FloatDistribution(0.01, 0.2, log=True),
            "stage1.block": CategoricalDistribution(["mbconv", "dwsep"]),
        }
        if kind < 0.08:
            trials.append(
                create_trial(
                    state=TrialState.FAIL,
                    params=params,
                    distributions=dists,
                    user_attrs={
                        **attrs,
                        "status": "failed",
                        "reason": "loss became nan in epoch 1",
                    },
                )
            )
            continue
        if kind < 0.16:
            trials.append(
                create_trial(
                    state=TrialState.PRUNED,
                    params=params,
                    distributions=dists,
                    user_attrs={
                        **attrs,
                        "status": "infeasible",
                        "reason": "over budget: max_flops",
                    },
                )
            )
            continue
        if kind < 0.22:
            trials.append(
                create_trial(
                    state=TrialState.PRUNED,
                    params=params,
                    distributions=dists,
                    user_attrs={**attrs, "status": "pruned"},
                )
            )
            continue
        accuracy = min(0.999, 0.5 + 0.1 * (flops / 2e5) ** 0.5 + rng.uniform(-0.05, 0.05))
        curve = [round(accuracy * (e + 1) / 4, 4) for e in range(4)]
        attrs.update(
            {
                "status": "ok",
                "val_accuracy": accuracy,
                "val_curve": curve,
                "loss_curve": [2.0 / (e + 1) for e in range(4)],
                "epochs": 4,
            }
        )
        if alpha:
            attrs["alpha_history"] = {
                "positions": ["stage1.block1", "stage2.block1"],
                "ops": [["mbconv_k3", "dwsep_k3", "skip"], ["mbconv_k3", "shuffle_k3"]],
                "epochs": [[[0.34, 0.33, 0.33], [0.5, 0.5]], [[0.6, 0.3, 0.1], [0.7, 0.3]]],
            }
        trials.append(
            create_trial(
                state=TrialState.COMPLETE,
                values=[accuracy, flops],
                params=params,
                distributions=dists,
                user_attrs=attrs,
            )
        )
    study.add_trials(trials)
    return study


@pytest.fixture
def fake_study() -> optuna.Study:
    return make_study(40)
