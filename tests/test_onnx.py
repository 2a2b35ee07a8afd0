"""ONNX: export through PyTorch's exporter, checked in ONNX Runtime; latency in ONNX Runtime
(profile, run, report); one clear message without the extra."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from archsearch import build_model, zoo
from archsearch.cli import app
from archsearch.errors import ArchsearchError
from archsearch.export import ONNX_TOLERANCE, export_onnx
from archsearch.profiler import measure_latency, profile_model
from archsearch.runs import run_search
from archsearch.study import completed, record_of
from tests.conftest import run_config

ort = pytest.importorskip(
    "onnxruntime", reason="the optional extra 'onnx' is not installed (CI installs it)"
)
pytest.importorskip("onnxscript", reason="the optional extra 'onnx' is not installed")

runner = CliRunner()


# the smallest inputs they take: AlexNet's 11x11/4 conv and three 3x3/2 pools need 63 px
SIDE = {"alexnet": 64}


# one zoo network per block family — plain, residual, bottleneck, squeeze-and-excitation,
# inception, depthwise-separable, inverted residual, ShuffleNetV2 unit — in every run; the rest
# of the zoo (the same blocks at other sizes) in the sweep, a second step of .ci/run
FAMILIES = (
    "lenet5", "resnet18", "resnet50", "se_resnet50", "googlenet", "mobilenet_v1",
    "mobilenet_v2", "shufflenet_v2_x0_5",
)  # fmt: skip


def test_the_families_cover_every_block_type_of_the_zoo() -> None:
    def types(name: str) -> set[str]:
        return {spec.type for _, _, spec in zoo.get(name).blocks()}

    assert set().union(*map(types, FAMILIES)) == set().union(*map(types, zoo.names()))


# every zoo network at a small input (32x32, grey for LeNet-5), 10 classes
@pytest.mark.parametrize(
    "name", [n if n in FAMILIES else pytest.param(n, marks=pytest.mark.sweep) for n in zoo.names()]
)
def test_every_zoo_network_round_trips_through_onnx_runtime(name: str, tmp_path: Path) -> None:
    channels, side = zoo.info(name).in_channels, SIDE.get(name, 32)
    torch.manual_seed(0)
    model = build_model(zoo.get(name), 10, channels).eval()
    path = tmp_path / "model.onnx"
    worst = export_onnx(model, torch.randn(2, channels, side, side), path)
    assert worst <= ONNX_TOLERANCE and path.stat().st_size > 0
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (x,) = session.get_inputs()
    assert (x.name, x.shape[1:]) == ("x", [channels, side, side])  # the batch stays free
    batch = torch.randn(3, channels, side, side)
    with torch.inference_mode():
        expected = model(batch).numpy()
    got = session.run(None, {"x": batch.numpy()})[0]
    assert got.shape == (3, 10) and abs(got - expected).max() <= ONNX_TOLERANCE


def test_onnxruntime_latency_is_measured_and_recorded() -> None:
    model = build_model(zoo.get("lenet5"), 10, 1)
    result = measure_latency(
        model, (4, 1, 32, 32), device="cpu", threads=1, backend="onnxruntime", repeats=3,
        min_repeat_s=0.005, warmup_s=0.01,
    )  # fmt: skip
    assert result.backend == "onnxruntime" and result.runtime_version == ort.__version__
    assert result.median_ms > 0 and result.batch == 4 and result.threads == 1
    assert 0 < result.cpu_share <= 1
    with pytest.raises(ArchsearchError, match="float32 inference on the CPU only"):
        measure_latency(model, (1, 1, 32, 32), device="cpu", backend="onnxruntime", train=True)
    with pytest.raises(ArchsearchError, match="latency backend 'tvm'"):
        measure_latency(model, (1, 1, 32, 32), device="cpu", backend="tvm")  # type: ignore[arg-type]


def test_profile_sweeps_batches_and_backends() -> None:
    result = profile_model(
        zoo.get("lenet5"), (1, 1, 32, 32), num_classes=10, latency=True, device="cpu",
        threads=1, latency_backends=("torch", "onnxruntime"), batches=(1, 8),
    )  # fmt: skip
    # batch-major: (1, torch), (1, onnxruntime), (8, torch), (8, onnxruntime)
    assert [(r.batch, r.backend) for r in result.latency_sweep] == [
        (1, "torch"), (1, "onnxruntime"), (8, "torch"), (8, "onnxruntime"),
    ]  # fmt: skip
    assert result.latency == result.latency_sweep[0]
    data = result.to_dict()
    assert [r["backend"] for r in data["latency_sweep"]] == ["torch", "onnxruntime"] * 2
    cli = runner.invoke(
        app,
        ["profile", "--model", "lenet5", "--input", "1x1x32x32", "--classes", "10", "--latency",
         "--device", "cpu", "--threads", "1", "--batch", "1,4", "--latency-backend",
         "torch,onnxruntime"],
        env={"COLUMNS": "160"},
    )  # fmt: skip
    assert cli.exit_code == 0, cli.output
    assert "Latency by batch and backend" in cli.stdout and "onnxruntime" in cli.stdout
    bad = runner.invoke(app, ["profile", "--model", "lenet5", "--latency-backend", "tvm"])
    assert bad.exit_code == 2 and "--latency-backend 'tvm' is not one of" in bad.output


def test_a_run_with_onnxruntime_latency(tmp_path: Path, tiny_space: Path) -> None:
    config = run_config(
        tmp_path, tiny_space, trials=2, objectives=("accuracy", "latency"),
        latency_backend="onnxruntime", latency_threads=1,
    )  # fmt: skip
    study = run_search(config).study
    trials = completed(study)
    assert len(trials) == 2
    assert all(record_of(t)["latency_ms"] > 0 for t in trials)
    assert study.user_attrs["config"]["latency_backend"] == "onnxruntime"
    # a rerun in the other backend would mix figures: refused, naming the option
    with pytest.raises(ArchsearchError, match="latency_backend"):
        run_search(run_config(tmp_path, tiny_space, trials=3, objectives=("accuracy", "latency")))


def test_export_writes_a_checked_onnx_file(tmp_path: Path, tiny_space: Path) -> None:
    result = run_search(run_config(tmp_path, tiny_space, trials=1))
    out = tmp_path / "exported"
    cli = runner.invoke(
        app, ["export", str(result.run_dir), "--best", "--format", "onnx", "-o", str(out)],
        env={"COLUMNS": "160"},
    )  # fmt: skip
    assert cli.exit_code == 0, cli.output
    assert (out / "model.onnx").is_file() and (out / "model.pt2").is_file()
    assert "ONNX Runtime vs PyTorch: max |logit difference|" in cli.stdout
    profile = json.loads((out / "profile.json").read_text())
    assert profile["matches_study"] is True and profile["onnx_max_abs_diff"] <= ONNX_TOLERANCE


def test_report_ranks_latency_in_each_backend(tmp_path: Path) -> None:
    from archsearch.report import get_rank_info
    from tests.report.conftest import make_study

    study = make_study(6, statuses=False)
    info = get_rank_info(study, measure=3, device="cpu", backend="onnxruntime")
    assert info is not None and info.backend == "onnxruntime" and len(info.numbers) == 3
    assert info.source == "measured for this report on cpu"


def test_without_the_extra_one_message_names_the_pip_command(monkeypatch, tmp_path) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import now raises ImportError
    model = build_model(zoo.get("lenet5"), 10, 1)
    with pytest.raises(ArchsearchError, match=r"onnxruntime: pip install 'archsearch\[onnx\]'"):
        export_onnx(model, torch.randn(2, 1, 32, 32), tmp_path / "m.onnx")
    cli = runner.invoke(
        app, ["profile", "--model", "lenet5", "--latency", "--latency-backend", "onnxruntime"]
    )
    assert cli.exit_code == 2 and "pip install 'archsearch[onnx]'" in cli.output
