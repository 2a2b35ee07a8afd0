"""Single-path one-shot search: path sampling, weight entanglement and channel masking, the
inherited-weight evaluation, supernet resume after SIGKILL, and a run whose one-shot
estimates never pass for trained accuracies."""

from __future__ import annotations

import math
import random
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
import torch

import archsearch
from archsearch.data import load_dataset
from archsearch.errors import ArchsearchError, ConfigError
from archsearch.runs import RunConfig, run_search
from archsearch.searchers.oneshot import plan_supernet
from archsearch.searchers.oneshot.paths import (
    RandomSuggester,
    fair_paths,
    sample_network,
    sandwich_paths,
    uniform_paths,
)
from archsearch.searchers.oneshot.plan import SKIP, SupernetPath, path_of
from archsearch.searchers.oneshot.spos import (
    CHECKPOINT,
    ONE_SHOT_JOURNAL,
    OneShotEvaluator,
    SposConfig,
    one_shot_search,
    one_shot_study,
    supernet_hyperparameters,
    train_supernet,
)
from archsearch.searchers.oneshot.supernet import PathNetwork, Supernet
from archsearch.study import ONE_SHOT_ATTR, completed, trial_row
from tests.conftest import DEVICES, same_threads
from tests.test_replay import THREE

CPU = torch.device("cpu")
SPACE = """\
name: spos-tiny
input_sizes: [8]
width_multiplier: {choices: [0.5, 1.0]}
stem: {out_channels: {choices: [8, 16]}, kernel_size: 3}
stages:
  - out_channels: {choices: [16, 32]}
    depth: {low: 1, high: 2}
    stride: 2
    block: {choices: [mbconv, dwsep]}
    kernel_size: {choices: [3, 5]}
    mbconv: {expansion: {choices: [2, 4]}}
  - out_channels: {choices: [16, 32]}
    depth: {low: 1, high: 2}
    stride: 1
    block: {choices: [mbconv, dwsep]}
    kernel_size: {choices: [3, 5]}
    mbconv: {expansion: {choices: [2, 4]}}
hyperparameters:
  lr: 0.05
  batch_size: 32
  epochs: 1
"""


@pytest.fixture
def space_file(tmp_path: Path) -> Path:
    path = tmp_path / "spos.yaml"
    path.write_text(SPACE)
    return path


@pytest.fixture
def space(space_file: Path) -> archsearch.SearchSpace:
    return archsearch.load_space(space_file)


@pytest.fixture(scope="module")
def data() -> archsearch.data.Dataset:
    return load_dataset("synthetic")


def test_plan_holds_every_width_of_the_space(space, data) -> None:
    plan = plan_supernet(space, data, widest=True)
    # stem: 8 or 16 listed, x 0.5 or 1.0, rounded to multiples of 8 (4 -> 8): {8, 16}
    assert plan.stem_widths == (8, 16) and plan.stem_channels == 16
    # stages: 16 or 32 x 0.5 or 1.0 -> {8, 16, 32}; the supernet at the widest, 32
    assert [p.widths for p in plan.positions] == [(8, 16, 32)] * 4
    assert [p.out_channels for p in plan.positions] == [32] * 4
    # a stage's first block is never skipped (depth >= 1); 2 types: dwsep k3/k5, mbconv
    # k3/k5 x e2/e4 = 6 ops, plus skip at the second block
    assert [len(p.ops) for p in plan.positions] == [6, 7, 6, 7]


def test_a_sampled_network_and_its_path_agree(space, data) -> None:
    plan = plan_supernet(space, data, widest=True)
    suggester = RandomSuggester(random.Random(3))
    for _ in range(50):
        arch, path = sample_network(space, plan, suggester, data.input_size)
        assert plan.architecture(path) == arch
        assert path_of(plan, arch) == path
        assert all(w in p.widths for w, p in zip(path.widths, plan.positions, strict=True))


