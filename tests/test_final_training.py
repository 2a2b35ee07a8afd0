"""`archsearch train`: a chosen network trained to the end, resumed after SIGKILL to the same
weights, with its split, warm-up, EMA and files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from archsearch.architecture import Architecture, BlockSpec, Head
from archsearch.cli import app
from archsearch.data import load_dataset
from archsearch.errors import ArchsearchError, ConfigError
from archsearch.runs import FinalConfig, RunConfig, run_search, train_final
from archsearch.runs.final import choose, final_data, final_train_config
from archsearch.study import completed, record_of
from tests.conftest import DEVICES, same_threads

# small, with dropout in the head: the resumed run must also restore the global RNG
ARCH = Architecture(
    stem=(BlockSpec.make("plain", 8, 1),),
    stages=((BlockSpec.make("dwsep", 16, 2), BlockSpec.make("mbconv", 16, 1, expansion=3)),),
    head=Head(dropout=0.3),
)


@pytest.fixture
def arch_file(tmp_path: Path) -> Path:
    path = tmp_path / "arch.json"
    path.write_text(ARCH.to_json())
    return path


def config(arch_file: Path, out: Path, **fields: object) -> FinalConfig:
    options: dict[str, object] = dict(
        arch=str(arch_file), dataset="synthetic", epochs=4, ema_decay=0.9, device="cpu",
        output=str(out), seed=3,
    )  # fmt: skip
    return FinalConfig(**{**options, **fields})  # type: ignore[arg-type]


KILLED = """
import os, signal, sys
from pathlib import Path
from archsearch.runs import FinalConfig, train_final

def kill(result, epochs):
    if result.epochs == 2:  # after the second epoch's checkpoint
        os.kill(os.getpid(), signal.SIGKILL)

train_final(FinalConfig(arch=sys.argv[1], dataset="synthetic", epochs=4, ema_decay=0.9,
                        device=sys.argv[3], output=sys.argv[2], seed=3), on_progress=kill)
