"""Commands that search and train: ``run``, ``tune``, ``train``, ``worker``, ``status``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from ..errors import ArchsearchError, ConfigError, choice
from ._app import app, user_errors
from ._console import err, out
from ._options import (
    DATASETS,
    RUN_OPTIONS,
    WORKER_RUN_OPTIONS,
    DeviceOpt,
    JsonOpt,
    ReportsDirOpt,
    RunsDirOpt,
    SeedOpt,
    run_config_fields,
    with_run_options,
)


@app.command()
@user_errors
@with_run_options(tuple(RUN_OPTIONS))
def run(
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Calibrate here and print the fidelity the run would search at and the"
            " candidates it expects; search nothing, create nothing.",
        ),
    ] = False,
    **options: Any,
) -> None:
    """Search a space for accurate, cheap networks; results stay in a resumable Optuna study.
    With --timeout (and no --train-limit, --train-fraction, --resolution or --epochs), the
    training images, input size and epochs are chosen to judge about 60 candidates in it.

    Example: archsearch run --space mobile --dataset mnist:data/mnist --timeout 600
    """
    from ..runs import RunConfig, plan_run, run_search
    from ._console import run_with_progress

    config = RunConfig.from_options(**run_config_fields(options))
    if dry_run:
        for line in plan_run(config).describe(config.trials):
            out.print(line, soft_wrap=True)
        return
    run_with_progress(lambda progress: run_search(config, progress=progress), config.trials)


@app.command()
@user_errors
def tune(
    arch: Annotated[str | None, typer.Option("--arch", help="Architecture JSON file.")] = None,
    model: Annotated[str | None, typer.Option("--model", help="A zoo network.")] = None,
    sampler: Annotated[str, typer.Option(help="random or grid.")] = "random",
    trials: Annotated[int, typer.Option(min=1)] = 20,
    timeout: Annotated[
        float | None,
        typer.Option(help="Stop starting trials after this many seconds (the trials kept)."),
    ] = None,
    space: Annotated[
        str | None,
        typer.Option(
            "--space", help="Take the hyperparameters section of this space (default: mobile)."
        ),
    ] = None,
    lr: Annotated[str | None, typer.Option("--lr", help="e.g. 1e-4:1e-1:log")] = None,
    batch_size: Annotated[str | None, typer.Option("--batch-size", help="e.g. 32,64,128")] = None,
    weight_decay: Annotated[str | None, typer.Option("--weight-decay")] = None,
    momentum: Annotated[str | None, typer.Option("--momentum")] = None,
    optimizer: Annotated[str | None, typer.Option("--optimizer", help="e.g. sgd,adamw")] = None,
    label_smoothing: Annotated[str | None, typer.Option("--label-smoothing")] = None,
    epochs: Annotated[int | None, typer.Option(min=1)] = None,
    dataset: Annotated[str, typer.Option(help=DATASETS)] = "digits",
    device: DeviceOpt = "auto",
    seed: SeedOpt = 0,
    name: Annotated[
        str | None, typer.Option(help="Run name (default: tune-MODEL-SAMPLER).")
    ] = None,
    runs_dir: RunsDirOpt = "runs",
    reports_dir: ReportsDirOpt = "reports",
    pruner: Annotated[
        str, typer.Option(help="median, successive-halving, hyperband, pareto-asha or none.")
    ] = "median",
) -> None:
    """Tune the training hyperparameters of one fixed architecture.

    Example: archsearch tune --model mobilenet_v2 --sampler grid --lr 0.01,0.1 --batch-size 32,64
    """
    from ..networks import pick_network
    from ..runs import tune as tune_fixed
    from ..runs.tune import tune_config
    from ._console import run_with_progress

    if (arch is None) == (model is None):
        raise ArchsearchError("give exactly one of --arch or --model")
    architecture = pick_network(model=model, arch=arch).architecture
    texts = dict(
        lr=lr, batch_size=batch_size, weight_decay=weight_decay, momentum=momentum,
        optimizer=optimizer, label_smoothing=label_smoothing,
    )  # fmt: skip
    hyperparameters = {k: v for k, v in texts.items() if v is not None}
    config = tune_config(
        sampler, pruner, label=model or Path(arch or "arch").stem, space=space or "mobile",
        dataset=dataset, trials=trials, timeout=timeout, epochs=epochs, device=device,
        seed=seed, name=name, runs_dir=runs_dir, reports_dir=reports_dir,
    )  # fmt: skip
    run_with_progress(
        lambda progress: tune_fixed(config, architecture, hyperparameters, progress=progress),
        trials,
    )


@app.command("train")
@user_errors
def train_command(
    run: Annotated[
        str | None, typer.Option("--run", help="A run folder or name to take a network from.")
    ] = None,
    trial: Annotated[int | None, typer.Option("--trial", help="The run's trial number.")] = None,
    best: Annotated[bool, typer.Option("--best", help="The run's best for --objective.")] = False,
    objective: Annotated[str, typer.Option(help="Objective for --best.")] = "accuracy",
    arch: Annotated[str | None, typer.Option("--arch", help="Architecture JSON file.")] = None,
    model: Annotated[str | None, typer.Option("--model", help="A zoo network.")] = None,
    dataset: Annotated[
        str | None, typer.Option(help=DATASETS + " Default: the run's (digits without one).")
    ] = None,
    resolution: Annotated[
        int | None, typer.Option(min=4, help="Train at R x R (default: the run's).")
    ] = None,
    train_limit: Annotated[
        int | None, typer.Option(min=10, help="Train on N images (default: all of them).")
    ] = None,
    split: Annotated[
        str,
        typer.Option(
            help="train+val: the validation images join the training ones; train: keep them"
            " apart and report validation accuracy. The test split is evaluated at the end."
        ),
    ] = "train+val",
    epochs: Annotated[int, typer.Option(min=1)] = 30,
    warmup_epochs: Annotated[
        int | None, typer.Option(min=0, help="Linear warm-up (default: 5% of the epochs, >= 1).")
    ] = None,
    ema_decay: Annotated[
        float | None,
        typer.Option(help="Keep an EMA of the weights with this decay (e.g. 0.999)."),
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help="KEY=VALUE over the run's hyperparameters (repeatable): lr=0.05,"
            " optimizer=sgd, init=kaiming ...",
        ),
    ] = None,
    device: DeviceOpt = "auto",
    seed: SeedOpt = 0,
    output: Annotated[str, typer.Option("-o", "--output", help="Output folder.")] = "trained",
    runs_dir: RunsDirOpt = "runs",
) -> None:
    """Train one network to the end: from scratch on train + validation, a longer cosine
    schedule, optional EMA, evaluated on the test split; rerun the same command to resume.

    Example: archsearch train --run mobile-local --best --objective accuracy --epochs 30 -o final/
    """
    from ..runs import FinalConfig
    from ..runs.final import SPLIT_WORDING, SPLITS, parse_overrides
    from ._console import final_training_with_progress

    if run is not None and (trial is None) == (not best):
        raise ConfigError("trial", "with --run give one of --trial N or --best")
    chosen_split = choice("split", split, SPLITS, SPLIT_WORDING)
    config = FinalConfig(
        run=run, trial=trial, objective=objective, arch=arch, model=model, dataset=dataset,
        resolution=resolution, train_limit=train_limit, split=chosen_split,
        epochs=epochs, warmup_epochs=warmup_epochs, ema_decay=ema_decay,
        hyperparameters=parse_overrides(set_ or []), device=device, seed=seed, output=output,
        runs_dir=runs_dir,
    )  # fmt: skip
    final_training_with_progress(config)


@app.command()
@user_errors
@with_run_options(WORKER_RUN_OPTIONS, defaults=False)
def worker(
    storage: Annotated[
        str, typer.Option(help="The study's storage URL, e.g. postgresql://user@host/db.")
    ],
    study: Annotated[str, typer.Option(help="The study (run) name.")],
    device: DeviceOpt = "auto",
    trials: Annotated[
        int | None,
        typer.Option(min=1, help="Completed trials to reach (default: the run's budget)."),
    ] = None,
    heartbeat: Annotated[int, typer.Option(min=1, help="Heartbeat in seconds.")] = 10,
    threads: Annotated[int | None, typer.Option(min=1, help="CPU threads.")] = None,
    seed: Annotated[int | None, typer.Option(help="Sampler seed (default: the run's).")] = None,
    **options: Any,
) -> None:
    """Join a run's study and train candidates until its budget is reached. With the run's
    options (--space at least), a study that does not exist yet is created as `archsearch
    run` would; an existing study must have been made with the options given.

    Example: archsearch worker --storage postgresql://nas@db/nas --study mobile-local
    --device cuda:0
    """
    import torch

    from ..runs import run_worker

    if threads is not None:
        torch.set_num_threads(threads)
    try:
        done = run_worker(
            storage,
            study,
            options=run_config_fields(options),
            device=device,
            trials=trials,
            heartbeat=heartbeat,
            seed=seed,
        )
    except KeyboardInterrupt:
        err.print(
            "[yellow]stopped[/]: this worker's completed trials are saved; the trial it was"
            " running is retried by the workers (at once, or when its heartbeat goes stale)."
        )
        raise typer.Exit(130) from None
    out.print(f"{study}: {done} completed trials")


@app.command()
@user_errors
def status(
    run: Annotated[str | None, typer.Argument(help="Run folder or run name.")] = None,
    storage: Annotated[str | None, typer.Option(help="An Optuna storage URL.")] = None,
    study: Annotated[str | None, typer.Option(help="Study name in --storage.")] = None,
    runs_dir: RunsDirOpt = "runs",
    as_json: JsonOpt = False,
) -> None:
    """Progress of a run: trials by state (running trials whose worker went silent shown as
    stale), and the best value of each objective so far.

    Example: archsearch status runs/mobile-local
    """
    from ..report import get_run_info
    from ..runs import open_run
    from ._console import print_status

    if run is None and (storage is None or study is None):
        raise ArchsearchError("give a run folder, or --storage URL --study NAME")
    info = get_run_info(open_run(run or study or "", runs_dir, storage=storage, study_name=study))
    if as_json:
        summary = {"counts": dict(info.counts), "best": dict(info.best), "stale": info.stale}
        out.print_json(json.dumps({"study": info.name, **summary, "budget": info.budget}))
        return
    print_status(info)
