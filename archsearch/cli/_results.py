"""Commands over a run's results: ``export`` and ``report``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ._app import app, user_errors
from ._console import out
from ._options import DeviceOpt, ReportsDirOpt, RunsDirOpt


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

    Example: archsearch export runs/mobile-local --best --objective accuracy --format onnx -o
    exported/
    """
    from ..export import export_formats, export_run
    from ._console import print_export

    formats = export_formats(export_format)
    print_export(
        export_run(
            run, output, trial=trial, objective=objective, formats=formats, runs_dir=runs_dir
        )
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
    table: Annotated[
        str | None,
        typer.Option(
            help="Instead of runs: the page of a tabulated benchmark (a shipped name or a"
            " file): every network by family, the choices that pay, the best per family."
        ),
    ] = None,
) -> None:
    """Write a self-contained HTML report (Pareto fronts, history, every trial, per-candidate
    detail) of one or more runs, with the trials as CSV beside it; or a table's page.

    Example: archsearch report runs/mobile-local runs/mobile-random -o reports/compare.html
    """
    from ..profiler import parse_latency_backends
    from ..report import write_report, write_table_page
    from ..runs import open_runs

    if table is not None:
        from ..bench import read_table

        loaded = read_table(table)
        name = str(loaded.meta.get("name", "table"))
        page = Path(output) if output else Path(reports_dir) / f"{name}.html"
        out.print(f"report: {write_table_page(loaded.frame, loaded.meta, page)}")
        return
    studies = open_runs(runs, storage=storage, studies=study, runs_dir=runs_dir)
    name = "+".join(s.study_name for s in studies)
    written = write_report(
        studies,
        Path(output) if output else Path(reports_dir) / f"{name}.html",
        latency_samples=latency_samples,
        device=device,
        latency_backends=parse_latency_backends(latency_backend),
    )
    out.print(f"report: {written}")
    out.print(f"trials: {written.with_suffix('.csv')}")