"""


@pytest.mark.parametrize("device", DEVICES)
def test_killed_training_resumes_to_the_uninterrupted_weights(arch_file, tmp_path, device) -> None:
    script = tmp_path / "killed.py"
    script.write_text(KILLED)
    killed = tmp_path / "killed"
    done = subprocess.run(
        [sys.executable, str(script), str(arch_file), str(killed), device], env=same_threads()
    )
    assert done.returncode == -9  # SIGKILL
    assert torch.load(killed / "checkpoint.pt", weights_only=True)["epoch"] == 2  # no pickle
    assert not (killed / "weights.pt").exists()

    resumed = train_final(config(arch_file, killed, device=device))  # the same call again
    assert resumed.resumed_from == 2 and resumed.epochs == 4
    whole = train_final(config(arch_file, tmp_path / "whole", device=device))
    assert whole.resumed_from == 0
    for name in ("weights.pt", "weights_ema.pt"):
        a = torch.load(killed / name, weights_only=True)
        b = torch.load(tmp_path / "whole" / name, weights_only=True)
        assert a.keys() == b.keys()
        for key in a:
            assert torch.allclose(a[key].float(), b[key].float(), atol=1e-6), (name, key)
    assert resumed.test_accuracy == whole.test_accuracy
    curves = (killed / "curves.csv").read_text().splitlines()
    assert curves[0] == "epoch,loss,test_accuracy,ema_test_accuracy" and len(curves) == 5
    assert curves == (tmp_path / "whole" / "curves.csv").read_text().splitlines()


def test_a_checkpoint_of_other_options_starts_over(arch_file, tmp_path) -> None:
    train_final(config(arch_file, tmp_path, epochs=1))
    messages: list[str] = []
    result = train_final(config(arch_file, tmp_path, epochs=2), on_message=messages.append)
    assert result.resumed_from == 0 and result.epochs == 2
    assert messages == [f"{tmp_path / 'checkpoint.pt'}: of another training (other options);"
                        " started over"]  # fmt: skip


def test_train_plus_val_trains_on_both_and_reports_the_test_split(arch_file, tmp_path) -> None:
    data = load_dataset("synthetic", seed=3)
    cfg = config(arch_file, tmp_path)
    merged = final_data(choose(cfg), cfg)
    # synthetic: 4 classes x 100 = 400 images, 80 for test, 320 for training, of which 20%
    # validation: 256 + 64
    assert (len(data.y_train), len(data.y_val), len(data.y_test)) == (256, 64, 80)
    assert len(merged.y_train) == 320 and torch.equal(merged.y_val, data.y_test)
    apart = config(arch_file, tmp_path, split="train")
    kept = final_data(choose(apart), apart)
    assert len(kept.y_train) == 256 and torch.equal(kept.y_val, data.y_val)


def test_schedule_warmup_and_overrides(arch_file, tmp_path) -> None:
    chosen = choose(config(arch_file, tmp_path))
    # 5% of 30 epochs = 1.5, rounded to 2; at least 1 for short trainings
    assert final_train_config(chosen, config(arch_file, tmp_path, epochs=30)).warmup_epochs == 2
    assert final_train_config(chosen, config(arch_file, tmp_path, epochs=4)).warmup_epochs == 1
    given = config(arch_file, tmp_path, hyperparameters={"lr": 0.2, "init": "kaiming"})
    train_config = final_train_config(chosen, given)
    assert (train_config.lr, train_config.init, train_config.schedule) == (
        0.2,
        "kaiming",
        "cosine",
    )
    with pytest.raises(ConfigError, match=r"set momentum.*a number in \[0, 1\), got 2"):
        config(arch_file, tmp_path, hyperparameters={"momentum": 2})
    with pytest.raises(ConfigError, match="exactly one of --run, --arch or --model"):
        FinalConfig(arch=str(arch_file), model="lenet5")


def test_ema_is_trained_evaluated_and_saved(arch_file, tmp_path) -> None:
    result = train_final(config(arch_file, tmp_path, epochs=3))
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["ema_decay"] == 0.9 and summary["epochs"] == 3
    assert result.ema_test_accuracy is not None and 0.0 <= result.ema_test_accuracy <= 1.0
    model = torch.load(tmp_path / "weights.pt", weights_only=True)
    ema = torch.load(tmp_path / "weights_ema.pt", weights_only=True)
    assert not torch.equal(model["stem.0.conv.conv.weight"], ema["stem.0.conv.conv.weight"])
    # params of the architecture at 8x8, 4 classes, as the profiler counts them
    assert result.params == summary["params"] > 0 and (tmp_path / "architecture.json").is_file()
    assert Architecture.from_json((tmp_path / "architecture.json").read_text()) == ARCH


def test_the_best_trial_of_a_run_is_trained_with_its_hyperparameters(tmp_path) -> None:
    run = RunConfig(
        dataset="synthetic", searcher="random", trials=3, epochs=1, device="cpu", name="r",
        runs_dir=str(tmp_path / "runs"), reports_dir=str(tmp_path / "reports"), proxies=(),
    )  # fmt: skip
    study = run_search(run).study
    best = max(completed(study), key=lambda t: t.values[0])
    cfg = FinalConfig(run="r", objective="accuracy", runs_dir=str(tmp_path / "runs"), epochs=1,
                      device="cpu", output=str(tmp_path / "out"))  # fmt: skip
    chosen = choose(cfg)
    assert chosen.source == f"r trial {best.number}" and chosen.dataset == "synthetic"
    assert chosen.hyperparameters == record_of(best)["hyperparameters"]
    train_config = final_train_config(chosen, cfg)
    assert train_config.lr == record_of(best)["hyperparameters"]["lr"]
    result = CliRunner().invoke(
        app,
        ["train", "--run", "r", "--trial", str(best.number), "--epochs", "1", "--device", "cpu",
         "--runs-dir", str(tmp_path / "runs"), "-o", str(tmp_path / "cli")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"r trial {best.number}: 1 epochs on cpu" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--run", "r"], "--trial: with --run give one of --trial N or --best"),
        (["--model", "lenet5", "--set", "lr"], "--set: expected KEY=VALUE, got 'lr'"),
        (["--model", "lenet5", "--set", "speed=3"], "--set speed: unknown hyperparameter"),
        (["--model", "lenet5", "--split", "all"], "--split 'all' is not one of train+val, train"),
    ],
)
def test_bad_flags_exit_2_with_one_message(args: list[str], message: str, tmp_path) -> None:
    result = CliRunner().invoke(app, ["train", *args, "-o", str(tmp_path)])
    assert result.exit_code == 2 and message in result.output, result.output


class _Payload:
    """What a hostile checkpoint.pt holds: unpickled, it would run a command."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_checkpoint_that_is_a_pickle_of_code_is_refused_and_runs_nothing(
    arch_file, tmp_path
) -> None:
    out, marker = tmp_path / "out", tmp_path / "pwned"
    out.mkdir()
    torch.save({"signature": "x", "epoch": 1, "payload": _Payload(marker)}, out / "checkpoint.pt")
    with pytest.raises(
        ArchsearchError, match=r"checkpoint.pt: not a checkpoint of this archsearch"
    ):
        train_final(config(arch_file, out))
    result = CliRunner().invoke(
        app, ["train", "--arch", str(arch_file), "--dataset", "synthetic", "--epochs", "1",
              "--device", "cpu", "-o", str(out)],
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "nothing in it was run" in " ".join(result.stderr.split())
    assert "Traceback" not in result.output
    assert not marker.exists()
    # a file that is no checkpoint at all: one message too
    (out / "checkpoint.pt").write_bytes(b"not a zip file")
    with pytest.raises(ArchsearchError, match=r"checkpoint.pt: not a readable checkpoint"):
        train_final(config(arch_file, out))
