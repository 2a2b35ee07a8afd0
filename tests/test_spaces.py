"""Built-in spaces: every sample builds and trains a step at several input sizes."""

from __future__ import annotations

import optuna
import pytest
import torch

import archsearch
from archsearch import build_model
from archsearch.space import DEFAULT_HYPERPARAMETERS, Categorical, Fixed, FloatRange, IntRange

SPACES = ["mobile", "resnet", "inception", "mixed"]


def test_builtin_spaces_are_listed() -> None:
    assert set(SPACES) <= set(archsearch.list_spaces())
    for name in SPACES:
        space = archsearch.load_space(name)
        assert space.name == name and space.description
        assert space.input_sizes == (8, 28, 32, 224)


@pytest.mark.parametrize("name", SPACES)
def test_every_input_size_gives_valid_architectures(name: str) -> None:
    space = archsearch.load_space(name, check=False)
    for size in (8, 28, 32, 224):
        for arch in space.sample(25, seed=1, input_size=size):
            shapes = arch.infer_shapes(3, size)
            assert min(s.out_shape[1] for s in shapes) >= space.min_feature_size


@pytest.mark.parametrize("name", SPACES)
@pytest.mark.parametrize("size", [8, 28])
def test_forward_backward_finite_and_shapes_as_inferred(name: str, size: int) -> None:
    space = archsearch.load_space(name, check=False)
    for seed in range(6):
        arch = space.sample(1, seed=seed, input_size=size)[0]
        channels = 1 if size == 28 else 3
        model = build_model(arch, num_classes=10, in_channels=channels, input_size=size)
        x = torch.randn(2, channels, size, size)
        features = model.forward_features(x)
        assert tuple(features.shape[1:]) == arch.infer_shapes(channels, size)[-1].out_shape
        logits = model.head(features)
        assert logits.shape == (2, 10) and torch.isfinite(logits).all()
        torch.nn.functional.cross_entropy(logits, torch.tensor([1, 2])).backward()
        grads = [p.grad for p in model.parameters() if p.grad is not None]
        assert grads and all(torch.isfinite(g).all() for g in grads)


def test_stride_pattern_adapts_to_input_size() -> None:
    space = archsearch.load_space("mobile")
    small = space.sample(20, seed=3, input_size=8)
    large = space.sample(20, seed=3, input_size=224)
    for a8, a224 in zip(small, large, strict=True):
        # the same trial parameters give the same blocks; only strides and the stem pool differ
        assert [b.type for b in a8.stem] == ["plain"]
        assert [b.type for b in a224.stem] == ["plain", "maxpool"]
        assert [[b.type for b in s] for s in a8.stages] == [
            [b.type for b in s] for s in a224.stages
        ]
        assert a8.infer_shapes(3, 8)[-1].out_shape[1] >= 2
        assert a224.infer_shapes(3, 224)[-1].out_shape[1] <= 28


def test_sampling_goes_through_optuna_parameters() -> None:
    space = archsearch.load_space("mobile")
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    trial = study.ask()
    arch = space.sample_architecture(trial, input_size=28)
    hp = space.sample_hyperparameters(trial)
    params = trial.params
    assert params["num_stages"] == len(arch.stages)
    assert params["stage1.block"] == arch.stages[0][0].type
    assert params["stage1.depth"] == len(arch.stages[0])
    assert hp["lr"] == params["lr"] and 0.005 <= hp["lr"] <= 0.2
    assert hp["epochs"] == 8 and "epochs" not in params  # fixed values are not parameters
    assert set(hp) == set(DEFAULT_HYPERPARAMETERS)
    # replaying the parameters gives the same architecture
    replay = space.sample_architecture(optuna.trial.FixedTrial(params), input_size=28)
    assert replay == arch


@pytest.mark.parametrize(
    "sampler",
    [
        optuna.samplers.RandomSampler(seed=0),
        optuna.samplers.TPESampler(seed=0, n_startup_trials=3),
        optuna.samplers.NSGAIISampler(seed=0, population_size=4),
        optuna.samplers.QMCSampler(seed=0),
    ],
    ids=["random", "tpe", "nsga2", "qmc"],
)
def test_every_sampler_works_on_every_space(sampler: optuna.samplers.BaseSampler) -> None:
    for name in SPACES:
        space = archsearch.load_space(name, check=False)
        study = optuna.create_study(sampler=sampler, directions=["maximize", "minimize"])

        def objective(
            trial: optuna.Trial, space: archsearch.SearchSpace = space
        ) -> tuple[float, float]:
            arch = space.sample_architecture(trial, input_size=32)
            arch.infer_shapes(3, 32)
            space.sample_hyperparameters(trial)
            return float(arch.num_blocks), float(len(arch.stages))

        study.optimize(objective, n_trials=6)
        assert len(study.trials) == 6
        assert all(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)


def test_distributions_parsed_as_written() -> None:
    space = archsearch.load_space("mobile")
    assert space.hyperparameters["lr"] == FloatRange(0.005, 0.2, None, True)
    assert space.hyperparameters["weight_decay"] == FloatRange(1e-5, 1e-3, None, True)
    assert space.hyperparameters["epochs"] == Fixed(8)
    assert space.num_stages == IntRange(2, 4, 1, False)
    assert space.stages[0].block == Categorical(("dwsep", "mbconv", "shuffle"))
    assert space.stages[1].block_options["mbconv"]["expansion"] == Categorical((3, 6))
