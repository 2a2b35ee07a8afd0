"""End-to-end runs on synthetic data: every searcher, constraints, failures, resume, tune,
export."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

import archsearch.objective
from archsearch.cli import app
from archsearch.errors import ArchsearchError
from archsearch.runs import RunConfig, RunResult, run_search
from archsearch.runs.config import GROUPED
from archsearch.searchers.guided import PROPOSAL_ATTR
from archsearch.study import completed, record_of, status_counts
from tests.conftest import run_config

runner = CliRunner()


config = run_config


@pytest.mark.parametrize("searcher", ["random", "tpe", "nsga2", "grid"])
def test_each_searcher_end_to_end(tmp_path: Path, tiny_space: Path, searcher: str) -> None:
    trials = 4 if searcher == "grid" else 3
    result = run_search(config(tmp_path, tiny_space, searcher=searcher, trials=trials))
    study = result.study
    assert len(completed(study)) == trials
    assert study.metric_names == ["accuracy", "flops"]
    assert [d.name for d in study.directions] == ["MAXIMIZE", "MINIMIZE"]
    if searcher == "grid":  # out_channels x block = 2 x 2 points, each evaluated once
        points = {
            (t.params["stage1.out_channels"], t.params["stage1.block"]) for t in completed(study)
        }
        assert len(points) == 4
    for trial in completed(study):
        # the record is two storage writes, what training needs and what it produced (no
        # proxies' scores in between: none are recorded by default)
        grid_attrs = {"grid_point"} if searcher == "grid" else set()
        assert set(trial.user_attrs) == {"candidate", "result", *grid_attrs}
        attrs = record_of(trial)
        assert attrs["status"] == "ok" and len(attrs["val_curve"]) == 2
        assert trial.values == [attrs["val_accuracy"], attrs["flops"]]
        assert (result.run_dir / "weights" / f"trial_{trial.number}.pt").is_file()
    pareto = {row["number"] for row in result.pareto}
    assert pareto == {t.number for t in study.best_trials}
    assert all(row["test_accuracy"] is not None for row in result.pareto)
    csv = pd.read_csv(result.files["trials_csv"])
    assert list(csv["number"]) == [t.number for t in study.trials]
    assert list(csv["flops (multiply-adds)"]) == [record_of(t)["flops"] for t in study.trials]


def test_grid_too_large_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ArchsearchError, match=r"the grid has [\d,]+ points, more than"):
        run_search(
            RunConfig(
                space="mobile",
                dataset="synthetic",
                searcher="grid",
                runs_dir=str(tmp_path),
                trials=10,
            )
        )


def test_constraints_are_checked_before_training(tmp_path: Path, tiny_space: Path) -> None:
    # only dwsep at 8 channels (6,816 multiply-adds) fits; dwsep at 16 (7,872) and mbconv do not
    result = run_search(
        config(tmp_path, tiny_space, searcher="random", trials=2, max_flops=7_000, seed=1)
    )
    study = result.study
    infeasible = [t for t in study.trials if record_of(t).get("status") == "infeasible"]
    assert infeasible, "expected some candidates over the budget"
    for trial in infeasible:
        assert trial.state == optuna.trial.TrialState.PRUNED
        assert record_of(trial)["flops"] > 7_000
        assert "val_accuracy" not in record_of(trial)  # never trained
        assert not (result.run_dir / "weights" / f"trial_{trial.number}.pt").exists()
        assert record_of(trial)["reason"] == "over budget: max_flops"
    assert all(record_of(t)["flops"] <= 7_000 for t in completed(study))
    assert result.counts["infeasible"] == len(infeasible)


def test_failures_are_recorded_and_the_search_goes_on(
    tmp_path: Path, tiny_space: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_build = archsearch.objective.build_model
    calls = {"n": 0}

    class NaNHead(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.inner(x) * float("nan")

    class OutOfMemory(NaNHead):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if x.is_meta:  # the static profile runs on the meta device: no memory to run out of
                return self.inner(x)
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")

    def build(*args: object, **kwargs: object) -> torch.nn.Module:
        calls["n"] += 1
        model = real_build(*args, **kwargs)
        return {1: NaNHead, 2: OutOfMemory}.get(calls["n"], lambda m: m)(model)

    monkeypatch.setattr(archsearch.objective, "build_model", build)
    result = run_search(config(tmp_path, tiny_space, searcher="random", trials=2))
    failed = [t for t in result.study.trials if t.state == optuna.trial.TrialState.FAIL]
    reasons = sorted(t.user_attrs["reason"] for t in failed)
    assert reasons == ["loss became nan in epoch 1", "out of memory on cpu"]
    assert len(completed(result.study)) == 2
    assert status_counts(result.study)["failed"] == 2


def test_changed_options_do_not_resume_silently(tmp_path: Path, tiny_space: Path) -> None:
    run_search(config(tmp_path, tiny_space, trials=1))
    with pytest.raises(
        ArchsearchError,
        match=r"already exists .* with different options"
        r" \(objectives\)",
    ):
        run_search(config(tmp_path, tiny_space, trials=1, objectives=("accuracy",)))
    again = run_search(config(tmp_path, tiny_space, trials=2))  # same options: continues
    assert len(completed(again.study)) == 2


def _poll(db: Path, query: str) -> int:
    """One count from a run's SQLite file, read-only: polling must neither create the file nor
    hold a lock the run waits on."""
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=0.05) as connection:
            return int(connection.execute(query).fetchone()[0])
    except sqlite3.Error:  # tables not created yet, or the run holds the write lock
        return 0


def _completed_count(db: Path) -> int:
    return _poll(db, "SELECT count(*) FROM trials WHERE state = 'COMPLETE'")


def _running_trial_in_training(db: Path) -> int:
    """Running trials whose candidate record is written: what comes next is training."""
    return _poll(
        db,
        "SELECT count(*) FROM trials JOIN trial_user_attributes USING (trial_id)"
        " WHERE trials.state = 'RUNNING' AND trial_user_attributes.key = 'candidate'",
    )


def run_command(
    space: Path,
    tmp_path: Path,
    name: str,
    trials: int,
    epochs: int = 6,
    searcher: tuple[str, ...] = ("random",),
) -> list[str]:
    """`archsearch run` in a subprocess on synthetic data: ``searcher`` (its name, then any
    of its flags), random search unless given."""
    return [
        sys.executable,
        "-m",
        "archsearch",
        "run",
        "--space",
        str(space),
        "--dataset",
        "synthetic",
        "--trials",
        str(trials),
        "--name",
        name,
        "--runs-dir",
        str(tmp_path / "runs"),
        "--reports-dir",
        str(tmp_path / "reports"),
        "--searcher",
        *searcher,
        "--pruner",
        "none",
        "--device",
        "cpu",
        "--epochs",
        str(epochs),
    ]


def test_resume_after_sigkill(tmp_path: Path, tiny_space: Path) -> None:
    runs = tmp_path / "runs"
    # 60 epochs: about a second of training per trial, so the kill lands inside one. The
    # default searcher, local search, proposing around the front from its third trial on
    # (its proposals are sampler state: a resumed process must rebuild them from the study)
    local = ("local", "--guided-startup", "2")
    command = run_command(tiny_space, tmp_path, "k", 5, epochs=60, searcher=local)
    db = runs / "k" / "study.db"
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (
        _completed_count(db) >= 2 and _running_trial_in_training(db)
    ):
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    study = optuna.load_study(study_name="k", storage=f"sqlite:///{db}")
    before = {t.number: t.values for t in completed(study)}
    assert len(before) >= 2
    assert len(before) < 5, "the run finished before it could be killed"
    running = [t.number for t in study.trials if t.state == optuna.trial.TrialState.RUNNING]
    assert running, "killed between trials, not mid-training"

    finished = subprocess.run(command, capture_output=True, text=True, check=False)
    assert finished.returncode == 0, finished.stderr
    study = optuna.load_study(study_name="k", storage=f"sqlite:///{db}")
    after = completed(study)
    assert len(after) == 5
    assert {t.number: t.values for t in after if t.number in before} == before
    rules = [t.system_attrs.get(PROPOSAL_ATTR, {}).get("rule") for t in study.trials]
    assert "local" in rules, rules  # not only the start-up's cost bins
    for number in running:  # the killed trial: failed, then retried with its parameters
        killed = study.trials[number]
        assert killed.state == optuna.trial.TrialState.FAIL
        assert killed.user_attrs["reason"] == "interrupted (process died)"
        retries = [t for t in study.trials if t.user_attrs.get("retry_of") == number]
        assert len(retries) == 1 and retries[0].params == killed.params


@pytest.mark.parametrize("workers", ["1", "2"])
def test_ctrl_c_stops_cleanly(tmp_path: Path, tiny_space: Path, workers: str) -> None:
    # one process, or two worker processes under the run (the default on 2 cores): Ctrl-C
    # reaches the workers, and the run recovers what they leave
    runs = tmp_path / "runs"
    command = [*run_command(tiny_space, tmp_path, "c", 500), "--workers", workers]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # SIGINT as in a terminal, even where the shell started pytest in the background
        # (which hands it on ignored)
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 120
    while _completed_count(runs / "c" / "study.db") < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert process.poll() is None, "the run ended before Ctrl-C was pressed"
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr[-3000:]
    assert "run the same command again to continue" in " ".join(stderr.split())
    assert "Traceback" not in stderr
    study = optuna.load_study(study_name="c", storage=f"sqlite:///{runs / 'c' / 'study.db'}")
    assert not [t for t in study.trials if t.state == optuna.trial.TrialState.RUNNING]
    # the trial Ctrl-C stopped (in training, or while being asked for or told) is failed with
    # its reason and queued again with its parameters
    stopped = [t for t in study.trials if t.state == optuna.trial.TrialState.FAIL]
    waiting = study.get_trials(states=(optuna.trial.TrialState.WAITING,))
    assert [record_of(t)["reason"] for t in stopped] == ["interrupted (Ctrl-C)"] * len(stopped)
    assert sorted(t.user_attrs["retry_of"] for t in waiting) == [t.number for t in stopped]


def test_cli_run_prints_the_pareto_front(tmp_path: Path, tiny_space: Path) -> None:
    result = runner.invoke(
        app,
        [
            "run",
            "--space",
            str(tiny_space),
            "--dataset",
            "synthetic",
            "--trials",
            "2",
            "--runs-dir",
            str(tmp_path / "runs"),
            "--reports-dir",
            str(tmp_path / "reports"),
            "--name",
            "cli",
            "--objectives",
            "accuracy,params,mac",
            "--device",
            "cpu",
        ],
        env={"COLUMNS": "160"},
    )
    assert result.exit_code == 0, result.output
    assert "Pareto-optimal candidates" in result.stdout
    assert "2 completed" in result.stdout
    study = optuna.load_study(
        study_name="cli", storage=f"sqlite:///{tmp_path / 'runs' / 'cli' / 'study.db'}"
    )
    assert study.metric_names == ["accuracy", "params", "mac"]


def test_record_of_reads_grouped_and_flat_trials() -> None:
    grouped = optuna.trial.create_trial(
        value=0.9,
        user_attrs={
            "candidate": {"flops": 10, "arch_id": "a"},
            "result": {"status": "ok", "val_accuracy": 0.9},
            "retry_of": 3,
        },
    )
    flat = optuna.trial.create_trial(  # a study written before records were grouped
        value=0.9, user_attrs={"flops": 10, "arch_id": "a", "status": "ok", "val_accuracy": 0.9}
    )
    expected = {"flops": 10, "arch_id": "a", "status": "ok", "val_accuracy": 0.9}
    assert record_of(grouped) == {**expected, "retry_of": 3}
    assert record_of(flat) == expected
    failed = optuna.trial.create_trial(  # a failure's status overrides the candidate's
        state=optuna.trial.TrialState.FAIL,
        user_attrs={"candidate": {"flops": 10}, "status": "failed", "reason": "nan"},
    )
    assert record_of(failed) == {"flops": 10, "status": "failed", "reason": "nan"}


def test_latency_objective_is_measured(tmp_path: Path, tiny_space: Path) -> None:
    result = run_search(config(tmp_path, tiny_space, trials=1, objectives=("accuracy", "latency")))
    (trial,) = completed(result.study)
    assert trial.values[1] == record_of(trial)["latency_ms"] > 0


@pytest.mark.parametrize("sampler", ["random", "grid"])
def test_tune(tmp_path: Path, sampler: str) -> None:
    arch = archsearch.load_space("mobile").sample(1, seed=3, input_size=8)[0]
    path = tmp_path / "arch.json"
    path.write_text(arch.to_json())
    result = runner.invoke(
        app,
        [
            "tune",
            "--arch",
            str(path),
            "--sampler",
            sampler,
            "--trials",
            "4",
            "--lr",
            "0.01,0.1",
            "--batch-size",
            "16,32",
            "--epochs",
            "1",
            "--dataset",
            "synthetic",
            "--runs-dir",
            str(tmp_path / "runs"),
            "--reports-dir",
            str(tmp_path / "reports"),
            "--device",
            "cpu",
        ],
        env={"COLUMNS": "160"},
    )
    assert result.exit_code == 0, result.output
    db = tmp_path / "runs" / f"tune-arch-{sampler}" / "study.db"
    study = optuna.load_study(study_name=f"tune-arch-{sampler}", storage=f"sqlite:///{db}")
    trials = completed(study)
    assert len(trials) == 4 and study.metric_names == ["accuracy"]
    assert {record_of(t)["arch_id"] for t in trials} == {arch.id}
    assert all(set(t.params) == {"lr", "batch_size"} for t in trials)
    if sampler == "random":  # a time budget of 1 ms: Optuna checks it before each trial it
        # starts, so the first (if the check comes within 1 ms) and no more of the 4
        timed = runner.invoke(
            app,
            ["tune", "--arch", str(path), "--trials", "4", "--timeout", "0.001", "--epochs", "1",
             "--dataset", "synthetic", "--runs-dir", str(tmp_path / "runs"), "--reports-dir",
             str(tmp_path / "reports"), "--device", "cpu", "--name", "timed"],
        )  # fmt: skip
        assert timed.exit_code == 0, timed.output
        storage = f"sqlite:///{tmp_path / 'runs' / 'timed' / 'study.db'}"
        assert len(completed(optuna.load_study(study_name="timed", storage=storage))) <= 1
    if sampler == "grid":
        assert "grid: 4 points" in result.stderr
        assert {(t.params["lr"], t.params["batch_size"]) for t in trials} == {
            (0.01, 16),
            (0.01, 32),
            (0.1, 16),
            (0.1, 32),
        }


def test_export(tmp_path: Path, tiny_run: RunResult) -> None:
    result = tiny_run
    out = tmp_path / "exported"
    cli = runner.invoke(
        app,
        ["export", str(result.run_dir), "--best", "--objective", "accuracy", "-o", str(out)],
        env={"COLUMNS": "160"},
    )
    assert cli.exit_code == 0, cli.output
    assert "matches the study" in cli.stdout
    program = torch.export.load(str(out / "model.pt2")).module()
    arch = archsearch.Architecture.from_json((out / "architecture.json").read_text())
    model = archsearch.build_model(arch, 4, 1)
    model.load_state_dict(torch.load(out / "weights.pt", weights_only=True))
    x = torch.randn(3, 1, 8, 8)
    with torch.inference_mode():
        assert torch.allclose(program(x), model.eval()(x), atol=1e-5)
    profile = json.loads((out / "profile.json").read_text())
    assert profile["matches_study"] is True
    missing = runner.invoke(app, ["export", str(tmp_path / "nope"), "-o", str(out)])
    assert missing.exit_code == 2 and "no run found" in missing.stderr


def test_single_objective_reports_each_epoch_to_the_pruner(
    tmp_path: Path, tiny_space: Path
) -> None:
    result = run_search(
        config(tmp_path, tiny_space, trials=2, objectives=("accuracy",), pruner="median")
    )
    study = result.study
    assert isinstance(study.pruner, optuna.pruners.MedianPruner)
    for trial in completed(study):
        # epochs 0 and 1 reported: the values a pruner compares
        assert trial.intermediate_values == dict(enumerate(record_of(trial)["val_curve"]))
    assert result.pareto[0]["number"] == study.best_trial.number


def test_run_writes_its_report_and_report_command(tmp_path: Path, tiny_space: Path) -> None:
    result = run_search(config(tmp_path, tiny_space, trials=2, write_report=True))
    report = Path(result.files["report"])
    assert report == tmp_path / "reports" / "t.html" and report.is_file()
    assert (tmp_path / "reports" / "t.csv").is_file()
    other = run_search(config(tmp_path, tiny_space, trials=2, name="u", searcher="random"))
    out = tmp_path / "compare.html"
    cli = runner.invoke(
        app,
        [
            "report",
            str(result.run_dir),
            str(other.run_dir),
            "-o",
            str(out),
            "--latency-samples",
            "0",
        ],
    )
    assert cli.exit_code == 0, cli.output
    assert "archsearch: t vs u" in out.read_text()
    by_storage = runner.invoke(
        app,
        [
            "report",
            "--storage",
            result.storage,
            "--study",
            "t",
            "-o",
            str(tmp_path / "s.html"),
            "--latency-samples",
            "0",
        ],
    )
    assert by_storage.exit_code == 0, by_storage.output
    missing = runner.invoke(app, ["report", "--storage", result.storage, "--study", "nope"])
    assert missing.exit_code == 2 and "nope" in missing.stderr


def test_status(tiny_run: RunResult) -> None:
    result = tiny_run
    out = runner.invoke(app, ["status", str(result.run_dir), "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert data["counts"]["ok"] == 2 and data["counts"]["running"] == 0
    assert data["best"]["accuracy"] == max(t.values[0] for t in completed(result.study))
    by_url = runner.invoke(app, ["status", "--storage", result.storage, "--study", "t"])
    assert by_url.exit_code == 0 and "2 ok" in by_url.stdout
    bad = runner.invoke(
        app, ["status", "--storage", "postgresql://nobody@127.0.0.1:1/none", "--study", "t"]
    )
    assert bad.exit_code == 2 and "storage" in bad.stderr


def test_a_trial_does_not_depend_on_what_the_process_ran_before(
    tmp_path: Path, tiny_space: Path
) -> None:
    # PyTorch seeds its generator at random at start-up; a trial's weights must come from the
    # run's seed and the trial's number alone, or a run's first trial (and a resumed run's or
    # a worker's trials) would differ from one run of the same command to the next
    values = []
    for state in (1, 2):
        torch.manual_seed(state)  # what another process (or earlier work) left behind
        result = run_search(config(tmp_path / str(state), tiny_space, trials=2, searcher="random"))
        values.append([t.values for t in result.study.trials])
    assert values[0] == values[1]


#: the options a study made before DARTS's and SPOS's options were grouped (issue 22) stores,
#: by name: a run stores the same names, so workers and resumes read either
STORED_OPTIONS = {
    "space", "dataset", "searcher", "objectives", "trials", "timeout", "epochs", "device",
    "seed", "name", "runs_dir", "reports_dir", "storage", "study", "pruner", "min_epochs",
    "reduction_factor", "max_flops", "max_params", "max_mac", "max_latency_ms",
    "latency_threads", "latency_backend", "val_fraction", "train_limit", "train_fraction",
    "resolution", "proxies", "proxy_screen", "proxy_warmup", "darts_mode", "darts_order",
    "darts_epochs", "cost", "cost_weight", "derive_top", "darts_beta", "darts_aux_skip",
    "darts_partial_channels", "spos_epochs", "spos_sampling", "spos_sampler",
    "spos_evaluations", "retrain_top", "workers", "devices", "heartbeat",
}  # fmt: skip


#: options added since: a study stored before them reads with their defaults
ADDED_SINCE = {"write_report", "darts_front", "fidelity"} | {
    name for name in GROUPED if name.startswith("guided_")
}


def test_a_run_keeps_the_option_names_of_older_studies(tmp_path: Path, tiny_space: Path) -> None:
    made = RunConfig.from_options(darts_epochs=3, cost="latency", spos_sampling="fair")
    assert (made.darts.epochs, made.darts.cost, made.spos.sampling) == (3, "latency", "fair")
    flat = made.options()
    assert set(flat) == STORED_OPTIONS | ADDED_SINCE
    assert (flat["darts_epochs"], flat["cost"], flat["spos_sampling"]) == (3, "latency", "fair")
    assert RunConfig.from_options(**flat) == made
    # a study's stored options are those names, and a run made from them is the same run
    result = run_search(config(tmp_path, tiny_space, trials=1, derive_top=2))
    stored = result.study.user_attrs["config"]
    assert set(stored) == STORED_OPTIONS | ADDED_SINCE and stored["derive_top"] == 2
    again = RunConfig.from_options(**stored)
    assert again.darts.derive_top == 2 and again.options() == {
        **stored,
        "objectives": ("accuracy", "flops"),
        "proxies": (),
    }


def test_bad_options_name_the_field_and_the_cli_names_the_flag() -> None:
    from archsearch.errors import ConfigError

    cases = {
        "latency_threads": ({"latency_threads": 0}, "--threads: must be at least 1"),
        "searcher": ({"searcher": "bayes"}, "--searcher: unknown 'bayes' (choose from random,"),
        "cost_weight": ({"cost_weight": -1.0}, "--cost-weight: must be at least 0"),
    }
    flags = {"latency_threads": "--threads=0", "searcher": "--searcher=bayes"}
    flags["cost_weight"] = "--cost-weight=-1"
    for field, (changes, message) in cases.items():
        with pytest.raises(ConfigError) as error:
            RunConfig.from_options(**changes)
        assert error.value.field == field
        result = runner.invoke(app, ["run", flags[field]])
        assert result.exit_code == 2 and message in " ".join(result.stderr.split())
