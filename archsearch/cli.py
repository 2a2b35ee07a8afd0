"""The ``archsearch`` command line: one thin, typed function per command over the library.

Each command parses its flags, makes one library call and prints the result (through
:mod:`archsearch._console`). Every command catches :class:`~archsearch.ArchsearchError` (bad
input) in one place, prints its message — naming the flag where the library names a
:class:`~archsearch.runs.RunConfig` field — and exits with status 2, never a traceback.
"""

from __future__ import annotations

import functools
import json
import sys
from typing import Annotated, Any

import typer
from rich.markup import escape

from . import __version__
from ._cli_options import (
    DATASETS,
    FLAGS,
    RUN_OPTIONS,
    WORKER_RUN_OPTIONS,
    ChannelsOpt,
    ClassesOpt,
    DeviceOpt,
    F,
    JsonOpt,
    ReportsDirOpt,
    RunsDirOpt,
    SeedOpt,
    SpaceOpt,
    run_config_fields,
    with_run_options,
)
from ._console import err, out
from .errors import ArchsearchError, ConfigError

app = typer.Typer(
    name="archsearch",
    help="Neural architecture search and CNN benchmarking.\n\n"
    "Example: archsearch show --space mobile --sample 5 --seed 0",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def user_errors(command: F) -> F:
    """Turn bad input into one message on stderr and exit status 2."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except ConfigError as error:
            message = error.labelled(FLAGS.get(error.field, "--" + error.field.replace("_", "-")))
            err.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True, markup=True)
            raise typer.Exit(2) from None
        except ArchsearchError as error:
            err.print(f"[bold red]error:[/] {escape(str(error))}", soft_wrap=True, markup=True)
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


def _version(value: bool) -> None:
    if value:
        out.print(f"archsearch {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Neural architecture search and CNN benchmarking.

    Example: archsearch show --space mobile --sample 5 --seed 0
    """


@app.command()
@user_errors
def spaces(as_json: JsonOpt = False) -> None:
    """List the built-in search spaces.

    Example: archsearch spaces
    """
    from ._console import print_rows
    from .space import list_spaces, load_space

    rows = [
        {"name": name, "description": load_space(name, check=False).description}
        for name in list_spaces()
    ]
    if as_json:
        out.print_json(json.dumps(rows))
        return
    print_rows("Built-in search spaces", {"space": "name", "description": "description"}, rows)


@app.command()
@user_errors
def show(
    space: SpaceOpt = "mobile",
    sample: Annotated[int, typer.Option(min=1, help="How many architectures to sample.")] = 5,
    seed: SeedOpt = 0,
    input_size: Annotated[
        int, typer.Option("--input-size", min=1, help="Input height and width in pixels.")
    ] = 32,
    classes: ClassesOpt = 10,
    channels: ChannelsOpt = 3,
    as_json: JsonOpt = False,
) -> None:
    """Sample architectures from a search space and show them.

    Example: archsearch show --space mobile --sample 5 --seed 0 --input-size 28
    """
    from ._console import print_rows
    from .space import describe_samples, load_space

    rows = describe_samples(load_space(space), sample, seed, input_size, classes, channels)
    if as_json:
        out.print_json(json.dumps(rows))
        return
    title = f"{sample} samples of '{space}' at {input_size}x{input_size}, seed {seed}"
    print_rows(title, {"id": "id", "architecture": "summary", "params": "params"}, rows)


@app.command()
@user_errors
def zoo(classes: ClassesOpt = 1000, channels: ChannelsOpt = 3, as_json: JsonOpt = False) -> None:
    """List the reference networks with their parameter counts.

    Example: archsearch zoo --classes 10
    """
    from . import zoo as model_zoo
    from ._console import print_rows

    rows = model_zoo.catalogue(classes, channels)
    if as_json:
        out.print_json(json.dumps(rows))
        return
    columns = {"model": "name", "params": "params", "reference": "paper"}
    print_rows(f"Reference networks ({classes} classes)", columns, rows)


@app.command()
@user_errors
def profile(
    model: Annotated[
        str | None, typer.Option("--model", help="A zoo network (see `archsearch zoo`).")
    ] = None,
    arch: Annotated[str | None, typer.Option("--arch", help="An architecture JSON file.")] = None,
    space: Annotated[
        str | None,
        typer.Option("--space", help="Sample the architecture from this space (with --seed)."),
    ] = None,
    seed: SeedOpt = 0,
    input_shape: Annotated[str, typer.Option("--input", help="N x C x H x W.")] = "1x3x224x224",
    batch: Annotated[
        str | None,
        typer.Option(
            "--batch",
            help="Batch size (overrides N of --input); several (1,8,32): a latency sweep.",
        ),
    ] = None,
    classes: Annotated[
        int | None,
        typer.Option(
            "--classes", min=1, help="Output classes (default: 1000 for --model, else 10)."
        ),
    ] = None,
    latency: Annotated[bool, typer.Option("--latency", help="Also measure latency.")] = False,
    latency_backend: Annotated[
        str,
        typer.Option(
            help="torch (eager), onnxruntime (exported to ONNX, the extra 'onnx'), or both:"
            " torch,onnxruntime."
        ),
    ] = "torch",
    device: DeviceOpt = "auto",
    threads: Annotated[int | None, typer.Option(min=1, help="CPU threads for latency.")] = None,
    dtype: Annotated[str, typer.Option(help="float32, bfloat16 or float16.")] = "float32",
    train: Annotated[
        bool, typer.Option("--train", help="Time a training step, not inference.")
    ] = False,
    per_layer: Annotated[bool, typer.Option("--per-layer", help="Show every layer.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Profile a network: params, FLOPs (multiply-adds), memory access cost, latency, and
    ShuffleNetV2 guideline findings.

    Example: archsearch profile --model resnet50 --input 1x3x224x224 --latency
    --latency-backend torch,onnxruntime --batch 1,8,32
    """
    from ._console import print_profile
    from .profiler import parse_latency_backends, profile_network

    backends = parse_latency_backends(latency_backend)
    try:
        batches = [int(b) for b in batch.split(",")] if batch else None
    except ValueError:
        batches = [0]
    if batches is not None and min(batches) < 1:
        raise ConfigError("batch", f"'{batch}': expected batch sizes >= 1, e.g. 1,8,32")

    name, architecture, result = profile_network(
        model=model,
        arch=arch,
        space=space,
        seed=seed,
        input_shape=input_shape,
        batch=batches,
        classes=classes,
        dtype=dtype,
        latency=latency,
        latency_backends=backends,
        device=device,
        threads=threads,
        train=train,
    )
    if as_json:
        data = {"model": name, "id": architecture.id, **result.to_dict(per_layer=per_layer)}
        out.print_json(json.dumps(data, default=str))
        return
    print_profile(name, architecture, result, per_layer)


@app.command()
@user_errors
@with_run_options(tuple(RUN_OPTIONS))
def run(**options: Any) -> None:
    """Search a space for accurate, cheap networks; results stay in a resumable Optuna study.

    Example: archsearch run --space mobile
    """
    from ._console import run_with_progress
    from .runs import RunConfig, run_search

    config = RunConfig(**run_config_fields(options))
    run_with_progress(lambda progress: run_search(config, progress=progress), config.trials)


@app.command()
@user_errors
def tune(
    arch: Annotated[str | None, typer.Option("--arch", help="Architecture JSON file.")] = None,
    model: Annotated[str | None, typer.Option("--model", help="A zoo network.")] = None,
    sampler: Annotated[str, typer.Option(help="random or grid.")] = "random",
    trials: Annotated[int, typer.Option(min=1)] = 20,
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
    from pathlib import Path

    from . import zoo as model_zoo
    from ._console import run_with_progress
    from .architecture import load_architecture
    from .runs import RunConfig
    from .runs import tune as tune_fixed

    if (arch is None) == (model is None):
        raise ArchsearchError("give exactly one of --arch or --model")
    architecture = load_architecture(arch) if arch else model_zoo.get(model or "")
    texts = dict(
        lr=lr, batch_size=batch_size, weight_decay=weight_decay, momentum=momentum,
        optimizer=optimizer, label_smoothing=label_smoothing,
    )  # fmt: skip
    label = model or Path(arch or "arch").stem
    hyperparameters = {k: v for k, v in texts.items() if v is not None}
    try:
        config = RunConfig(
            space=space or "mobile",
            dataset=dataset,
            searcher=sampler,  # type: ignore[arg-type]  # checked by RunConfig and tune()
            objectives=("accuracy",),
            trials=trials,
            epochs=epochs,
            device=device,
            seed=seed,
            name=name or f"tune-{label}-{sampler}",
            runs_dir=runs_dir,
            reports_dir=reports_dir,
            pruner=pruner,  # type: ignore[arg-type]  # checked by RunConfig
            proxies=(),  # one network: its proxy scores would rank nothing
        )
        run_with_progress(
            lambda progress: tune_fixed(config, architecture, hyperparameters, progress=progress),
            trials,
        )
    except ConfigError as error:
        field = "sampler" if error.field == "searcher" else error.field  # tune's flag for it
        raise ConfigError(field, error.reason) from None


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

    Example: archsearch train --run mobile-tpe --best --objective accuracy --epochs 30 -o final/
    """
    import yaml

    from ._console import final_training_with_progress
    from .runs import FinalConfig

    if run is not None and (trial is None) == (not best):
        raise ConfigError("trial", "with --run give one of --trial N or --best")
    overrides: dict[str, Any] = {}
    for item in set_ or []:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError("set", f"expected KEY=VALUE, got '{item}'")
        overrides[key.strip()] = yaml.safe_load(text)
    config = FinalConfig(
        run=run, trial=trial, objective=objective, arch=arch, model=model, dataset=dataset,
        resolution=resolution, train_limit=train_limit, split=split,  # type: ignore[arg-type]
        epochs=epochs, warmup_epochs=warmup_epochs, ema_decay=ema_decay,
        hyperparameters=overrides, device=device, seed=seed, output=output, runs_dir=runs_dir,
    )  # fmt: skip
    final_training_with_progress(config)


@app.command()
@user_errors
def export(
    run: Annotated[
        str,
        typer.Argument(help="Run folder or run name, or an `archsearch train` output folder."),
    ],
    output: Annotated[str, typer.Option("-o", "--output", help="Output folder.")],
    trial: Annotated[int | None, typer.Option("--trial", help="Trial number.")] = None,
    best: Annotated[bool, typer.Option("--best", help="The best trial for --objective.")] = False,
    objective: Annotated[str, typer.Option(help="Objective for --best.")] = "accuracy",
    export_format: Annotated[
        str,
        typer.Option(
            "--format",
            help="torch (a torch.export program), or onnx: the program and an ONNX file,"
            " checked in ONNX Runtime (the extra 'onnx').",
        ),
    ] = "torch",
    runs_dir: RunsDirOpt = "runs",
) -> None:
    """Export a trained candidate: architecture JSON, weights, a torch.export program (and
    ONNX), re-profiled.

    Example: archsearch export runs/mobile-tpe --best --objective accuracy --format onnx -o
    exported/
    """
    from pathlib import Path

    from ._console import print_export
    from .export import export_trained, export_trial, pick_trial
    from .runs import open_run, run_folder

    formats = ("torch", "onnx") if export_format == "onnx" else (export_format,)
    if (Path(run) / "summary.json").is_file() and not (Path(run) / "study.db").exists():
        print_export(export_trained(run, output, formats))  # type: ignore[arg-type]
        return
    study = open_run(run, runs_dir)
    chosen = pick_trial(study, trial, objective)
    weights = run_folder(run, runs_dir) / "weights"
    print_export(export_trial(study, chosen, output, weights, formats))  # type: ignore[arg-type]


@app.command()
@user_errors
def report(
    runs: Annotated[
        list[str] | None,
        typer.Argument(help="Run folders or run names (several: their fronts are overlaid)."),
    ] = None,
    storage: Annotated[
        str | None, typer.Option(help="An Optuna storage URL instead of run folders.")
    ] = None,
    study: Annotated[list[str] | None, typer.Option(help="Study name(s) in --storage.")] = None,
    output: Annotated[
        str | None,
        typer.Option("-o", "--output", help="HTML file (default: REPORTS_DIR/NAME.html)."),
    ] = None,
    runs_dir: RunsDirOpt = "runs",
    reports_dir: ReportsDirOpt = "reports",
    latency_samples: Annotated[
        int,
        typer.Option(
            min=0,
            help="When a run recorded no latency, measure this many candidates here to rank"
            " FLOPs and MAC against latency.",
        ),
    ] = 20,
    device: DeviceOpt = "cpu",
    latency_backend: Annotated[
        str,
        typer.Option(
            help="Also rank against latency measured now in these backends (torch,"
            " onnxruntime), beside the run's own."
        ),
    ] = "",
) -> None:
    """Write a self-contained HTML report (Pareto fronts, history, every trial, per-candidate
    detail) of one or more runs, with the trials as CSV beside it.

    Example: archsearch report runs/mobile-tpe runs/mobile-random -o reports/compare.html
    """
    from pathlib import Path

    from .profiler import parse_latency_backends
    from .report import write_report
    from .runs import open_run

    if storage is not None:
        if not study:
            raise ConfigError("storage", "needs --study NAME")
        studies = [open_run(name, storage=storage, study_name=name) for name in study]
    elif runs:
        studies = [open_run(run, runs_dir) for run in runs]
    else:
        raise ArchsearchError("give one or more run folders, or --storage URL --study NAME")
    name = "+".join(s.study_name for s in studies)
    path = Path(output) if output else Path(reports_dir) / f"{name}.html"
    written = write_report(
        studies,
        path,
        latency_samples=latency_samples,
        device=device,
        latency_backends=parse_latency_backends(latency_backend),
    )
    out.print(f"report: {written}")
    out.print(f"trials: {written.with_suffix('.csv')}")


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

    Example: archsearch worker --storage postgresql://nas@db/nas --study mobile-tpe --device cuda:0
    """
    import torch

    from .runs import run_worker

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

    Example: archsearch status runs/mobile-tpe
    """
    from ._console import print_status
    from .report import get_run_info
    from .runs import open_run

    if run is None and (storage is None or study is None):
        raise ArchsearchError("give a run folder, or --storage URL --study NAME")
    info = get_run_info(open_run(run or study or "", runs_dir, storage=storage, study_name=study))
    if as_json:
        summary = {"counts": dict(info.counts), "best": dict(info.best), "stale": info.stale}
        out.print_json(json.dumps({"study": info.name, **summary, "budget": info.budget}))
        return
    print_status(info)


bench_app = typer.Typer(
    help="Benchmarks on this machine.\n\nExample: archsearch bench guidelines",
    no_args_is_help=True,
)
app.add_typer(bench_app, name="bench")


@bench_app.command("guidelines")
@user_errors
def bench_guidelines(
    device: DeviceOpt = "auto",
    threads: Annotated[int | None, typer.Option(min=1, help="CPU threads.")] = None,
    width: Annotated[
        int | None,
        typer.Option(
            min=8,
            help="Base channel width (default 64 on CPU, 128 on CUDA, as the paper's GPU runs).",
        ),
    ] = None,
    size: Annotated[int, typer.Option(min=4, help="Feature-map side.")] = 56,
    batch: Annotated[int, typer.Option(min=1)] = 1,
    rounds: Annotated[int, typer.Option(min=1, help="Interleaved rounds per variant.")] = 3,
) -> None:
    """Re-run the four ShuffleNetV2 guideline experiments (Tables 1–4) on this machine.

    Example: archsearch bench guidelines --device cpu --threads 2
    """
    from rich.progress import Progress

    from ._console import print_guideline_tables
    from .profiler.bench import run_guideline_benchmarks

    with Progress(transient=True, console=err) as bar:
        task = bar.add_task("timing", total=None)
        update = functools.partial(bar.update, task)
        tables = run_guideline_benchmarks(
            device, threads, width, size, batch, rounds, progress=lambda s: update(description=s)
        )
    print_guideline_tables(tables)


BENCH_RUN_OPTIONS = (
    "space", "dataset", "objectives", "epochs", "device", "train_limit", "train_fraction",
    "resolution", "min_epochs", "reduction_factor",
)  # fmt: skip


@bench_app.command("search")
@user_errors
@with_run_options(BENCH_RUN_OPTIONS)
def bench_search(
    searchers: Annotated[
        str,
        typer.Option(
            help="Comma-separated; each SEARCHER[:FIELD=VALUE...], FIELD a run option"
            " (e.g. tpe:pruner=none). The first is the baseline."
        ),
    ] = "random:pruner=none,tpe:pruner=none,tpe",
    budget_s: Annotated[float, typer.Option("--budget-s", help="Wall time per run (s).")] = 120.0,
    seeds: Annotated[str, typer.Option(help="Comma-separated seeds.")] = "0,1,2",
    parallel: Annotated[int, typer.Option(min=1, help="Runs side by side.")] = 1,
    threads: Annotated[
        int | None, typer.Option(min=1, help="Torch threads per run (default: split evenly).")
    ] = None,
    cost_budgets: Annotated[
        str | None,
        typer.Option(help="Two costs for 'best accuracy under' (default: 1/4, 1/2 of the range)."),
    ] = None,
    out_dir: Annotated[str, typer.Option("--out", "-o", help="Output folder.")] = "bench",
    **options: Any,
) -> None:
    """Compare searchers on one space at equal wall time over several seeds: hypervolume,
    its curve over time, trials judged, best accuracy under two cost budgets.

    Example: archsearch bench search --space mobile --searchers random,tpe --budget-s 60
    """
    from ._console import print_rows
    from .runs import RunConfig
    from .runs.bench import BenchConfig, parse_entries, run_bench

    def numbers(text: str, kind: type, flag: str) -> tuple[Any, ...]:
        try:
            return tuple(kind(v) for v in text.split(",") if v.strip())
        except ValueError:
            raise ConfigError(flag, f"'{text}' is not a comma-separated list") from None

    budgets = numbers(cost_budgets, float, "cost_budgets") if cost_budgets else None
    if budgets is not None and len(budgets) != 2:
        raise ConfigError("cost_budgets", "give two costs")
    config = BenchConfig(
        base=RunConfig(**run_config_fields(options)),
        entries=tuple(parse_entries(searchers)),
        budget_s=budget_s,
        seeds=numbers(seeds, int, "seeds"),
        parallel=parallel,
        threads=threads,
        out_dir=out_dir,
        cost_budgets=budgets,  # type: ignore[arg-type]  # two floats, checked above
    )
    from rich.progress import Progress

    with Progress(console=err) as bar:
        task = bar.add_task("runs", total=len(config.entries) * len(config.seeds))
        result = run_bench(
            config, lambda text, done, total: bar.update(task, completed=done, description=text)
        )
    shown = ("searcher", "hypervolume", "judged", "pruned", "time to baseline hv")
    print_rows("searchers at equal wall time", {k: k for k in shown}, result.rows)
    for name, file in result.files.items():
        out.print(f"{name}: {file}")


PROXY_BENCH_OPTIONS = (
    "space", "dataset", "epochs", "device", "seed", "train_limit", "train_fraction", "resolution",
)  # fmt: skip


@bench_app.command("proxies")
@user_errors
@with_run_options(PROXY_BENCH_OPTIONS)
def bench_proxies(
    samples: Annotated[int, typer.Option(min=3, help="Random candidates to train.")] = 50,
    hyperparameters: Annotated[
        str,
        typer.Option(
            help="fixed (the space's middle values for every candidate: the architecture"
            " alone varies) or sampled (as a search draws them)."
        ),
    ] = "fixed",
    out_dir: Annotated[str, typer.Option("--out", "-o", help="Output folder.")] = "bench-proxies",
    **options: Any,
) -> None:
    """Train random candidates of a space and measure how well each zero-cost proxy (and
    params, flops) ranks them: Spearman ρ and Kendall τ with bootstrap intervals.

    Example: archsearch bench proxies --space mobile --samples 50 --epochs 3
    """
    from ._console import print_rows, run_with_progress
    from .runs import RunConfig
    from .runs.proxy_bench import ProxyBenchConfig, run_proxy_bench

    config = ProxyBenchConfig(
        RunConfig(**run_config_fields(options)),
        samples,
        out_dir,
        hyperparameters=hyperparameters,  # type: ignore[arg-type]  # checked by the config
    )
    results = []

    def start(progress: Any) -> Any:
        results.append(run_proxy_bench(config, progress))
        return results[0].run

    run_with_progress(start, samples)
    shown = ("proxy", "spearman", "spearman 95% CI", "kendall", "ms per candidate")
    print_rows("proxies against trained accuracy", {k: k for k in shown}, results[0].rows)
    for name, file in results[0].files.items():
        out.print(f"{name}: {file}")


ONE_SHOT_BENCH_OPTIONS = (
    "space", "dataset", "epochs", "device", "seed", "train_limit", "train_fraction",
    "resolution", "spos_epochs", "spos_sampling",
)  # fmt: skip


@bench_app.command("one-shot")
@user_errors
@with_run_options(ONE_SHOT_BENCH_OPTIONS)
def bench_one_shot(
    samples: Annotated[
        int, typer.Option(min=3, help="Random networks to estimate and train.")
    ] = 20,
    out_dir: Annotated[str, typer.Option("--out", "-o", help="Output folder.")] = "bench-one-shot",
    **options: Any,
) -> None:
    """Train the SPOS supernet, then estimate random networks with its weights and train each
    stand-alone: Kendall τ and Spearman ρ of the estimates (with and without BatchNorm
    recalibration) and of params, flops against the trained accuracy.

    Example: archsearch bench one-shot --space mobile --samples 20 --spos-epochs 10 --epochs 4
    """
    from ._console import print_rows
    from .runs import RunConfig
    from .runs.one_shot_bench import OneShotBenchConfig, run_one_shot_bench

    config = OneShotBenchConfig(RunConfig(**run_config_fields(options)), samples, out_dir)
    result = run_one_shot_bench(config, log=lambda message: err.print(message))
    shown = ("score", "spearman", "spearman 95% CI", "kendall", "kendall 95% CI")
    print_rows("estimates against trained accuracy", {k: k for k in shown}, result.rows)
    for name, file in result.files.items():
        out.print(f"{name}: {file}")


def main() -> None:
    """Console-script entry point."""
    import optuna

    # the commands print their own progress and failures; Optuna's log would repeat them
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    app(prog_name="archsearch")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
