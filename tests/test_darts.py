"""DARTS: supernet plan, both modes, second order, cost-aware loss, latency table, collapse
guard, derivation, and a run recorded in the study like any other."""

from __future__ import annotations

import itertools
import json
import math
import random
from pathlib import Path

import pytest
import torch

import archsearch
from archsearch.data import load_dataset
from archsearch.runs import RunConfig, run_search
from archsearch.searchers.oneshot import (
    SKIP,
    DartsConfig,
    DartsResult,
    DartsSearch,
    Supernet,
    default_hyperparameters,
    derive_front,
    latency_table,
    most_likely,
    op_costs,
    plan_supernet,
    stage_choices,
)
from archsearch.searchers.oneshot.darts import best_per_bin
from archsearch.study import completed, record_of
from tests.conftest import DEVICES, same_threads

SPACE = """\
name: darts-tiny
input_sizes: [8]
stem: {out_channels: 8, kernel_size: 3}
stages:
  - out_channels: {choices: [8, 16]}
    depth: {low: 1, high: 2}
    stride: 2
    block: {choices: [mbconv, dwsep]}
    kernel_size: {choices: [3, 5]}
    mbconv: {expansion: {choices: [2, 4]}}
hyperparameters:
  lr: {low: 0.01, high: 0.1, log: true}
  batch_size: {choices: [32, 64]}
  epochs: 2
"""


@pytest.fixture
def space(tmp_path: Path) -> archsearch.SearchSpace:
    path = tmp_path / "darts.yaml"
    path.write_text(SPACE)
    return archsearch.load_space(path)


@pytest.fixture(scope="module")
def data() -> archsearch.data.Dataset:
    return load_dataset("synthetic")


def test_plan_follows_the_space(space: archsearch.SearchSpace, data) -> None:
    plan = plan_supernet(space, data)
    assert [p.name for p in plan.positions] == ["stage1.block1", "stage1.block2"]
    first, second = plan.positions
    # largest width, the stage's stride; mbconv: 2 kernels x 2 expansions, dwsep: 2 kernels
    assert (first.in_channels, first.out_channels, first.stride) == (8, 16, 2)
    names = [op.name for op in first.ops]
    assert len(names) == 6 and SKIP not in names
    assert "mb_k5_e4" in names and "dw_k3" in names
    # the second block may be skipped (depth search); same 6 ops plus identity
    assert second.ops[-1].block == SKIP and len(second.ops) == 7
    assert second.in_size == (4, 4) and first.in_size == (8, 8)


def test_supernet_and_derived_network_agree_on_shapes(space, data) -> None:
    plan = plan_supernet(space, data)
    supernet = Supernet(plan)
    x = torch.randn(3, 1, 8, 8)
    assert supernet(x, "full").shape == supernet(x, "gumbel", 1.0).shape == (3, 4)
    arch = plan.architecture([0, len(plan.positions[1].ops) - 1])  # second block skipped
    assert len(arch.stages[0]) == 1
    model = archsearch.build_model(arch, 4, 1)
    assert model(x).shape == (3, 4)


@pytest.mark.parametrize(
    ("mode", "order"), [("full", "first"), ("gumbel", "first"), ("full", "second")]
)
def test_search_runs_and_records_alpha_history(space, data, mode: str, order: str) -> None:
    plan = plan_supernet(space, data)
    config = DartsConfig(mode=mode, order=order, epochs=3, warmup_epochs=1, batch_size=32)
    result = DartsSearch(plan, data, torch.device("cpu"), config).run()
    assert len(result.history) == 3 and len(result.entropy) == 3
    for epoch in result.history:
        for position, probs in zip(plan.positions, epoch, strict=True):
            assert len(probs) == len(position.ops) and sum(probs) == pytest.approx(1, abs=1e-4)
    # α is frozen during warm-up, then moves
    assert result.history[0][0] == pytest.approx([1 / 6] * 6, abs=1e-2)
    assert result.history[-1] != result.history[0]
    # throughput counts every supernet pass: 3 epochs of weight steps of 32 training images,
    # plus one α batch of 32 validation images per step after the warm-up epoch
    steps = len(data.y_train) // 32
    images = 3 * steps * 32 + 2 * steps * 32
    assert result.images_per_s * result.seconds == pytest.approx(images, rel=1e-6)