def test_a_network_outside_the_supernet_is_refused(space, data) -> None:
    plan = plan_supernet(space, data, widest=True)
    arch = plan.architecture(plan.full_path([0, 0, 0, 0]))
    wider = arch.to_dict()
    wider["stages"][0][0]["out_channels"] = 64
    with pytest.raises(ArchsearchError, match="stage 1 width 64 exceeds the supernet's 32"):
        path_of(plan, archsearch.Architecture.from_dict(wider))


def test_uniform_paths_cover_every_op_and_width(space, data) -> None:
    plan = plan_supernet(space, data, widest=True)
    paths = uniform_paths(space, plan, random.Random(0))
    seen = [[0] * len(p.ops) for p in plan.positions]
    widths = set()
    for _ in range(600):
        (path,) = next(paths)
        for counts, index in zip(seen, path.choice, strict=True):
            counts[index] += 1
        widths.add(path.widths[0])
    assert all(all(c > 0 for c in counts) for counts in seen), seen
    assert widths == {8, 16, 32}
    # the space's walk: the depth is uniform over {1, 2}, so the second block is skipped
    # in about half the paths (300 of 600, give or take 4 standard deviations: 49)
    skips = seen[1][
        plan.positions[1].ops.index(next(o for o in plan.positions[1].ops if o.block == SKIP))
    ]
    assert abs(skips - 300) < 49


def test_fair_paths_run_every_op_once_per_step(space, data) -> None:
    plan = plan_supernet(space, data, widest=True)
    paths = fair_paths(space, plan, random.Random(0))
    for _ in range(5):
        group = next(paths)
        assert len(group) == 7  # the most ops at a position
        columns = list(zip(*(p.choice for p in group), strict=True))
        for position, column in zip(plan.positions, columns, strict=True):
            if len(position.ops) == 7:
                assert sorted(column) == list(range(7))  # each op exactly once
            else:  # 6 ops in 7 paths: each once, one twice
                assert set(column) == set(range(6))


def test_sandwich_paths_are_the_largest_the_smallest_and_two_walks(space, data) -> None:
    plan = plan_supernet(space, data, widest=True)
    paths = sandwich_paths(space, plan, random.Random(0))
    names = [[op.name for op in p.ops] for p in plan.positions]
    for _ in range(3):
        largest, smallest, *walked = next(paths)
        # the most flops: mbconv 5x5 with expansion 4 everywhere, at the supernet's widths
        assert [names[i][c] for i, c in enumerate(largest.choice)] == ["mb_k5_e4"] * 4
        assert largest.widths == (32,) * 4 and largest.stem_width == 16
        # the least: dwsep 3x3 where a stage's first block must be, skip where it may be,
        # at 8 channels (16 x 0.5) and the stem's 8
        assert [names[i][c] for i, c in enumerate(smallest.choice)] == [
            "dw_k3", "skip", "dw_k3", "skip",
        ]  # fmt: skip
        assert smallest.widths == (8,) * 4 and smallest.stem_width == 8
        assert len(walked) == 2


def test_sandwich_training_distils_the_largest_into_the_others(
    space, data, monkeypatch: pytest.MonkeyPatch
) -> None:
    import archsearch.searchers.oneshot.spos as spos

    real = spos.F.cross_entropy
    targets: list[str] = []

    def spy(logits: torch.Tensor, target: torch.Tensor, **kwargs: object) -> torch.Tensor:
        if target.is_floating_point():
            assert torch.allclose(target.sum(1), torch.ones(len(target)))  # probabilities
            assert not target.requires_grad  # the teacher is not trained through them
            targets.append("teacher")
        else:
            targets.append("labels")
        return real(logits, target, **kwargs)

    monkeypatch.setattr(spos.F, "cross_entropy", spy)
    plan = plan_supernet(space, data, widest=True)
    hp = supernet_hyperparameters(space)
    _, training = train_supernet(
        space, plan, data, CPU, SposConfig(epochs=1, sampling="sandwich"), hp
    )
    steps = len(data.y_train) // 32  # 256 images, batch 32: 8 steps of 4 paths
    assert targets == ["labels", "teacher", "teacher", "teacher"] * steps
    assert math.isfinite(training.loss_curve[0])


