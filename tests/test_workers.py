"""Several workers on one study (local SQLite here): the budget is reached, a worker killed
with SIGKILL mid-trial loses only its trial, which another worker retries."""

from __future__ import annotations

from pathlib import Path

import optuna
from typer.testing import CliRunner

from archsearch.cli import app
from archsearch.run import RunConfig, run_search
from archsearch.study import completed
from tests.worker_scenario import kill_one_worker_mid_trial

runner = CliRunner()


def test_run_with_two_local_workers(tmp_path: Path, tiny_space: Path) -> None:
    result = runner.invoke(
        app,
        [
            "run",
            "--space",
            str(tiny_space),
            "--dataset",
            "synthetic",
            "--trials",
            "6",
            "--workers",
            "2",
            "--searcher",
            "random",
            "--name",
            "w",
            "--device",
            "cpu",
            "--runs-dir",
            str(tmp_path / "runs"),
            "--reports-dir",
            str(tmp_path / "reports"),
        ],
        env={"COLUMNS": "160"},
    )
    assert result.exit_code == 0, result.output
    study = optuna.load_study(
        study_name="w", storage=f"sqlite:///{tmp_path / 'runs' / 'w' / 'study.db'}"
    )
    done = completed(study)
    # each worker stops once the budget is met: at most one extra trial per other worker
    assert 6 <= len(done) <= 7
    assert len({t.number for t in done}) == len(done)
    assert (tmp_path / "reports" / "w.html").is_file()


def test_killed_worker_trial_is_retried(tmp_path: Path, tiny_space: Path) -> None:
    config = RunConfig(
        space=str(tiny_space),
        dataset="synthetic",
        searcher="random",
        name="k",
        trials=1,
        epochs=120,
        device="cpu",
        runs_dir=str(tmp_path / "runs"),
        reports_dir=str(tmp_path / "reports"),
    )
    first = run_search(config)  # creates the study; the workers read everything from it
    kill_one_worker_mid_trial(first.storage, "k", tmp_path, count=2, trials=5)


def test_worker_errors(tmp_path: Path, tiny_space: Path) -> None:
    first = run_search(
        RunConfig(
            space=str(tiny_space),
            dataset="synthetic",
            name="e",
            trials=1,
            device="cpu",
            runs_dir=str(tmp_path / "runs"),
            reports_dir=str(tmp_path / "reports"),
        )
    )
    missing = runner.invoke(app, ["worker", "--storage", first.storage, "--study", "nope"])
    assert missing.exit_code == 2 and "no such study" in missing.stderr
    bad_url = runner.invoke(
        app, ["worker", "--storage", "mysql://x@127.0.0.1:1/none", "--study", "e"]
    )
    assert bad_url.exit_code == 2 and "storage" in bad_url.stderr