def test_cost_weight_pushes_towards_cheap_ops(space, data) -> None:
    plan = plan_supernet(space, data)
    costs = op_costs(plan, "flops", torch.device("cpu"))
    assert costs[1][-1] == 0.0  # skip costs nothing
    uniform = sum(sum(row) / len(row) for row in costs)

    def expected_cost(weight: float) -> float:
        """Σ softmax(α)·flops over the positions after a 4-epoch search."""
        config = DartsConfig(
            epochs=4, warmup_epochs=0, cost_weight=weight, arch_lr=0.05, batch_size=32
        )
        result = DartsSearch(plan, data, torch.device("cpu"), config).run()
        return sum(
            sum(p * c for p, c in zip(probs, row, strict=True))
            for probs, row in zip(result.probabilities, costs, strict=True)
        )

    assert expected_cost(50.0) < 0.7 * uniform  # the expected cost fell well below uniform
    assert expected_cost(0.0) > 0.9 * uniform  # without the penalty, no pull to cheap ops


def saved_activation_bytes(supernet: Supernet, x: torch.Tensor, mode: str) -> int:
    """Bytes autograd keeps for the backward pass of one forward pass: the memory that grows
    with the number of candidate ops in DARTS."""
    seen: dict[int, int] = {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        if not isinstance(tensor, torch.nn.Parameter):
            seen[tensor.untyped_storage().data_ptr()] = tensor.untyped_storage().nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        supernet(x, mode, 1.0).sum().backward()
    return sum(seen.values())


def test_gumbel_mode_keeps_less_memory_than_full_mode(space, data) -> None:
    torch.manual_seed(0)
    supernet = Supernet(plan_supernet(space, data)).train()
    x = torch.randn(16, 1, 8, 8)
    full = saved_activation_bytes(supernet, x, "full")
    gumbel = saved_activation_bytes(supernet, x, "gumbel")
    # full mode keeps the activations of all 6 + 7 candidate ops, gumbel mode of one per
    # position (plus the shared stem and head)
    assert gumbel < full / 3


def test_latency_table_is_cached(
    space, data, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ARCHSEARCH_CACHE", str(tmp_path))
    plan = plan_supernet(space, data)
    first = op_costs(plan, "latency", torch.device("cpu"))
    (table,) = list(tmp_path.glob("latency-*.json"))
    entries = json.loads(table.read_text())
    assert len(entries) == 6 + 6  # each op at each position's input shape
    again = op_costs(plan, "latency", torch.device("cpu"))
    assert again == first  # read back, not re-measured


def test_latency_table_is_calibrated_on_whole_networks_once(
    space, data, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import archsearch.profiler as profiler

    monkeypatch.setenv("ARCHSEARCH_CACHE", str(tmp_path))
    plan = plan_supernet(space, data)
    table = latency_table(plan, torch.device("cpu"), networks=3)
    assert table.calibration > 0
    choice = [0] * len(plan.positions)
    summed = table.shared_ms + sum(row[0] for row in table.rows)
    assert table.predict_ms(choice) == pytest.approx(table.calibration * summed)
    measured: list[tuple[int, ...]] = []
    real = profiler.measure_latency

    def spy(model: torch.nn.Module, shape: tuple[int, ...], **kwargs: object) -> object:
        measured.append(shape)
        return real(model, shape, **kwargs)

    monkeypatch.setattr(profiler, "measure_latency", spy)
    again = latency_table(plan, torch.device("cpu"), networks=3)
    # the ops and the calibration are read back; only the shared stem and head are re-timed
    assert again.calibration == table.calibration and again.rows == table.rows
    assert len(measured) == 2


def test_the_latency_table_of_another_runtime_is_measured_there_and_kept_apart(
    space, data, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import archsearch.profiler as profiler
    from archsearch.profiler import LatencyResult

    monkeypatch.setenv("ARCHSEARCH_CACHE", str(tmp_path))
    backends: list[object] = []

    def fake(model: torch.nn.Module, shape: tuple[int, ...], **kwargs: object) -> object:
        backends.append(kwargs.get("backend"))  # what would be timed, and in which runtime
        return LatencyResult(
            1.0, 1.0, 1.0, 0.0, 1, 1, "inference", "cpu", "cpu", 1, 1, "float32", shape,
            "test", 1.0,
        )  # fmt: skip

    monkeypatch.setattr(profiler, "measure_latency", fake)
    monkeypatch.setattr("archsearch.deploy.runtime_version", lambda: "9.9")
    plan = plan_supernet(space, data)
    table = latency_table(plan, torch.device("cpu"), networks=2, backend="onnxruntime")
    # 12 ops + stem + head + 2 calibration networks, every one in ONNX Runtime
    assert backends == ["onnxruntime"] * (12 + 2 + 2)
    # each network measures 1 ms whole against stem + head (2 ms) + 0-2 ops of 1 ms summed
    assert 1 / 4 <= table.calibration <= 1 / 2
    (cache,) = tmp_path.glob("latency-*.json")
    assert "onnxruntime9-9" in cache.name  # not the torch table's file


def test_collapse_guard_stops_the_search(space, data) -> None:
    plan = plan_supernet(space, data)
    search = DartsSearch(
        plan,
        data,
        torch.device("cpu"),
        DartsConfig(epochs=5, warmup_epochs=0, max_skip=0, batch_size=32),
    )
    original = Supernet.__init__

    def skip_favoured(self: Supernet, plan, **options) -> None:
        original(self, plan, **options)
        with torch.no_grad():
            self.alphas[1][-1] += 5.0  # skip strongest at the second position

    Supernet.__init__ = skip_favoured  # type: ignore[method-assign]
    try:
        result = search.run()
    finally:
        Supernet.__init__ = original  # type: ignore[method-assign]
    assert len(result.history) == 1 and result.skips == [1]
    assert result.stopped.startswith("collapse guard (DARTS+)")


def test_derive_top_k_by_joint_probability() -> None:
    derived = most_likely([[0.6, 0.4], [0.1, 0.7, 0.2]], 3)
    assert [choice for choice, _ in derived] == [[0, 1], [1, 1], [0, 2]]
    assert derived[0][1] == pytest.approx(0.42)


def test_derived_networks_are_networks_of_the_space(space, data) -> None:
    # the space picks stage 1's block once for its (one or two) blocks: 6 ops x depth 1 or 2
    plan = plan_supernet(space, data)
    names = [[op.name for op in position.ops] for position in plan.positions]
    assert names[1] == [*names[0], SKIP]
    (options,) = stage_choices(plan)
    assert len(options) == 12 and (0, 0) in options and (0, 6) in options
    assert (0, 1) not in options  # two different blocks in one stage: not in the space
    # position 2 prefers op 1 and position 1 op 0: per position that network would win
    # (0.5 x 0.5 = 0.25); the space's most likely: op 0 twice, 0.5 x 0.3 = 0.15 (op 1
    # twice: 0.2 x 0.5 = 0.10; op 0 then skip: 0.5 x 0.05)
    first = [0.5, 0.2, 0.1, 0.1, 0.05, 0.05]
    second = [0.3, 0.5, 0.05, 0.05, 0.03, 0.02, 0.05]
    result = DartsResult(plan=plan, probabilities=[first, second])
    (best, probability), (runner_up, _) = result.derive(2)
    assert best == [0, 0] and probability == pytest.approx(0.15)
    assert runner_up == [1, 1]


def test_derive_front_by_hand() -> None:
    # two positions; a network costs 10 + its two ops. The six networks (cost, probability):
    # (0,0) 160 .42, (0,1) 110 .28, (1,0) 70 .12, (1,1) 20 .08, (2,0) 61 .06, (2,1) 11 .04.
    # Costs span [11, 160]; three equal log bins end at 11 x (160/11)^(1/3) = 26.8 and
    # 11 x (160/11)^(2/3) = 65.4: {11, 20}, {61}, {70, 110, 160}; the likeliest of each.
    probabilities = [[0.7, 0.2, 0.1], [0.6, 0.4]]
    costs = [[100.0, 10.0, 1.0], [50.0, 0.0]]
    front = derive_front(probabilities, costs, shared=10.0, bins=3)
    assert [(choice, cost) for choice, _, cost in front] == [
        ([1, 1], 20.0),
        ([2, 0], 61.0),
        ([0, 0], 160.0),
    ]
    assert [p for _, p, _ in front] == pytest.approx([0.08, 0.06, 0.42])
    # one bin: the most likely network of all; no spread of costs: the same
    assert [c for c, _, _ in derive_front(probabilities, costs, 10.0, bins=1)] == [[0, 0]]
    flat = [[5.0, 5.0, 5.0], [1.0, 1.0]]
    assert [c for c, _, _ in derive_front(probabilities, flat, 10.0, bins=4)] == [[0, 0]]
    # equally likely networks in one bin (α says nothing of widths): the dearer one
    items = [(0.0, 10.0, "narrow"), (0.0, 12.0, "wide"), (-1.0, 11.0, "unlikely")]
    assert best_per_bin(items, 1) == [(0.0, 12.0, "wide")]


@pytest.mark.parametrize("seed", range(5))
def test_derive_front_matches_every_network_tried(seed: int) -> None:
    # 6 positions x 4 ops: 4,096 networks, each costed and binned by brute force
    generator = random.Random(seed)
    probabilities = []
    for _ in range(6):
        raw = [generator.random() ** 3 for _ in range(4)]
        probabilities.append([r / sum(raw) for r in raw])
    costs = [[generator.choice([0.0, 1.0, 10.0]) * generator.uniform(1, 100) for _ in range(4)]]
    costs += [[generator.uniform(1, 1000) for _ in range(4)] for _ in range(5)]
    shared = 50.0
    totals = {
        choice: shared + sum(row[i] for row, i in zip(costs, choice, strict=True))
        for choice in itertools.product(range(4), repeat=6)
    }
    low, high = min(totals.values()), max(totals.values())
    best: dict[int, tuple[float, tuple[int, ...]]] = {}
    for choice, total in totals.items():
        key = min(5, int(math.log(total / low) / math.log(high / low) * 6))
        probability = math.prod(p[i] for p, i in zip(probabilities, choice, strict=True))
        best[key] = max(best.get(key, (0.0, ())), (probability, choice))
    front = derive_front(probabilities, costs, shared, bins=6)
    assert [tuple(c) for c, _, _ in front] == [choice for _, (_, choice) in sorted(best.items())]


def test_a_darts_run_with_a_cost_objective_retrains_a_front(tmp_path: Path) -> None:
    # the stage at 8 or 64 channels: the supernet holds it at 64, where every network costs
    # over 4 times the cheapest of the space (8 channels)
    wide = SPACE.replace("out_channels: {choices: [8, 16]}", "out_channels: {choices: [8, 64]}")
    config = darts_run(tmp_path, wide, darts_epochs=1, darts_front=3)  # accuracy, flops
    trials = completed(run_search(config).study)
    assert trials[0].user_attrs["darts"]["rank"] == 0  # the most likely network first
    front = [t for t in trials if "front_rank" in t.user_attrs["darts"]]
    assert 2 <= len(front) <= 3 and len(trials) <= 4  # 3 bins, one may hold the first
    flops = [record_of(t)["flops"] for t in front]
    assert flops == sorted(flops) and flops[0] < flops[-1]  # cheapest first, spread
    # the derivation's costs are the profiler's, network by network
    assert [t.user_attrs["darts"]["flops"] for t in front] == flops
    # the cheapest bin holds only narrow networks: the space's walk reaches widths the
    # supernet's α say nothing of
    cheapest = json.loads(record_of(front[0])["architecture"])
    assert cheapest["stages"][0][0]["out_channels"] == 8
    assert len({record_of(t)["arch_id"] for t in trials}) == len(trials)
    # run again: every derived network is in the study, none is trained twice
    again = completed(run_search(config).study)
    assert len(again) == len(trials)


def test_default_hyperparameters(space) -> None:
    hp = default_hyperparameters(space)
    assert hp["batch_size"] == 32 and hp["lr"] == pytest.approx((0.01 * 0.1) ** 0.5)
    assert "epochs" not in hp  # fixed in the space


def darts_run(tmp_path: Path, space_text: str = SPACE, **options: object) -> RunConfig:
    path = tmp_path / "darts.yaml"
    path.write_text(space_text)
    return RunConfig.from_options(
        space=str(path),
        dataset="synthetic",
        searcher="darts",
        name="d",
        runs_dir=str(tmp_path / "runs"),
        reports_dir=str(tmp_path / "reports"),
        device="cpu",
        **options,  # type: ignore[arg-type]
    )


def test_darts_run_is_recorded_like_any_trial(tmp_path: Path) -> None:
    config = darts_run(
        tmp_path, darts_epochs=2, derive_top=1, cost="latency", cost_weight=0.1, darts_front=0
    )
    result = run_search(config)
    trials = completed(result.study)
    assert len(trials) == 2
    best = trials[0]
    assert best.user_attrs["darts"]["rank"] == 0 and best.user_attrs["darts"]["mode"] == "full"
    history = best.user_attrs["alpha_history"]
    assert history["positions"] == ["stage1.block1", "stage1.block2"]
    assert len(history["epochs"]) == 2
    assert record_of(best)["latency_ms"] > 0 and best.user_attrs["darts"]["latency_table_ms"] > 0
    report = Path(result.files["report"]).read_text()
    assert 'id="alpha-' in report


def test_darts_run_keeps_to_its_wall_time_budget(tmp_path: Path) -> None:
    # timeout 1e-3 s: the search stops after its first epoch (of 5), and of the 1 + 2 derived
    # networks only the first is trained (Optuna checks the timeout between trials)
    result = run_search(darts_run(tmp_path, darts_epochs=5, derive_top=2, timeout=1e-3))
    trials = completed(result.study)
    assert len(trials) == 1
    darts = trials[0].user_attrs["darts"]
    assert len(darts["entropy"]) == 1
    assert darts["stopped"].startswith("wall-time budget: stopped after search epoch 1 of 5")


DARTS_KILLED = """\
import os, signal, sys, torch
from pathlib import Path
import archsearch
from archsearch.data import load_dataset
from archsearch.searchers.oneshot import DartsConfig, DartsSearch, plan_supernet

data = load_dataset("synthetic")
plan = plan_supernet(archsearch.load_space(sys.argv[1]), data)

def kill(epoch, result):
    if epoch == 1:  # after the second epoch's checkpoint
        os.kill(os.getpid(), signal.SIGKILL)

config = DartsConfig(epochs=3, warmup_epochs=1, batch_size=32)
device = torch.device(sys.argv[3])
DartsSearch(plan, data, device, config, kill, checkpoint=Path(sys.argv[2])).run()
"""


@pytest.mark.parametrize("device", DEVICES)
def test_darts_resumes_its_supernet_after_sigkill(space, data, tmp_path, device) -> None:
    import subprocess
    import sys

    space_file = tmp_path / "darts.yaml"  # the fixture's file
    checkpoint = tmp_path / "supernet.pt"
    script = tmp_path / "killed.py"
    script.write_text(DARTS_KILLED)
    done = subprocess.run(
        [sys.executable, str(script), str(space_file), str(checkpoint), device],
        env=same_threads(),
    )
    assert done.returncode == -9  # SIGKILL, after epoch 2 of 3
    plan = plan_supernet(space, data)
    config = DartsConfig(epochs=3, warmup_epochs=1, batch_size=32)
    resumed = DartsSearch(plan, data, torch.device(device), config, checkpoint=checkpoint).run()
    whole = DartsSearch(plan, data, torch.device(device), config).run()
    assert resumed.resumed_from == 2 and len(resumed.history) == 3

    # the same α after the third epoch as an uninterrupted search with the same seed
    def flat(history: list[list[list[float]]]) -> list[float]:
        return [w for epoch in history for position in epoch for w in position]

    assert flat(resumed.history) == pytest.approx(flat(whole.history), abs=1e-6)


COLLAPSE_SPACE = """\
name: collapse
input_sizes: [8]
stem: {out_channels: 8, kernel_size: 3}
stages:
  - out_channels: 8
    depth: {low: 1, high: 4}
    stride: 1
    block: {choices: [plain]}
    kernel_size: {choices: [3, 5]}
hyperparameters:
  lr: 0.05
  batch_size: 32
  epochs: 1
"""


@pytest.fixture
def collapse_plan(tmp_path: Path, data):
    path = tmp_path / "collapse.yaml"
    path.write_text(COLLAPSE_SPACE)
    return plan_supernet(archsearch.load_space(path), data)


def test_beta_decay_gradient_is_the_softmax(collapse_plan) -> None:
    from archsearch.searchers.oneshot.darts import beta_decay

    supernet = Supernet(collapse_plan)
    with torch.no_grad():
        for alpha in supernet.alphas:
            alpha.copy_(torch.arange(len(alpha), dtype=torch.float32))
    beta_decay(supernet).backward()
    # d/dα_k of mean_p log Σ exp(α) = softmax(α)_k / positions (4 positions here);
    # α = (0, 1, 2): softmax = (1, e, e²) / (1 + e + e²) = (0.090, 0.245, 0.665)
    expected = torch.softmax(torch.tensor([0.0, 1.0, 2.0]), 0) / 4
    assert torch.allclose(supernet.alphas[1].grad, expected)
    assert expected.tolist() == pytest.approx([0.0225, 0.0612, 0.1663], abs=1e-4)


def test_beta_darts_keeps_alpha_away_from_one_hot(collapse_plan, data) -> None:
    def search(**fix: float) -> DartsResult:
        config = DartsConfig(epochs=6, warmup_epochs=1, batch_size=32, arch_lr=0.1, **fix)
        return DartsSearch(collapse_plan, data, torch.device("cpu"), config).run()

    plain, beta = search(), search(beta_weight=1.0)
    # plain DARTS: one position's softmax nearly one-hot (measured: max 0.98); β-decay
    # keeps every position's largest weight near uniform (1/3 with skip, 1/2 without)
    assert max(max(p) for p in plain.history[-1]) > 0.9
    assert max(max(p) for p in beta.history[-1][1:]) < 0.4
    assert beta.entropy[-1] > plain.entropy[-1]


def test_darts_minus_adds_a_decaying_auxiliary_skip(collapse_plan, data) -> None:
    supernet = Supernet(collapse_plan).eval()
    x = torch.randn(2, 1, 8, 8)
    assert supernet.keeps_shape == [True, True, True, True]  # 8 -> 8 channels, stride 1
    with torch.no_grad():
        without = supernet(x)
        supernet.aux_weight = 1.0
        with_aux = supernet(x)
    assert not torch.allclose(without, with_aux)
    config = DartsConfig(epochs=3, warmup_epochs=1, batch_size=32, arch_lr=0.1)
    plain = DartsSearch(collapse_plan, data, torch.device("cpu"), config).run()
    minus_config = DartsConfig(epochs=3, warmup_epochs=1, batch_size=32, arch_lr=0.1, aux_skip=1.0)
    minus = DartsSearch(collapse_plan, data, torch.device("cpu"), minus_config).run()
    assert minus.history[-1] != plain.history[-1]  # α moves differently


def test_partial_channels_cut_the_supernets_activation_memory(collapse_plan, data) -> None:
    def saved_bytes(partial: int) -> int:
        supernet = Supernet(collapse_plan, partial_channels=partial).train()
        saved = [0]

        def pack(tensor: torch.Tensor) -> torch.Tensor:
            saved[0] += tensor.numel() * tensor.element_size()
            return tensor

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            loss = supernet(torch.randn(16, 1, 8, 8)).sum()
        loss.backward()
        return saved[0]

    full, partial = saved_bytes(1), saved_bytes(4)
    # every position keeps 8 channels: with K = 4, two run the 3 candidate ops, six bypass
    assert [m.partial for m in Supernet(collapse_plan, partial_channels=4).mixed] == [4] * 4
    assert partial < full / 2.5
    config = DartsConfig(epochs=2, warmup_epochs=1, batch_size=32, partial_channels=4, max_skip=3)
    result = DartsSearch(collapse_plan, data, torch.device("cpu"), config).run()
    assert len(result.history) == 2 and result.history[-1] != result.history[0]