def test_entangled_variants_are_slices_of_one_weight(space, data) -> None:
    plan = plan_supernet(space, data, widest=True)
    supernet = Supernet(plan, entangled=True)
    mixed = supernet.mixed[0]
    ops = [op.name for op in plan.positions[0].ops]
    k3 = mixed.candidates[ops.index("dw_k3")]
    k5 = mixed.candidates[ops.index("dw_k5")]
    bank = mixed.banks["dwsep__conv_dw__conv__weight"]
    assert tuple(bank.shape) == (16, 1, 5, 5)  # the depthwise kernel of the 16-wide stem
    mixed.run(ops.index("dw_k3"), torch.zeros(2, 16, 8, 8))
    assert torch.equal(k3.conv_dw.conv.weight, bank[:, :, 1:4, 1:4])  # the centre
    mixed.run(ops.index("dw_k5"), torch.zeros(2, 16, 8, 8))
    assert torch.equal(k5.conv_dw.conv.weight, bank)
    # one gradient step through the 3x3 variant moves the 5x5 kernel's centre only
    before = bank.detach().clone()
    x = torch.randn(2, 16, 8, 8)
    mixed.run(ops.index("dw_k3"), x).sum().backward()
    with torch.no_grad():
        bank -= 0.1 * bank.grad
    changed = (bank.detach() != before).any(dim=0).any(dim=0)
    assert changed[1:4, 1:4].all() and not changed[0].any() and not changed[:, 4].any()
    # independent parameters: 2 dwsep + 4 mbconv variants share 2 sets of weights
    separate = Supernet(plan)
    assert sum(p.numel() for p in supernet.mixed[0].parameters()) < sum(
        p.numel() for p in separate.mixed[0].parameters()
    )


def test_masking_keeps_only_the_paths_widths(space, data) -> None:
    plan = plan_supernet(space, data, widest=True)
    supernet = Supernet(plan, entangled=True).eval()
    path = SupernetPath((0, 0, 0, 0), (16, 16, 8, 8), 8)
    features = {}
    for index, mixed in enumerate(supernet.mixed):
        mixed.candidates[0].register_forward_pre_hook(
            lambda m, args, index=index: features.__setitem__(index, args[0])
        )
    with torch.no_grad():
        supernet.forward_path(torch.randn(4, data.in_channels, 8, 8), path)
    # what enters each position: the stem's first 8 channels, then 16, 16, 8 of 32
    for index, width in enumerate((8, 16, 16, 8)):
        x = features[index]
        assert x[:, width:].abs().sum() == 0 and x[:, :width].abs().sum() > 0


def test_inherited_evaluation_recalibrates_bn_and_is_deterministic(space, data) -> None:
    plan = plan_supernet(space, data, widest=True)
    supernet, _ = train_supernet(
        space,
        plan,
        data,
        torch.device("cpu"),
        SposConfig(epochs=1),
        supernet_hyperparameters(space),
    )
    evaluator = OneShotEvaluator(supernet, data, torch.device("cpu"), batch_size=32, seed=0)
    path = sample_network(space, plan, RandomSuggester(random.Random(1)), data.input_size)[1]
    network = PathNetwork(supernet, path)
    norm = next(m for m in network.modules() if isinstance(m, torch.nn.BatchNorm2d))
    stale = norm.running_mean.clone()
    first = evaluator.accuracy(path)
    assert not torch.allclose(norm.running_mean, stale)  # statistics of this path's batches
    recalibrated = norm.running_mean.clone()
    assert evaluator.accuracy(path) == first
    assert torch.equal(norm.running_mean, recalibrated)
    again = OneShotEvaluator(supernet, data, torch.device("cpu"), batch_size=32, seed=0)
    assert again.accuracy(path) == first
    # a path modules only: its norms, not every candidate's
    assert len(list(network.modules())) < len(list(supernet.modules())) / 2


