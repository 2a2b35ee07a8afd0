"""Auto fidelity: the chooser on stubbed calibrations (the arithmetic in each test), the
calibration's fit, the sides the strides allow, and a run that records its choice, resumes
with it and says how to retrain; ``run --dry-run`` creates nothing."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import optuna
import pytest
from typer.testing import CliRunner

import archsearch.runs.fidelity as fidelity_module
from archsearch.cli import app
from archsearch.errors import ConfigError
from archsearch.report import get_run_info
from archsearch.runs import RunConfig, run_search
from archsearch.runs.fidelity import (
    Calibration,
    Fidelity,
    FidelityProblem,
    Timing,
    allowed_resolutions,
    choose_fidelity,
    expected_epochs,
    fidelity_mode,
)
from archsearch.space import load_space
from archsearch.study import run_record
from tests.conftest import run_config

runner = CliRunner()

# MNIST-like: 60,000 images of 28x28, 10 classes, a space of 4M flops on average at 28x28,
# 8 epochs, no early stopping (so a candidate trains 8 epochs: the arithmetic stays plain),
# one hour: a candidate may take 3600 / (60 x 1.2 planning margin) = 50 s
PROBLEM = FidelityProblem(
    images=60_000,
    classes=10,
    native=28,
    resolutions=(28, 21, 14),
    mean_flops=4e6,
    epochs=8,
    budget_s=3600,
    pruner="none",
)
# 1 ms per image plus 1 ns per multiply-add, 0.5 s per candidate besides: per image and
# epoch 5 ms at 28x28 (4M flops), 3.25 ms at 21x21 (2.25M), 2 ms at 14x14 (1M)
SLOW = Calibration(per_image_s=1e-3, per_pixel_s=0.0, per_flop_s=1e-9, overhead_s=0.5)
# a thousand times faster per image: 60,000 x 8 x 5 µs = 2.4 s + 0.5 s, well within 50 s
FAST = Calibration(per_image_s=1e-6, per_pixel_s=0.0, per_flop_s=1e-12, overhead_s=0.5)


def test_a_slow_machine_searches_fewer_images_at_a_smaller_size() -> None:
    chosen = choose_fidelity(PROBLEM, SLOW)
    # images that fit in 50 - 0.5 = 49.5 s: 49.5 / (8 x 5 ms) = 1,237 at 28x28,
    # 49.5 / (8 x 3.25 ms) = 1,903 at 21x21, 49.5 / (8 x 2 ms) = 3,093 at 14x14; images x side:
    # 34,636, 39,963, 43,302: 14x14 wins, 3,093 rounded down to two figures
    assert (chosen.train_limit, chosen.resolution, chosen.epochs) == (3000, 14, None)
    assert (chosen.images, chosen.side, chosen.epochs_per_candidate) == (3000, 14, 8)
    # 0.5 + 8 x 3,000 x 2 ms = 48.5 s a candidate: 3600 / 48.5 = 74.2 candidates
    assert chosen.candidate_s == pytest.approx(48.5)
    assert chosen.expected_candidates == pytest.approx(3600 / 48.5)
    assert chosen.describe() == (
        "3,000 of 60,000 images at 14x14, 8 epochs: ~74 candidates in 60 min (~48.5 s each)"
    )


def test_a_fast_machine_keeps_the_full_data() -> None:
    chosen = choose_fidelity(PROBLEM, FAST)
    assert (chosen.train_limit, chosen.resolution, chosen.epochs) == (None, None, None)
    assert chosen.is_full and chosen.reason == "the full data fits"
    assert chosen.candidate_s == pytest.approx(0.5 + 60_000 * 8 * (1e-6 + 4e6 * 1e-12))


def test_user_set_fields_win() -> None:
    # the side as given: 1,237 images at 28x28, rounded down to 1,200
    side = choose_fidelity(replace(PROBLEM, fixed={"resolution": 28}), SLOW)
    assert (side.train_limit, side.resolution) == (1200, None)
    # 2,000 images as given: 0.5 + 8 x 2,000 x 5 ms = 80.5 s at 28, 52.5 s at 21 (over 50 s),
    # 32.5 s at 14x14: the largest side that fits
    images = choose_fidelity(replace(PROBLEM, fixed={"train_limit": 2000}), SLOW)
    assert (images.train_limit, images.resolution, images.epochs) == (2000, 14, None)
    # 4 epochs as given: 49.5 / (4 x 2 ms) = 6,187 at 14x14 (86,618 images x side, against
    # 79,926 at 21 and 69,300 at 28)
    epochs = choose_fidelity(replace(PROBLEM, fixed={"epochs": 4}), SLOW)
    assert (epochs.train_limit, epochs.resolution, epochs.epochs) == (6100, 14, 4)
    # all three given: nothing to choose
    given = {"train_limit": 500, "resolution": 21, "epochs": 3}
    fixed = choose_fidelity(replace(PROBLEM, fixed=given), SLOW)
    assert (fixed.train_limit, fixed.resolution, fixed.epochs) == (500, 21, 3)


def test_epochs_are_cut_only_when_the_fewest_images_do_not_fit() -> None:
    # 100 times slower: even 500 images (50 a class) at 14x14 take 0.5 + 8 x 500 x 0.2 s; with
    # 2 epochs 49.5 / (2 x 0.2 s) = 123 images, with 1 epoch 247 -- still under 500: the
    # cheapest fidelity, 500 images at 14x14 for 1 epoch, and it says so
    slower = Calibration(per_image_s=0.1, per_pixel_s=0.0, per_flop_s=1e-7, overhead_s=0.5)
    chosen = choose_fidelity(PROBLEM, slower)
    assert (chosen.train_limit, chosen.resolution, chosen.epochs) == (500, 14, 1)
    assert "fewer than 60 candidates fit" in chosen.reason
    # 20 times slower: 1 epoch fits 49.5 / (1 x 40 ms) = 1,237 images; 2 epochs 618
    slow = Calibration(per_image_s=0.02, per_pixel_s=0.0, per_flop_s=2e-8, overhead_s=0.5)
    chosen = choose_fidelity(PROBLEM, slow)
    assert (chosen.train_limit, chosen.resolution, chosen.epochs) == (610, 14, 2)


def test_the_run_options_decide_the_mode() -> None:
    assert fidelity_mode(RunConfig(timeout=600)) == "auto"
    assert fidelity_mode(RunConfig()) == "full"  # no time budget
    assert fidelity_mode(RunConfig(timeout=600, resolution=14)) == "full"  # the user chose
    assert fidelity_mode(RunConfig(timeout=600, fidelity="full")) == "full"
    assert fidelity_mode(RunConfig(timeout=600, searcher="spos")) == "full"
    assert fidelity_mode(RunConfig(timeout=600, resolution=14, fidelity="auto")) == "auto"
    with pytest.raises(ConfigError, match="give one") as error:
        RunConfig(fidelity="auto")
    assert error.value.field == "fidelity"
    with pytest.raises(ConfigError, match="choose from"):
        RunConfig(fidelity="medium")  # type: ignore[arg-type]


def test_calibration_fit_recovers_the_costs() -> None:
    # seconds per image = 0.1 ms + 0.2 µs x pixels + 0.5 ns x flops, at two sides
    truth = (1e-4, 2e-7, 5e-10)
    timings = [
        Timing(side, flops, truth[0] + truth[1] * side**2 + truth[2] * flops)
        for side, flops in ((28, 1e6), (28, 9e6), (14, 2.5e5), (14, 2.2e6))
    ]
    fit = Calibration.fit(timings, overhead_s=0.3)
    assert fit.per_image_s == pytest.approx(truth[0], rel=1e-6)
    assert fit.per_pixel_s == pytest.approx(truth[1], rel=1e-6)
    assert fit.per_flop_s == pytest.approx(truth[2], rel=1e-6)
    assert fit.image_seconds(4e6, 21) == pytest.approx(1e-4 + 2e-7 * 441 + 5e-10 * 4e6)


def test_expected_epochs_under_the_pruners() -> None:
    assert expected_epochs(8, "none") == 8
    assert expected_epochs(8, "median") == 2 + 6 / 2
    # one candidate is on the first front at every rung: it trains all 8 epochs
    assert expected_epochs(8, "pareto-asha", candidates=1) == 8
    # rungs at 1 and 3: in the steady state 1 + 2/3 + 5/9 = 2.22 epochs; the first
    # candidates go on more often, the top floor(n / 3) a little less often: about that
    steady = 1 + 2 / 3 + 5 / 9
    assert expected_epochs(8, "pareto-asha") == pytest.approx(steady, abs=0.15)
    assert expected_epochs(8, "pareto-asha", reduction_factor=2) > steady  # half go on


def test_the_sides_keep_every_stride() -> None:
    mobile = load_space("mobile")
    # 28 → 14 → 7 → 4 → 2 at 28x28 and 14 → 7 → 4 → 2 → 1 (stride kept: min side 2) ... the
    # same strides at 21 and 14; at 8x8 (digits) 6 keeps them and 4 does not
    assert allowed_resolutions(mobile, 28) == (28, 21, 14)
    assert allowed_resolutions(mobile, 8) == (8, 6)


def _stub_calibration(monkeypatch: pytest.MonkeyPatch, per_pixel_s: float) -> list[int]:
    calls: list[int] = []

    def calibrate(*args: object, **kwargs: object) -> tuple[Calibration, float]:
        calls.append(1)
        return Calibration(0.0, per_pixel_s, 0.0, overhead_s=0.0, seconds=0.1), 1e5

    monkeypatch.setattr(fidelity_module, "calibrate", calibrate)
    return calls


def test_a_run_records_its_fidelity_and_resumes_with_it(
    tmp_path: Path, tiny_space: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # synthetic data: 320 training + validation images of 8x8; the tiny space allows 8, 6
    # and 4; 2 epochs, no pruner. At 2 ms per pixel a candidate takes 2 x 320 x 64 x 2 ms =
    # 81.9 s at 8x8 (over the 3600 / 72 = 50 s), 46.1 s at 6x6: all the images at 6x6
    # (1,920 images x side, against 4 x 320 at 4x4; the 195 that fit at 8x8 are under the
    # floor of 50 a class)
    calls = _stub_calibration(monkeypatch, per_pixel_s=2e-3)
    options = {"timeout": 3600, "trials": 2, "write_report": True}
    result = run_search(run_config(tmp_path, tiny_space, **options))
    assert len(calls) == 1
    record = run_record(result.study)
    assert record.input_shape == (1, 6, 6)
    assert record.fidelity is not None and record.fidelity["side"] == 6
    assert record.options["resolution"] == 6 and record.options["fidelity"] == "auto"
    assert record.options["train_limit"] is None  # all the images
    assert result.advice is not None and "--resolution 8" in result.advice
    info = get_run_info(result.study)
    assert info.fidelity.startswith("auto: all 320 images at 6x6, 2 epochs per candidate")
    assert "fidelity" in Path(result.files["report"]).read_text()
    # the same command again: no calibration, the same fidelity, one more trial
    resumed = run_search(run_config(tmp_path, tiny_space, **{**options, "trials": 3}))
    assert len(calls) == 1
    assert len(resumed.study.trials) == 3
    assert run_record(resumed.study).input_shape == (1, 6, 6)
    # asking the run for another fidelity names it
    with pytest.raises(ConfigError, match="fidelity chosen when it began"):
        run_search(run_config(tmp_path, tiny_space, **options, fidelity="full"))


def test_a_full_run_stays_full_when_resumed_with_a_timeout(
    tmp_path: Path, tiny_space: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _stub_calibration(monkeypatch, per_pixel_s=2e-3)
    run_search(run_config(tmp_path, tiny_space, trials=1))
    resumed = run_search(run_config(tmp_path, tiny_space, trials=2, timeout=3600))
    assert calls == [] and run_record(resumed.study).input_shape == (1, 8, 8)
    assert resumed.advice is None and get_run_info(resumed.study).fidelity.startswith("full")


def test_dry_run_prints_the_plan_and_creates_nothing(
    tmp_path: Path, tiny_space: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _stub_calibration(monkeypatch, per_pixel_s=2e-3)
    runs = tmp_path / "runs"
    args = [
        "run",
        "--dry-run",
        "--space",
        str(tiny_space),
        "--dataset",
        "synthetic",
        "--timeout",
        "3600",
        "--runs-dir",
        str(runs),
        "--device",
        "cpu",
        "--pruner",
        "none",
    ]
    result = runner.invoke(app, [*args, "--workers", "1"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "fidelity (auto): all 320 images at 6x6, 2 epochs: ~78 candidates in 60 min" in (
        result.output
    )  # 3600 / 46.08 s = 78.1
    assert "at full fidelity: all 320 images at 8x8, 2 epochs: ~44 candidates" in result.output
    # --workers auto (the default) on 2 cores, 230 trials of small candidates: two processes,
    # twice the candidates an hour, so the full size fits: 2 x 3600 / 81.92 s = 87.9
    monkeypatch.setattr("archsearch.runs.workers.available_cores", lambda: 2)
    auto = runner.invoke(app, args, env={"COLUMNS": "200"})
    assert auto.exit_code == 0, auto.output
    assert "fidelity (auto): all 320 images at 8x8, 2 epochs: ~88 candidates in 60 min" in (
        auto.output
    )
    assert not runs.exists()
    bad = runner.invoke(app, ["run", "--dry-run", "--fidelity", "auto"])
    assert bad.exit_code == 2 and "--fidelity" in bad.output


def test_fidelity_record_round_trips() -> None:
    chosen = choose_fidelity(PROBLEM, SLOW)
    assert Fidelity.from_record(chosen.to_record()) == chosen
    stored = optuna.create_study()
    stored.set_user_attr("fidelity", chosen.to_record())
    assert run_record(stored).fidelity == chosen.to_record()


def test_a_candidate_training_when_the_time_is_up_stops_after_its_epoch() -> None:
    import time

    from archsearch.objective import epoch_hook
    from archsearch.study import record_of

    study = optuna.create_study(directions=["maximize", "minimize"])
    past = time.monotonic() - 1.0
    trial = study.ask()
    hook = epoch_hook(trial, ("accuracy", "flops"), 4, deadline=past)
    with pytest.raises(optuna.TrialPruned, match="time ran out: stopped after epoch 1 of 4"):
        hook(0, 0.5)
    assert record_of(study.trials[0])["val_curve"] == [0.5]
    # its last epoch ends it anyway; a deadline to come stops nothing
    last = epoch_hook(study.ask(), ("accuracy", "flops"), 4, deadline=past)
    last(3, 0.9)
    later = epoch_hook(study.ask(), ("accuracy", "flops"), 4, deadline=time.monotonic() + 60)
    later(0, 0.5)
