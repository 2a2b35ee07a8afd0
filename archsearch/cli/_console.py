"""What the command line prints: tables, the run's progress display, and results. The
commands of :mod:`archsearch.cli` parse flags and call the library; this module shows what it
returns (on stdout; progress and errors go to stderr)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

if TYPE_CHECKING:  # the library is imported by the commands that use it, not by `--help`
    from ..runs import RunProgress, RunResult

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


def print_rows(title: str, columns: dict[str, str], rows: list[dict[str, Any]]) -> None:
    """A table of ``rows``: ``columns`` maps a header to a row key (numbers get thousands)."""
    table = Table(*columns, title=title)
    for row in rows:
        table.add_row(
            *(f"{row[k]:,}" if isinstance(row[k], int) else str(row[k]) for k in columns.values())
        )
    out.print(table)


def print_files(files: dict[str, str]) -> None:
    """What a command wrote: one ``name: path`` line each."""
    for name, file in files.items():
        out.print(f"{name}: {file}")


def with_spinner(start: Callable[[Callable[[str], None]], Any]) -> Any:
    """``start(say)`` under a transient spinner; ``say(text)`` updates its description."""
    from rich.progress import Progress

    with Progress(transient=True, console=err) as bar:
        task = bar.add_task("working", total=None)
        return start(lambda text: bar.update(task, description=text))


def bench_with_progress(
    start: Callable[[Callable[[str, int, int], None]], Any], total: int, unit: str = "runs"
) -> Any:
    """``start(on_progress)`` under a bar of ``total`` ``unit`` (ETA included);
    ``on_progress(text, done, total)`` after each (the total may be known only then)."""
    from rich.progress import Progress

    with Progress(console=err) as bar:
        task = bar.add_task(unit, total=total)
        return start(
            lambda text, done, count: bar.update(
                task, completed=done, total=count, description=text
            )
        )


def _progress() -> Any:
    """The progress display of long commands: description, bar, done/total, elapsed, ETA."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    return Progress(*columns, console=err, transient=False)


def run_with_progress(start: Callable[[RunProgress], RunResult], trials: int) -> None:
    """Run ``start(progress)`` under a progress display (trials, the candidate's epochs, a
    line per trial), then print the result; Ctrl-C ends it with exit status 130."""

    with _progress() as bar:
        trials_task = bar.add_task("trials", total=trials)
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
            from ..study import format_value, record_of, status_of

            attrs = record_of(trial)
            status = status_of(trial)
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

        from ..runs import RunProgress

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


def print_run_result(result: RunResult) -> None:
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
    if result.advice:
        out.print(result.advice, soft_wrap=True)


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
            f"{lat.threads} threads, {lat.mode}, {lat.backend} {lat.runtime_version}",
        )
    out.print(totals)
    if len(result.latency_sweep) > 1:
        sweep = Table(
            "batch", "backend", "median ms", "p90 ms", "ms / image", "images/s", "CPU share",
            title="Latency by batch and backend",
        )  # fmt: skip
        for lat in result.latency_sweep:
            share = "" if lat.cpu_share is None else f"{100 * lat.cpu_share:.0f}%"
            sweep.add_row(
                str(lat.batch), lat.backend, f"{lat.median_ms:.3f}", f"{lat.p90_ms:.3f}",
                f"{lat.median_ms / lat.batch:.4f}", f"{1000 * lat.batch / lat.median_ms:,.0f}",
                share,
            )  # fmt: skip
        out.print(sweep)
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


def print_guideline_tables(tables: list[Any]) -> None:
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


def print_status(info: Any) -> None:
    from ..study import format_value

    stale = f", {info.stale} of them stale (worker silent)" if info.stale else ""
    out.print(
        f"[bold]{escape(info.name)}[/]: "
        + ", ".join(f"{n} {k}" for k, n in info.counts)
        + f"{stale} (budget: {info.budget})"
    )
    for name, value in info.best:
        out.print(f"  best {name}: {format_value(name, value)}")


def print_export(result: Any) -> None:
    for kind, path in result.files.items():
        out.print(f"{kind:>12}: {path}")
    verdict = "matches" if result.profile_matches else "[red]differs from[/]"
    where = "the study" if result.trial is not None else "the training's summary"
    out.print(
        f"re-profile: params {result.params:,}, flops {result.flops:,}, mac"
        f" {result.mac:,} — {verdict} {where}"
    )
    if result.onnx_max_abs_diff is not None:
        out.print(
            f"ONNX Runtime vs PyTorch: max |logit difference| {result.onnx_max_abs_diff:.2e}"
            " on batches of 1 and 5"
        )


def final_training_with_progress(config: Any) -> None:
    """``train_final(config)`` under a progress bar (epoch, loss, accuracy, ETA), then its
    summary; Ctrl-C ends it with exit status 130 and says how to resume."""
    from ..runs import train_final

    with _progress() as bar:
        tasks: list[Any] = []  # the bar appears once the inputs are good

        def on_start(what: str, epochs: int) -> None:
            bar.console.print(escape(f"training {what}"))
            tasks.append(bar.add_task("epoch 0", total=epochs))

        def on_progress(result: Any, epochs: int) -> None:
            text = f"epoch {result.epochs}/{epochs}  loss {result.loss_curve[-1]:.4f}"
            text += f"  acc {result.val_curve[-1]:.4f}"
            if result.ema_val_curve:
                text += f"  ema {result.ema_val_curve[-1]:.4f}"
            bar.update(tasks[0], description=text, completed=result.epochs)

        try:
            result = train_final(
                config, on_progress, lambda text: bar.console.print(escape(text)), on_start
            )
        except KeyboardInterrupt:
            bar.stop()
            err.print(
                "[yellow]stopped[/]: run the same command again to resume from the last"
                " finished epoch."
            )
            raise typer.Exit(130) from None
    out.print(
        f"{result.source}: {result.epochs} epochs on {result.device} in {result.seconds:.1f} s"
    )
    out.print(f"  test accuracy {result.test_accuracy:.4f}", end="")
    if result.ema_test_accuracy is not None:
        out.print(f"  (EMA weights {result.ema_test_accuracy:.4f})", end="")
    out.print(f"   params {result.params:,}  flops {result.flops:,}")
    for kind, path in result.files.items():
        out.print(f"{kind:>12}: {path}")