KILLED = """\
import os, signal, sys, torch
import archsearch
from archsearch.data import load_dataset
from archsearch.searchers.oneshot import plan_supernet
from archsearch.searchers.oneshot.spos import SposConfig, supernet_hyperparameters, train_supernet

space = archsearch.load_space(sys.argv[1])
data = load_dataset("synthetic")
plan = plan_supernet(space, data, widest=True)

def kill(epoch, loss):
    if epoch == 1:  # after the second epoch's checkpoint
        os.kill(os.getpid(), signal.SIGKILL)

train_supernet(space, plan, data, torch.device(sys.argv[3]), SposConfig(epochs=3),
               supernet_hyperparameters(space), checkpoint=__import__("pathlib").Path(sys.argv[2]),
               on_epoch=kill)
"""


@pytest.mark.parametrize("device", DEVICES)
def test_supernet_resumes_after_sigkill(space_file, space, data, tmp_path, device) -> None:
    checkpoint = tmp_path / CHECKPOINT
    script = tmp_path / "killed.py"
    script.write_text(KILLED)
    done = subprocess.run(
        [sys.executable, str(script), str(space_file), str(checkpoint), device],
        env=same_threads(),
    )
    assert done.returncode == -9  # SIGKILL
    assert torch.load(checkpoint, weights_only=True)["epoch"] == 2  # plain data only

    plan = plan_supernet(space, data, widest=True)
    hp = supernet_hyperparameters(space)
    resumed, training = train_supernet(
        space, plan, data, torch.device(device), SposConfig(epochs=3), hp, checkpoint=checkpoint
    )
    assert training.resumed_from == 2 and training.epochs == 3 and len(training.loss_curve) == 3
    whole, _ = train_supernet(space, plan, data, torch.device(device), SposConfig(epochs=3), hp)
    for (name, a), b in zip(
        resumed.state_dict().items(), whole.state_dict().values(), strict=True
    ):
        assert torch.allclose(a, b, atol=1e-6), name


def test_a_checkpoint_of_other_options_is_not_resumed(space, data, tmp_path) -> None:
    plan = plan_supernet(space, data, widest=True)
    hp = supernet_hyperparameters(space)
    checkpoint = tmp_path / CHECKPOINT
    train_supernet(
        space, plan, data, torch.device("cpu"), SposConfig(epochs=1), hp, checkpoint=checkpoint
    )
    _, training = train_supernet(
        space,
        plan,
        data,
        torch.device("cpu"),
        SposConfig(epochs=2, seed=1),
        hp,
        checkpoint=checkpoint,
    )
    assert training.resumed_from == 0 and training.epochs == 2


def test_spos_run_retrains_the_front_and_keeps_estimates_apart(space_file, tmp_path) -> None:
    config = RunConfig.from_options(
        space=str(space_file),
        dataset="synthetic",
        searcher="spos",
        spos_epochs=1,
        spos_evaluations=30,
        retrain_top=3,
        runs_dir=str(tmp_path / "runs"),
        reports_dir=str(tmp_path / "reports"),
        device="cpu",
        name="s",
        proxies=(),
    )
    result = run_search(config)
    trials = completed(result.study)
    assert len(trials) == 3 and result.counts["ok"] == 3
    journal = tmp_path / "runs" / "s" / ONE_SHOT_JOURNAL
    oneshot = one_shot_study(("accuracy", "flops"), "nsga2", 0, journal=journal)
    assert len(completed(oneshot)) == 30
    for trial in trials:
        record = trial.user_attrs[ONE_SHOT_ATTR]
        estimated = oneshot.trials[record["one_shot_trial"]]
        assert record["estimate"] == round(estimated.values[0], 6)
        assert trial.user_attrs["queued_architecture"] == estimated.user_attrs["architecture"]
        # the trained accuracy is the study's value; the estimate has its own column
        row = trial_row(trial)
        assert row["accuracy"] == trial.values[0]
        assert row["one_shot_estimate"] == record["estimate"]
        assert record["supernet"]["epochs"] == 1
    assert sorted(t.user_attrs[ONE_SHOT_ATTR]["rank"] for t in trials) == [0, 1, 2]
    assert (tmp_path / "runs" / "s" / CHECKPOINT).is_file()
    html = Path(result.files["report"]).read_text()
    assert "one-shot estimate" in html

    # resumed: the retrained trials are there, nothing is searched or trained again
    again = run_search(config)
    assert len(completed(again.study)) == 3


