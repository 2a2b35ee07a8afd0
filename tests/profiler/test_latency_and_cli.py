"""Latency measurement (CPU here, CUDA under its marker) and the profile/bench commands."""

from __future__ import annotations

import json

import pytest
import torch
from typer.testing import CliRunner

import archsearch
from archsearch import build_model, zoo
from archsearch.bench.guidelines import guideline_networks, run_guideline_benchmarks
from archsearch.cli import app
from archsearch.profiler import measure_latency, profile_model
from archsearch.profiler.counter import count

runner = CliRunner()


def test_cpu_latency_reports_its_conditions() -> None:
    model = build_model(zoo.get("shufflenet_v2_x0_5"), 10)
    result = measure_latency(
        model, (2, 3, 32, 32), device="cpu", threads=1, repeats=5, min_repeat_s=0.01, warmup_s=0.01
    )
    assert result.device == "cpu" and result.threads == 1 and result.batch == 2
    assert result.dtype == "float32" and result.torch_version == torch.__version__
    assert 0 < result.median_ms <= result.p90_ms
    assert result.cv >= 0 and result.repeats == 5 and result.iterations >= 1
    assert 0 < result.cpu_share <= 1
    assert not model.training  # inference mode measured in eval


def test_training_step_latency() -> None:
    model = build_model(zoo.get("shufflenet_v2_x0_5"), 10)
    result = measure_latency(
        model,
        (2, 3, 32, 32),
        device="cpu",
        train=True,
        repeats=3,
        min_repeat_s=0.01,
        warmup_s=0.01,
    )
    assert result.mode == "train" and result.median_ms > 0


def test_cuda_requested_without_cuda_is_a_clear_error() -> None:
    if torch.cuda.is_available():
        pytest.skip("CUDA is present")
    with pytest.raises(archsearch.ArchsearchError, match="CUDA is not available"):
        measure_latency(torch.nn.Conv2d(3, 3, 1), (1, 3, 8, 8), device="cuda")


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_latency_with_events() -> None:
    model = build_model(zoo.get("resnet18"), 1000)
    result = measure_latency(model, (8, 3, 224, 224), device="cuda", repeats=10)
    assert result.device.startswith("cuda") and result.cpu_share is None
    assert 0 < result.median_ms <= result.p90_ms
    assert result.cv < 0.2
    bf16 = measure_latency(model, (8, 3, 224, 224), device="cuda", dtype="bfloat16", repeats=5)
    assert bf16.dtype == "bfloat16"
    timed = profile_model(model, (8, 3, 224, 224), latency=True, device="cuda")
    assert abs(sum(timed.time_shares.values()) - 1) < 1e-6


def test_profile_with_latency() -> None:
    arch = archsearch.load_space("mobile").sample(1, seed=2, input_size=28)[0]
    result = profile_model(
        arch, (1, 1, 28, 28), num_classes=10, latency=True, device="cpu", threads=1
    )
    assert result.latency is not None and result.latency.threads == 1
    data = result.to_dict()
    assert data["latency_ms"] == result.latency.median_ms
    assert "elementwise_time_share" in data["summary"]


def test_cli_profile_json_keys() -> None:
    result = runner.invoke(
        app, ["profile", "--model", "resnet18", "--input", "1x3x64x64", "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert {"params", "flops", "mac", "units", "findings", "by_operator"} <= set(data)
    assert data["params"] == 11_689_512
    assert data["flops"] == profile_model(zoo.get("resnet18"), (1, 3, 64, 64)).flops
    assert "multiply-adds" in data["units"]["flops"]


def test_cli_profile_latency_json_and_space() -> None:
    result = runner.invoke(
        app,
        [
            "profile",
            "--space",
            "mobile",
            "--seed",
            "3",
            "--input",
            "1x3x32x32",
            "--latency",
            "--device",
            "cpu",
            "--threads",
            "1",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["latency_ms"] > 0 and data["latency_cv"] >= 0
    arch = archsearch.load_space("mobile").sample(1, seed=3, input_size=(32, 32))[0]
    assert data["id"] == arch.id


def test_cli_profile_arch_file_and_table(tmp_path) -> None:
    path = tmp_path / "arch.json"
    path.write_text(zoo.get("mobilenet_v2").to_json(indent=2))
    result = runner.invoke(
        app, ["profile", "--arch", str(path), "--per-layer"], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 0, result.output
    assert "By operator kind" in result.stdout and "stages.1.0" in result.stdout
    assert "G1" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "resnet18", "--input", "3x224"], "expected N x C x H x W"),
        (["--model", "nope"], "unknown zoo model"),
        (["--arch", "missing.json"], "missing.json: file not found"),
        (["--model", "vgg16", "--input", "1x3x16x16"], "would shrink to 0x0"),
        ([], "give exactly one of --model, --arch or --space"),
    ],
)
def test_cli_profile_bad_input_exits_2(args: list[str], message: str) -> None:
    result = runner.invoke(app, ["profile", *args])
    assert result.exit_code == 2
    assert message in " ".join(result.stderr.split())


def test_guideline_benchmark_variants_have_equal_flops() -> None:
    for table, variants in guideline_networks(64).items():
        flops = [
            sum(r.cost.flops for r in count(net, torch.empty(1, c, 16, 16)).records)
            for _, net, c in variants
        ]
        if table == "G4":
            assert len(set(flops)) == 1  # ReLU and shortcut are not multiply-adds
        else:
            assert max(flops) / min(flops) < 1.07, (table, flops)


def test_guideline_benchmarks_run() -> None:
    tables = run_guideline_benchmarks("cpu", threads=1, base=16, size=8, rounds=1, repeats=3)
    assert [t.guideline for t in tables] == ["G1", "G2", "G3", "G4"]
    for t in tables:
        assert t.rows[0].relative == 1.0 and all(r.images_per_s > 0 for r in t.rows)
    assert tables[0].rows[-1].paper_relative == pytest.approx(748 / 1480)
    result = runner.invoke(app, ["bench", "guidelines", "--help"])
    assert result.exit_code == 0 and "Example: archsearch bench guidelines" in result.stdout
