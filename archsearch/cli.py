"""The ``archsearch`` command line: one thin, typed function per command over the library.

Every command catches :class:`~archsearch.ArchsearchError` (bad input) in one place, prints its
message and exits with status 2, never a traceback.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from . import __version__
from .errors import ArchsearchError

app = typer.Typer(
    name="archsearch",
    help="Neural architecture search and CNN benchmarking.\n\n"
    "Example: archsearch show --space mobile --sample 5 --seed 0",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console(highlight=False)
err = Console(stderr=True, highlight=False)
F = TypeVar("F", bound=Callable[..., Any])

SpaceOpt = Annotated[
    str,
    typer.Option(
        "--space",
        help="A built-in space name (see `archsearch spaces`) or a path to a space YAML file.",
    ),
]
SeedOpt = Annotated[int, typer.Option(help="Random seed (Optuna's RandomSampler).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
ClassesOpt = Annotated[int, typer.Option("--classes", min=1, help="Number of output classes.")]
ChannelsOpt = Annotated[int, typer.Option("--channels", min=1, help="Input channels.")]


def user_errors(command: F) -> F:
    """Turn bad input into one message on stderr and exit status 2."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
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
    from .space import list_spaces, load_space

    rows = [(name, load_space(name, check=False).description) for name in list_spaces()]
    if as_json:
        out.print_json(json.dumps([{"name": n, "description": d} for n, d in rows]))
        return
    table = Table("space", "description", title="Built-in search spaces")
    for name, description in rows:
        table.add_row(name, description)
    out.print(table)


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
    from .space import load_space

    rows = describe_samples(load_space(space), sample, seed, input_size, classes, channels)
    if as_json:
        out.print_json(json.dumps(rows))
        return
    table = Table(
        "id",
        "architecture",
        "params",
        title=f"{sample} samples of '{space}' at {input_size}x{input_size}, seed {seed}",
    )
    for row in rows:
        table.add_row(row["id"], row["summary"], f"{row['params']:,}")
    out.print(table)


def describe_samples(
    space: Any, n: int, seed: int, input_size: int, classes: int, channels: int
) -> list[dict[str, Any]]:
    from .build import count_parameters

    rows = []
    for arch in space.sample(n, seed=seed, input_size=input_size):
        arch.infer_shapes(channels, input_size)
        rows.append(
            {
                "id": arch.id,
                "summary": str(arch),
                "params": count_parameters(arch, classes, channels),
                "architecture": arch.to_dict(),
            }
        )
    return rows


@app.command()
@user_errors
def zoo(
    classes: ClassesOpt = 1000,
    channels: ChannelsOpt = 3,
    as_json: JsonOpt = False,
) -> None:
    """List the reference networks with their parameter counts.

    Example: archsearch zoo --classes 10
    """
    from . import zoo as model_zoo
    from .build import count_parameters

    rows = [
        {
            "name": name,
            "params": count_parameters(model_zoo.get(name), classes, channels),
            "paper": model_zoo.info(name).paper,
        }
        for name in model_zoo.names()
    ]
    if as_json:
        out.print_json(json.dumps(rows))
        return
    table = Table("model", "params", "reference", title=f"Reference networks ({classes} classes)")
    for row in rows:
        table.add_row(row["name"], f"{row['params']:,}", row["paper"])
    out.print(table)


def parse_shape(text: str) -> tuple[int, ...]:
    """``1x3x224x224`` → (1, 3, 224, 224)."""
    try:
        shape = tuple(int(part) for part in text.lower().split("x"))
    except ValueError:
        shape = ()
    if len(shape) != 4 or min(shape) < 1:
        raise ArchsearchError(f"--input '{text}': expected N x C x H x W, e.g. 1x3x224x224")
    return shape