def test_spos_refuses_what_it_cannot_rank(space_file, tmp_path) -> None:
    base = {"space": str(space_file), "searcher": "spos", "runs_dir": str(tmp_path)}
    with pytest.raises(ConfigError, match="static costs"):
        RunConfig(**base, objectives=("accuracy", "latency"))
    with pytest.raises(ConfigError, match="static limits"):
        RunConfig(**base, max_latency_ms=3.0)
    with pytest.raises(ConfigError, match="one process"):
        RunConfig(**base, workers=2)
    with pytest.raises(ConfigError, match="spos_sampling"):
        RunConfig.from_options(**base, spos_sampling="sometimes")


def test_bench_one_shot_correlates_estimates_with_training(space_file, tmp_path) -> None:
    from archsearch.bench.one_shot import OneShotBenchConfig, run_one_shot_bench

    base = RunConfig.from_options(
        space=str(space_file), dataset="synthetic", device="cpu", epochs=1, spos_epochs=1
    )
    result = run_one_shot_bench(OneShotBenchConfig(base, samples=4, out_dir=str(tmp_path)))
    assert [r["score"] for r in result.rows] == [
        "one-shot estimate",
        "without BN recalibration",
        "params",
        "flops",
    ]
    assert len(result.candidates) == 4 and all(r["n"] == 4 for r in result.rows)
    assert len({c["architecture"] for c in result.candidates}) == 4  # drawn without repeats
    # Kendall's τ-b of the params column against the trained accuracies, by hand
    from scipy.stats import kendalltau

    params = [c["params"] for c in result.candidates]
    trained = [c["trained accuracy"] for c in result.candidates]
    expected = kendalltau(params, trained).statistic
    assert result.rows[2]["kendall"] == pytest.approx(expected, abs=1e-4) or (
        expected != expected and result.rows[2]["kendall"] is None
    )
    assert "one-shot estimate" in (tmp_path / "summary.md").read_text()


# four networks (stage widths 8-32) with made-up stand-alone accuracies in a table
WIDTHS_TABLE = THREE.replace("[8, 16, 24]", "[8, 16, 24, 32]").replace("three", "widths")


