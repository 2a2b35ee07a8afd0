"""``archsearch bench tabulate``: a finite space's networks each trained once into a table —
killed and resumed, refused when not finite, the table's file read back as written."""

from __future__ import annotations

import gzip
import signal
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState
from typer.testing import CliRunner

from archsearch.bench.tabulate import (
    MAX_NETWORKS,
    TabulateConfig,
    read_table,
    spread,
    tabulate,
    write_table,
)
from archsearch.cli import app
from archsearch.errors import ArchsearchError, ConfigError
from archsearch.objective import Candidates
from archsearch.runs import RunConfig
from archsearch.runs._loop import distinct_points, search_grid
from archsearch.space import load_space, space_size

runner = CliRunner()

# 2 widths x 2 blocks x 2 SE x 2 expansions = 16 grid points; the expansion is an inverted
# residual's only, so 2 x (2 mbconv + 1 dwsep) x 2 = 12 distinct networks
FINITE = """\
name: tiny-finite
input_sizes: [8]
stem: {out_channels: 8, kernel_size: 3}
stages:
  - out_channels: {choices: [8, 16]}
    depth: 1
    stride: 2
    block: {choices: [mbconv, dwsep]}
    se: {choices: [false, true]}
    mbconv: {expansion: {choices: [3, 6]}}
hyperparameters:
  lr: 0.1
  batch_size: 32
  epochs: EPOCHS
  optimizer: sgd
"""


def finite_space(tmp_path: Path, epochs: int = 2) -> Path:
    path = tmp_path / "finite.yaml"
    path.write_text(FINITE.replace("EPOCHS", str(epochs)))
    return path


def config(tmp_path: Path, space: Path, **changes: object) -> TabulateConfig:
    base = RunConfig(space=str(space), dataset="synthetic", device="cpu")
    return TabulateConfig(base, out_dir=str(tmp_path / "tables"), **changes)  # type: ignore[arg-type]


def test_a_grid_keeps_one_point_per_distinct_network(tmp_path: Path) -> None:
    space = load_space(finite_space(tmp_path))
    candidates = Candidates(space=space)
    grid = search_grid(candidates)
    assert space_size(space) == len(list(__import__("itertools").product(*grid.values()))) == 16
    points = distinct_points(candidates, grid, (8, 8))
    assert len(points) == 12
    dwsep = [p for p in points if p["stage1.block"] == "dwsep"]
    assert len(dwsep) == 4 and {p["stage1.mbconv.expansion"] for p in dwsep} == {3}  # the first
    assert space_size(load_space("mobile")) is None  # lr and weight decay are continuous
    assert space_size(load_space("nb-mobile")) == 6**3 * 2 * 3 == 1_296


def test_show_prints_the_size(tmp_path: Path) -> None:
    finite = runner.invoke(app, ["show", "--space", str(finite_space(tmp_path)), "--sample", "1"])
    assert "size: 12 distinct networks and recipes (16 grid points)" in finite.stdout
    mobile = runner.invoke(app, ["show", "--space", "mobile", "--sample", "1"])
    assert "size: not finite (lr, weight_decay: continuous)" in mobile.stdout


def test_spread_takes_evenly_spaced_points() -> None:
    points = [{"n": i} for i in range(10)]
    assert [p["n"] for p in spread(points, 3)] == [0, 3, 6]  # 10 // 3 apart, from the first
    assert spread(points, 20) == points


def test_a_space_that_is_not_finite_or_too_large_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"'mobile' is not finite: lr, weight_decay"):
        tabulate(TabulateConfig(RunConfig(space="mobile", dataset="synthetic")))
    widths = ", ".join(str(8 + i) for i in range(32))
    wide = tmp_path / "wide.yaml"  # 32 x 32 x 2 x 2 x 3 x 2 = 24,576 points
    wide.write_text(
        f"""\
name: wide
input_sizes: [8]
stem: {{out_channels: {{choices: [{widths}]}}, kernel_size: 3}}
stages:
  - out_channels: {{choices: [{widths}]}}
    depth: 1
    stride: 2
    block: dwsep
    kernel_size: {{choices: [3, 5]}}
    se: {{choices: [false, true]}}
hyperparameters:
  lr: {{choices: [0.05, 0.1]}}
  batch_size: {{choices: [16, 32, 64]}}
  epochs: 1
"""
    )
    size = space_size(load_space(wide))
    assert size == 32 * 32 * 2 * 2 * 3 * 2 == 24_576 > MAX_NETWORKS
    with pytest.raises(ConfigError, match=f"has {size:,} points, more than the 20,000"):
        tabulate(config(tmp_path, wide))