def load_architecture_file(path: str) -> Any:
    from pathlib import Path

    from .architecture import Architecture

    file = Path(path)
    if not file.is_file():
        raise ArchsearchError(f"{path}: file not found")
    try:
        return Architecture.from_json(file.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ArchsearchError(f"{path}: not a text file (JSON expected)") from None
    except ArchsearchError as error:
        raise ArchsearchError(f"{path}: {error}") from None


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
        int | None, typer.Option("--batch", min=1, help="Batch size (overrides N of --input).")
    ] = None,
    classes: Annotated[
        int | None,
        typer.Option(
            "--classes", min=1, help="Output classes (default: 1000 for --model, else 10)."
        ),
    ] = None,
    latency: Annotated[bool, typer.Option("--latency", help="Also measure latency.")] = False,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:N.")] = "auto",
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
    """
    from . import zoo as model_zoo
    from .profiler import profile_model
    from .space import load_space

    sources = [s for s in (model, arch, space) if s is not None]
    if len(sources) != 1:
        raise ArchsearchError("give exactly one of --model, --arch or --space")
    shape = parse_shape(input_shape)
    if batch is not None:
        shape = (batch, *shape[1:])
    if model is not None:
        architecture = model_zoo.get(model)
        name = model
    elif arch is not None:
        architecture = load_architecture_file(arch)
        name = arch
    else:
        architecture = load_space(space).sample(1, seed=seed, input_size=(shape[2], shape[3]))[0]
        name = f"{space} seed {seed}"
    num_classes = classes or (1000 if model is not None else 10)
    result = profile_model(
        architecture,
        shape,
        num_classes=num_classes,
        dtype=dtype,
        latency=latency,
        device=device,
        threads=threads,
        train=train,
    )
    if as_json:
        data = {"model": name, "id": architecture.id, **result.to_dict(per_layer=per_layer)}
        out.print_json(json.dumps(data, default=str))
        return
    print_profile(name, architecture, result, per_layer)


def print_profile(name: str, architecture: Any, result: Any, per_layer: bool) -> None:
    totals = Table(
        "measure",
        "value",
        "unit",
        title=f"{name}  ({architecture.id})  input"
        f" {'x'.join(map(str, result.input_shape))}, {result.dtype}",
    )
    totals.add_row("params", f"{result.params:,}", f"({result.trainable_params:,} trainable)")
    totals.add_row("flops", f"{result.flops:,}", "multiply-adds, conv + linear")
    totals.add_row("flops_other", f"{result.flops_other:,}", "norm, activation, pooling ...")
    totals.add_row("mac", f"{result.mac:,}", f"elements ({result.mac_bytes / 2**20:,.1f} MiB)")
    totals.add_row("peak activations", f"{result.peak_activation_bytes / 2**20:,.2f}", "MiB")
    for key, value in result.summary().items():
        totals.add_row(key, f"{value:.3f}" if value % 1 else f"{value:.0f}", "")
    if result.latency is not None:
        lat = result.latency
        totals.add_row("latency (median)", f"{lat.median_ms:.3f}", f"ms per batch of {lat.batch}")
        totals.add_row(
            "latency p90 / CV",
            f"{lat.p90_ms:.3f} / {100 * lat.cv:.1f}%",
            f"{lat.repeats} repeats x {lat.iterations}",
        )
        totals.add_row(
            "measured on",
            f"{lat.device} ({lat.device_name})",
            f"{lat.threads} threads, {lat.mode}, torch {lat.torch_version}",
        )
    out.print(totals)
    kinds = result.by_operator()
    table = Table(
        "operator kind",
        "ops",
        "flops",
        "flops_other",
        "mac",
        "mac %",
        *(["time %"] if "time_share" in kinds else []),
        title="By operator kind",
    )
    for kind, row in kinds.iterrows():
        cells = [
            str(kind),
            f"{int(row['ops']):,}",
            f"{int(row['flops']):,}",
            f"{int(row['flops_other']):,}",
            f"{int(row['mac']):,}",
            f"{100 * row['mac_share']:.1f}",
        ]
        if "time_share" in kinds:
            cells.append(f"{100 * row['time_share']:.1f}")
        table.add_row(*cells)
    out.print(table)
    if per_layer:
        layers = Table("module", "type", "flops", "mac", "output", title="By module")
        for path, row in result.by_module().iterrows():
            layers.add_row(
                str(path),
                row["module_type"],
                f"{row['flops']:,}",
                f"{row['mac']:,}",
                "x".join(map(str, row["out_shape"])),
            )
        out.print(layers)
    if result.findings:
        findings = Table(
            "", "layer", "figure", "finding", "suggestion", title="ShuffleNetV2 guideline findings"
        )
        for f in result.findings:
            findings.add_row(
                f.guideline,
                f.layer or "(network)",
                f"{f.figure:g} {f.unit}",
                f.message,
                f.suggestion,
            )
        out.print(findings)
    else:
        out.print("No guideline findings.")
    if result.unsupported_ops:
        err.print(f"[yellow]not counted:[/] {dict(result.unsupported_ops)}")


ObjectivesOpt = Annotated[
    str,
    typer.Option(
        help="Comma-separated: accuracy, flops, params, mac, latency (one:"
        " single-objective study; several: multi-objective)."
    ),
]
DeviceOpt = Annotated[str, typer.Option(help="auto (CUDA when present), cpu, cuda or cuda:N.")]
DatasetOpt = Annotated[
    str,
    typer.Option(
        help="digits (built-in), synthetic, mnist:DIR, fashion-mnist:DIR,"
        " cifar10:DIR or folder:DIR."
    ),
]


@app.command()
@user_errors
def run(
    space: SpaceOpt = "mobile",
    dataset: DatasetOpt = "digits",
    searcher: Annotated[
        str,
        typer.Option(
            help="tpe (default: sample-efficient, multi-objective), nsga2, random or grid."
        ),
    ] = "tpe",
    objectives: ObjectivesOpt = "accuracy,flops",
    trials: Annotated[int, typer.Option(min=1, help="Completed trials to reach.")] = 80,
    timeout: Annotated[float | None, typer.Option(help="Stop after this many seconds.")] = None,
    epochs: Annotated[
        int | None, typer.Option(min=1, help="Epochs per candidate (overrides the space).")
    ] = None,
    device: DeviceOpt = "auto",
    seed: SeedOpt = 0,
    name: Annotated[
        str | None,
        typer.Option(help="Run name: files go to RUNS_DIR/NAME (default: SPACE-SEARCHER)."),
    ] = None,
    runs_dir: Annotated[str, typer.Option("--runs-dir")] = "runs",
    reports_dir: Annotated[str, typer.Option("--reports-dir")] = "reports",
    storage: Annotated[
        str | None,
        typer.Option(help="Any Optuna storage URL (default: SQLite in the run's folder)."),
    ] = None,
    study: Annotated[str | None, typer.Option(help="Study name in --storage.")] = None,
    pruner: Annotated[
        str, typer.Option(help="median, hyperband or none (single-objective studies).")
    ] = "median",
    max_flops: Annotated[float | None, typer.Option("--max-flops")] = None,
    max_params: Annotated[float | None, typer.Option("--max-params")] = None,
    max_mac: Annotated[float | None, typer.Option("--max-mac")] = None,
    max_latency_ms: Annotated[float | None, typer.Option("--max-latency-ms")] = None,
    threads: Annotated[int | None, typer.Option(min=1, help="CPU threads for latency.")] = None,
    darts_mode: Annotated[
        str,
        typer.Option(
            "--darts-mode", help="DARTS: full (every op runs) or gumbel (one sampled path)."
        ),
    ] = "full",
    darts_order: Annotated[
        str, typer.Option("--darts-order", help="DARTS: first- or second-order (unrolled).")
    ] = "first",
    darts_epochs: Annotated[int, typer.Option("--darts-epochs", min=1)] = 10,
    cost: Annotated[
        str,
        typer.Option(
            help="DARTS cost-aware loss: flops, mac or latency (a table measured on this device)."
        ),
    ] = "flops",
    cost_weight: Annotated[float, typer.Option("--cost-weight", min=0.0)] = 0.0,
    derive_top: Annotated[
        int,
        typer.Option(
            "--derive-top", min=0, help="DARTS: also retrain the K next most likely architectures."
        ),
    ] = 0,
    workers: Annotated[
        int, typer.Option(min=1, help="Local worker processes sharing the run's study.")
    ] = 1,
    devices: Annotated[
        str | None, typer.Option(help="Devices for the workers, e.g. cuda:0,cuda:1 (round robin).")
    ] = None,
    heartbeat: Annotated[
        int,
        typer.Option(
            min=1, help="Worker heartbeat in seconds; a trial silent for 3 beats is retried."
        ),
    ] = 10,
) -> None:
    """Search a space for accurate, cheap networks; results stay in a resumable Optuna study.

    Example: archsearch run --space mobile
    """
    from .run import RunConfig, run_search

    config = RunConfig(
        space=space,
        dataset=dataset,
        searcher=searcher,
        objectives=tuple(o.strip() for o in objectives.split(",") if o.strip()),
        trials=trials,
        timeout=timeout,
        epochs=epochs,
        device=device,
        seed=seed,
        name=name,
        runs_dir=runs_dir,
        reports_dir=reports_dir,
        storage=storage,
        study=study,
        pruner=pruner,
        max_flops=max_flops,
        max_params=max_params,
        max_mac=max_mac,
        max_latency_ms=max_latency_ms,
        latency_threads=threads,
        darts_mode=darts_mode,
        darts_order=darts_order,
        darts_epochs=darts_epochs,
        cost=cost,
        cost_weight=cost_weight,
        derive_top=derive_top,
        workers=workers,
        devices=devices,
        heartbeat=heartbeat,
    )
    _run_with_progress(lambda progress: run_search(config, progress=progress), config)


def _run_with_progress(start: Any, config: Any) -> None:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from .run import RunProgress

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err, transient=False) as bar:
        trials_task = bar.add_task("trials", total=config.trials)
        epoch_task = bar.add_task("candidate", total=1, visible=False)

        def on_start(name: str, done: int, total: int) -> None:
            bar.update(trials_task, description=f"run {name}", completed=done, total=total)

        def on_candidate(number: int, arch: Any, epochs: int) -> None:
            text = str(arch)
            text = text if len(text) < 70 else text[:67] + "..."
            bar.update(
                epoch_task,
                description=f"#{number} {text}",
                completed=0,
                total=epochs,
                visible=True,
            )

        def on_epoch(number: int, epoch: int, accuracy: float) -> None:
            bar.update(epoch_task, completed=epoch + 1)

        def on_trial(trial: Any, best: dict[str, float], done: int) -> None:
            from .study import format_value, record_of

            attrs = record_of(trial)
            status = attrs.get("status", trial.state.name.lower())
            detail = (
                f"acc {attrs.get('val_accuracy', 0):.3f}  flops {attrs.get('flops', 0):,}"
                if status == "ok"
                else attrs.get("reason", "")
            )
            best_text = "  ".join(f"{k} {format_value(k, v)}" for k, v in best.items())
            bar.console.print(
                f"#{trial.number:<4} {status:<10} {escape(detail)}   [dim]best: {best_text}[/]"
            )
            bar.update(trials_task, completed=done)

        progress = RunProgress(
            on_message=lambda text: bar.console.print(escape(text)),
            on_start=on_start,
            on_candidate=on_candidate,
            on_epoch=on_epoch,
            on_trial=on_trial,
        )
        try:
            result = start(progress)
        except KeyboardInterrupt:
            bar.stop()
            err.print(
                "[yellow]stopped[/]: completed trials are saved; run the same command"
                " again to continue."
            )
            raise typer.Exit(130) from None
        bar.update(epoch_task, visible=False)
    print_run_result(result)


def print_run_result(result: Any) -> None:
    counts = result.counts
    out.print(
        f"\n[bold]{result.name}[/]: {counts['ok']} completed, {counts['pruned']} pruned,"
        f" {counts['failed']} failed, {counts['infeasible']} infeasible in"
        f" {result.seconds:.0f} s"
        + (
            f" ({result.resumed_trials} interrupted trials retried)"
            if result.resumed_trials
            else ""
        )
    )
    columns = {
        "trial": ("number", "d"),
        "id": ("arch_id", "s"),
        "accuracy": ("accuracy", ".4f"),
        "test acc.": ("test_accuracy", ".4f"),
        "params": ("params", ","),
        "flops": ("flops", ","),
        "mac": ("mac", ","),
        "latency ms": ("latency_ms", ".3f"),
    }
    shown = {
        title: spec
        for title, spec in columns.items()
        if any(row.get(spec[0]) is not None for row in result.pareto)
    }
    table = Table(*shown, title="Pareto-optimal candidates")
    for row in result.pareto:
        table.add_row(
            *("" if row.get(key) is None else format(row[key], fmt) for key, fmt in shown.values())
        )
    out.print(table)
    for row in result.pareto:
        out.print(f"  {row['arch_id']}  {row['architecture']}", soft_wrap=True)
    out.print(
        f"study: {result.files['study']}  (open with: optuna-dashboard {result.files['study']})",
        soft_wrap=True,
    )
    out.print(f"report: {result.files['report']}")
    out.print(f"trials: {result.files['trials_csv']}")
    out.print(f"weights: {result.files['weights']}")


def parse_hyperparameter(flag: str, text: str) -> Any:
    """``1e-4:1e-1:log`` → a log range; ``32,64`` → choices; ``0.9`` → a fixed value."""
    from .space.distributions import Categorical, Fixed, FloatRange, IntRange

    def value(part: str) -> Any:
        for cast in (int, float):
            try:
                return cast(part)
            except ValueError:
                pass
        return part.strip()

    if ":" in text:
        parts = text.split(":")
        log = len(parts) == 3 and parts[2] == "log"
        if len(parts) not in (2, 3) or (len(parts) == 3 and not log):
            raise ArchsearchError(f"{flag} '{text}': expected LOW:HIGH or LOW:HIGH:log")
        low, high = value(parts[0]), value(parts[1])
        if (
            not all(isinstance(v, (int, float)) for v in (low, high))
            or low > high
            or (log and low <= 0)
        ):
            raise ArchsearchError(f"{flag} '{text}': expected LOW <= HIGH (LOW > 0 for log)")
        if isinstance(low, int) and isinstance(high, int):
            return IntRange(low, high, 1, log)
        return FloatRange(float(low), float(high), None, log)
    if "," in text:
        return Categorical(tuple(value(p) for p in text.split(",") if p.strip()))
    return Fixed(value(text))


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
    dataset: DatasetOpt = "digits",
    device: DeviceOpt = "auto",
    seed: SeedOpt = 0,
    name: Annotated[
        str | None, typer.Option(help="Run name (default: tune-MODEL-SAMPLER).")
    ] = None,
    runs_dir: Annotated[str, typer.Option("--runs-dir")] = "runs",
    reports_dir: Annotated[str, typer.Option("--reports-dir")] = "reports",
    pruner: Annotated[str, typer.Option(help="median, hyperband or none.")] = "median",
) -> None:
    """Tune the training hyperparameters of one fixed architecture.

    Example: archsearch tune --model mobilenet_v2 --sampler grid --lr 0.01,0.1 --batch-size 32,64
    """
    from pathlib import Path

    from . import zoo as model_zoo
    from .objective import Candidates
    from .run import RunConfig, run_search
    from .space import load_space

    if (arch is None) == (model is None):
        raise ArchsearchError("give exactly one of --arch or --model")
    if sampler not in ("random", "grid"):
        raise ArchsearchError(f"--sampler '{sampler}': choose random or grid")
    architecture = load_architecture_file(arch) if arch else model_zoo.get(model or "")
    base = load_space(space or "mobile")
    flags = {
        "lr": lr,
        "batch_size": batch_size,
        "weight_decay": weight_decay,
        "momentum": momentum,
        "optimizer": optimizer,
        "label_smoothing": label_smoothing,
    }
    given = {
        k: parse_hyperparameter(f"--{k.replace('_', '-')}", v)
        for k, v in flags.items()
        if v is not None
    }
    hyperparameters = given if given else dict(base.hyperparameters)
    label = model or Path(arch or "arch").stem
    config = RunConfig(
        space=space or "mobile",
        dataset=dataset,
        searcher=sampler,
        objectives=("accuracy",),
        trials=trials,
        epochs=epochs,
        device=device,
        seed=seed,
        name=name or f"tune-{label}-{sampler}",
        runs_dir=runs_dir,
        reports_dir=reports_dir,
        pruner=pruner,
    )
    candidates = Candidates(
        architecture=architecture, hyperparameters=hyperparameters, epochs=epochs
    )
    if sampler == "grid":
        from .run import search_grid
        from .searchers import grid_size

        points = grid_size(search_grid(candidates))
        err.print(f"grid: {points} points")
    text = f"tune {architecture.to_json()} {sorted(given)}"
    _run_with_progress(
        lambda progress: run_search(
            config, candidates=candidates, space_text=text, progress=progress
        ),
        config,
    )


@app.command()
@user_errors
def export(
    run: Annotated[str, typer.Argument(help="Run folder or run name.")],
    output: Annotated[str, typer.Option("-o", "--output", help="Output folder.")],
    trial: Annotated[int | None, typer.Option("--trial", help="Trial number.")] = None,
    best: Annotated[bool, typer.Option("--best", help="The best trial for --objective.")] = False,
    objective: Annotated[str, typer.Option(help="Objective for --best.")] = "accuracy",
    runs_dir: Annotated[str, typer.Option("--runs-dir")] = "runs",
) -> None:
    """Export a trained candidate: architecture JSON, weights, TorchScript, re-profiled.

    Example: archsearch export runs/mobile-tpe --best --objective accuracy -o exported/
    """
    from pathlib import Path

    from .export import export_trial, open_run, pick_trial

    if trial is None and not best:
        best = True
    study = open_run(run, runs_dir)
    chosen = pick_trial(study, trial, objective)
    folder = Path(run) if (Path(run) / "study.db").is_file() else Path(runs_dir) / run
    result = export_trial(study, chosen, output, folder / "weights")
    for kind, path in result.files.items():
        out.print(f"{kind:>12}: {path}")
    verdict = "matches" if result.profile_matches else "[red]differs from[/]"
    out.print(
        f"re-profile: params {result.params:,}, flops {result.flops:,}, mac"
        f" {result.mac:,} — {verdict} the study"
    )


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
    runs_dir: Annotated[str, typer.Option("--runs-dir")] = "runs",
    reports_dir: Annotated[str, typer.Option("--reports-dir")] = "reports",
    latency_samples: Annotated[
        int,
        typer.Option(
            min=0,
            help="When a run recorded no latency,"
            " measure this many candidates here to rank"
            " FLOPs and MAC against latency.",
        ),
    ] = 20,
    device: DeviceOpt = "cpu",
) -> None:
    """Write a self-contained HTML report (Pareto fronts, history, every trial, per-candidate
    detail) of one or more runs, with the trials as CSV beside it.

    Example: archsearch report runs/mobile-tpe runs/mobile-random -o reports/compare.html
    """
    from pathlib import Path

    from .export import open_run
    from .report import write_report
    from .storage import open_storage, require_study

    if storage is not None:
        if not study:
            raise ArchsearchError("--storage needs --study NAME")
        import optuna

        backend = open_storage(storage)
        for name in study:
            require_study(backend, storage, name)
        studies = [optuna.load_study(study_name=name, storage=backend) for name in study]
    elif runs:
        studies = [open_run(run, runs_dir) for run in runs]
    else:
        raise ArchsearchError("give one or more run folders, or --storage URL --study NAME")
    name = "+".join(s.study_name for s in studies)
    path = Path(output) if output else Path(reports_dir) / f"{name}.html"
    written = write_report(studies, path, latency_samples=latency_samples, device=device)
    out.print(f"report: {written}")
    out.print(f"trials: {written.with_suffix('.csv')}")


@app.command()
@user_errors
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
    space: Annotated[
        str | None,
        typer.Option(
            help="Create the study from this space (default options) if it does not exist;"
            " an existing study must come from the same space."
        ),
    ] = None,
) -> None:
    """Join a run's study and train candidates until its budget is reached.

    Example: archsearch worker --storage postgresql://nas@db/nas --study mobile-tpe --device cuda:0
    """
    import torch

    from .run import run_worker

    if threads is not None:
        torch.set_num_threads(threads)
    try:
        done = run_worker(
            storage,
            study,
            device=device,
            trials=trials,
            heartbeat=heartbeat,
            seed=seed,
            space=space,
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
    runs_dir: Annotated[str, typer.Option("--runs-dir")] = "runs",
    as_json: JsonOpt = False,
) -> None:
    """Progress of a run: trials by state, and the best value of each objective so far.

    Example: archsearch status runs/mobile-tpe
    """
    from .export import open_run
    from .report._info import get_run_info

    if run is None and (storage is None or study is None):
        raise ArchsearchError("give a run folder, or --storage URL --study NAME")
    loaded = open_run(run or study or "", runs_dir, storage=storage, study_name=study)
    info = get_run_info(loaded)
    if as_json:
        out.print_json(
            json.dumps(
                {
                    "study": info.name,
                    "counts": dict(info.counts),
                    "best": dict(info.best),
                    "budget": info.budget,
                }
            )
        )
        return
    from .study import format_value

    out.print(
        f"[bold]{info.name}[/]: "
        + ", ".join(f"{n} {k}" for k, n in info.counts)
        + f" (budget: {info.budget})"
    )
    for name, value in info.best:
        out.print(f"  best {name}: {format_value(name, value)}")


bench_app = typer.Typer(
    help="Benchmarks on this machine.\n\nExample: archsearch bench guidelines",
    no_args_is_help=True,
)
app.add_typer(bench_app, name="bench")


@bench_app.command("guidelines")
@user_errors
def bench_guidelines(
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:N.")] = "auto",
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

    from .profiler.bench import run_guideline_benchmarks

    with Progress(transient=True, console=err) as bar:
        task = bar.add_task("timing", total=None)
        tables = run_guideline_benchmarks(
            device,
            threads,
            width,
            size,
            batch,
            rounds,
            progress=lambda s: bar.update(task, description=s),
        )
    for t in tables:
        table = Table(
            "variant",
            "flops",
            "ms",
            "images/s",
            "relative",
            "paper (GPU)",
            title=f"{t.guideline} — {t.title}",
        )
        for row in t.rows:
            table.add_row(
                row.variant,
                f"{row.flops:,}",
                f"{row.median_ms:.3f}",
                f"{row.images_per_s:,.1f}",
                f"{row.relative:.2f}",
                "" if row.paper_relative is None else f"{row.paper_relative:.2f}",
            )
        out.print(table)
        verdict = "[green]holds here[/]" if t.holds else "[yellow]does not hold here[/]"
        out.print(f"paper: {t.expected} — {verdict}\n")


def main() -> None:
    """Console-script entry point."""
    import optuna

    # the commands print their own progress and failures; Optuna's log would repeat them
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    app(prog_name="archsearch")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