def test_bench_one_shot_against_a_table_takes_its_accuracies(tmp_path) -> None:
    from scipy.stats import spearmanr

    from archsearch.bench.one_shot import OneShotBenchConfig, run_one_shot_bench
    from archsearch.bench.tabulate import write_table
    from archsearch.runs._loop import run_data
    from archsearch.space import space_from_text

    space = space_from_text(WIDTHS_TABLE, "widths")
    base = RunConfig.from_options(
        space="mobile", dataset="synthetic", device="cpu", spos_epochs=1
    )  # the space is the table's, whatever --space says
    accuracy = {8: 0.5, 16: 0.7, 24: 0.6, 32: 0.9}
    again = {8: 0.55, 16: 0.6, 24: 0.65}  # a second training seed of three of them
    rows = []
    for seed, figures in ((0, accuracy), (1, again)):
        for width, value in figures.items():
            arch = space.sample_architecture(
                optuna.trial.FixedTrial({"stage1.out_channels": width}), (8, 8)
            )
            rows.append(
                {"seed": seed, "arch_id": arch.id, "params": width, "flops": width,
                 "val_1": value - 0.1, "val_2": value, "proxy.naswot": -width}
            )  # fmt: skip
    meta = {"space_yaml": WIDTHS_TABLE, "input_shape": [1, 8, 8], "num_classes": 4,
            "dataset": run_data(base).describe()}  # fmt: skip
    write_table(tmp_path / "widths.csv.gz", meta, rows)
    table = str(tmp_path / "widths.csv.gz")

    result = run_one_shot_bench(OneShotBenchConfig(base, out_dir=str(tmp_path), table=table))
    assert [c["trained accuracy"] for c in result.candidates] == [0.5, 0.7, 0.6, 0.9]  # val_2
    assert [c["proxy.naswot"] for c in result.candidates] == [-8, -16, -24, -32]
    assert [r["score"] for r in result.rows] == [
        "one-shot estimate",
        "without BN recalibration",
        "params",
        "flops",
        "proxy.naswot",
        "another training seed (1)",
    ]
    # flops (8, 16, 24, 32) against (0.5, 0.7, 0.6, 0.9): ranks 1,2,3,4 vs 1,3,2,4,
    # ρ = 1 - 6·(0+1+1+0)/(4·15) = 0.8; the proxy is its negative
    assert result.rows[3]["spearman"] == pytest.approx(0.8)
    assert result.rows[4]["spearman"] == pytest.approx(-0.8)
    # the seed-1 accuracies (0.55, 0.6, 0.65) rank seed 0's (0.5, 0.7, 0.6) with ρ = 0.5
    assert spearmanr([0.55, 0.6, 0.65], [0.5, 0.7, 0.6]).statistic == pytest.approx(0.5)
    assert result.rows[5]["spearman"] == pytest.approx(0.5) and result.rows[5]["n"] == 3
    assert "4 networks of the table" in (tmp_path / "summary.md").read_text()
    assert "Space `widths`" in (tmp_path / "summary.md").read_text()

    other = RunConfig.from_options(dataset="synthetic", device="cpu", seed=0, train_limit=50)
    with pytest.raises(ConfigError, match="dataset"):
        run_one_shot_bench(OneShotBenchConfig(other, out_dir=str(tmp_path), table=table))


def test_one_shot_search_keeps_to_the_limits(space, data) -> None:
    plan = plan_supernet(space, data, widest=True)
    evaluator = OneShotEvaluator(Supernet(plan, entangled=True), data, CPU, batch_size=32)
    study = one_shot_study(("accuracy", "params"), "random", 0)
    limit = 6000.0
    search = one_shot_search(
        space,
        plan,
        evaluator,
        study,
        ("accuracy", "params"),
        evaluations=40,
        constraints={"max_params": limit},
    )
    done = completed(study)
    assert len(done) == 40 and search.evaluations == 40
    # every network carries its violation: params - 6,000 (its params are its second value)
    for trial in done:
        assert trial.constraints["max_params"] == trial.values[1] - limit
    over = [t for t in done if t.values[1] > limit]
    assert over and len(over) < 40  # the limit cuts through this space
    assert all(t.values[1] <= limit for t in search.top(10))


def test_a_network_drawn_twice_is_retrained_once(space, data) -> None:
    plan = plan_supernet(space, data, widest=True)
    evaluator = OneShotEvaluator(Supernet(plan, entangled=True), data, CPU, batch_size=32)
    study = one_shot_study(("accuracy", "flops"), "random", 0)
    search = one_shot_search(space, plan, evaluator, study, ("accuracy", "flops"), evaluations=1)
    study.enqueue_trial(completed(study)[0].params)  # the same network again
    one_shot_search(space, plan, evaluator, study, ("accuracy", "flops"), evaluations=2)
    first, again = completed(study)
    assert first.user_attrs["architecture"] == again.user_attrs["architecture"]
    assert first.values == again.values  # deterministic estimate
    assert len(search.top(5)) == 1