KILLED = """\
import os, signal, sys
import archsearch.objective
from archsearch.cli import main

real_train, calls = archsearch.objective.train, []

def train(*args, **kwargs):  # killed in the fourth network's training: three are done
    calls.append(1)
    if len(calls) == 4:
        os.kill(os.getpid(), signal.SIGKILL)
    return real_train(*args, **kwargs)

archsearch.objective.train = train
sys.argv = ["archsearch", "bench", "tabulate", "--space", sys.argv[1], "--dataset", "synthetic",
            "--device", "cpu", "-o", sys.argv[2]]
main()
"""


def test_tabulating_is_killed_and_resumed(tmp_path: Path) -> None:
    space = finite_space(tmp_path, epochs=3)
    script = tmp_path / "tabulate.py"
    script.write_text(KILLED)
    out = tmp_path / "tables"
    done = subprocess.run([sys.executable, str(script), str(space), str(out)], check=False)
    assert done.returncode == -signal.SIGKILL
    database = out / "runs" / "finite-synthetic-s0" / "study.db"
    killed = optuna.load_study(study_name="finite-synthetic-s0", storage=f"sqlite:///{database}")
    before = {t.number: t.values for t in killed.get_trials(states=(TrialState.COMPLETE,))}
    assert sorted(before) == [0, 1, 2]
    assert [t.number for t in killed.get_trials(states=(TrialState.RUNNING,))] == [3]

    result = tabulate(config(tmp_path, space, repeat_seeds=(1,), repeat_count=3))  # continues
    assert result.networks == 12 and result.rows == 12 + 3
    table = read_table(str(result.table))
    frame = table.frame
    first = frame[frame.seed == 0]
    assert len(first) == 12 and first.arch_id.is_unique  # each network once, none lost
    # seed 1 trains 3 networks spread over the grid's order: its points 0, 4 and 8
    loaded = load_space(space)
    points = distinct_points(
        Candidates(space=loaded), search_grid(Candidates(space=loaded)), (8, 8)
    )
    spread_ids = [
        loaded.sample_architecture(optuna.trial.FixedTrial(points[i]), (8, 8)).id
        for i in (0, 4, 8)
    ]
    assert list(frame[frame.seed == 1].arch_id) == spread_ids
    assert table.epochs == 3 and frame[[f"val_{e}" for e in range(1, 4)]].notna().all().all()
    assert (frame[[f"sec_{e}" for e in range(1, 4)]] > 0).all().all()
    assert frame.test_accuracy.between(0, 1).all() and (frame.threads >= 1).all()
    assert set(frame.train_seed - frame.seed) <= set(range(13))  # trial numbers 0-12
    # the networks trained before the kill are the table's, not trained again
    study = result.runs[0].study
    assert {n: study.trials[n].values for n in before} == before
    assert table.meta["networks"] == 12 and table.meta["space"] == "tiny-finite"
    assert "hyperparameters:" in table.meta["space_yaml"]
    assert table.meta["seeds"] == [0] and table.meta["repeat_seeds"] == [1]


def test_a_table_reads_back_as_written_and_the_same_rows_give_the_same_bytes(
    tmp_path: Path,
) -> None:
    rows = [
        {"arch_id": "a", "flops": 10, "val_1": 0.5},
        {"arch_id": "b", "flops": 20, "val_1": 0.75},
    ]
    meta = {"format": 1, "name": "t", "networks": 2}
    write_table(tmp_path / "one.csv.gz", meta, rows)
    write_table(tmp_path / "two.csv.gz", meta, rows)
    assert (tmp_path / "one.csv.gz").read_bytes() == (tmp_path / "two.csv.gz").read_bytes()
    table = read_table(str(tmp_path / "one.csv.gz"))
    assert table.meta == meta and table.frame.to_dict("records") == rows and table.epochs == 1
    (tmp_path / "plain.csv.gz").write_bytes(gzip.compress(b"arch_id\na\n"))
    with pytest.raises(ArchsearchError, match="not an archsearch table"):
        read_table(str(tmp_path / "plain.csv.gz"))
    with pytest.raises(ArchsearchError, match="no shipped table of this name"):
        read_table("no-such-table")
