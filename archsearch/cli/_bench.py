"""``archsearch bench``: the benchmarks of :mod:`archsearch.bench`, one command each."""

from __future__ import annotations

import json
from typing import Annotated, Any, get_args

import typer

from ..errors import choice
from ._app import bench_app, user_errors
from ._console import err, out
from ._options import DeviceOpt, JsonOpt, run_config_fields, with_run_options


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
    from ..bench import run_guideline_benchmarks
    from ._console import print_guideline_tables, with_spinner

    tables = with_spinner(
        lambda say: run_guideline_benchmarks(
            device, threads, width, size, batch, rounds, progress=say
        )
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
    seeds: Annotated[str, typer.Option(help="Seeds: 0,1,2 or 0-99.")] = "0,1,2",
    parallel: Annotated[int, typer.Option(min=1, help="Runs side by side.")] = 1,
    threads: Annotated[
        int | None, typer.Option(min=1, help="Torch threads per run (default: split evenly).")
    ] = None,
    cost_budgets: Annotated[
        str | None,
        typer.Option(help="Two costs for 'best accuracy under' (default: 1/4, 1/2 of the range)."),
    ] = None,
    table: Annotated[
        str | None,
        typer.Option(
            help="Replay against this tabulated benchmark (a shipped name or a file) on a"
            " simulated clock instead of training: --budget-s is simulated seconds."
        ),
    ] = None,
    workers: Annotated[int, typer.Option(min=1, help="With --table: simulated workers.")] = 1,
    retrain_epochs: Annotated[
        int,
        typer.Option(
            min=0,
            help="Train every run's front networks again for N epochs on the same images at"
            " the data's full size and test them: fronts searched at different fidelities"
            " compared alike (0: off).",
        ),
    ] = 0,
    retrain_images: Annotated[
        int, typer.Option(min=10, help="Images the front networks are retrained on.")
    ] = 5000,
    out_dir: Annotated[str, typer.Option("--out", "-o", help="Output folder.")] = "bench",
    **options: Any,
) -> None:
    """Compare searchers on one space at equal wall time over several seeds: hypervolume,
    its curve over time, trials judged, best accuracy under two cost budgets; with --table,
    replayed against a tabulated benchmark over many seeds in minutes.

    Example: archsearch bench search --table nb-mobile-digits --seeds 0-99 --budget-s 180
    """
    from ..bench import BenchConfig, parse_cost_budgets, parse_entries, parse_seeds, run_bench
    from ..bench.replay import ReplayConfig, run_replay
    from ..runs import RunConfig
    from ._console import bench_with_progress, print_files, print_rows

    base = RunConfig.from_options(**run_config_fields(options))
    entries, seed_list = tuple(parse_entries(searchers)), parse_seeds(seeds)
    if table is not None:
        cost = next(o for o in base.objectives if o != "accuracy")
        replay = ReplayConfig(
            table, entries, budget_s, seed_list, workers, cost, parallel=parallel, out_dir=out_dir
        )
        result = bench_with_progress(
            lambda on: run_replay(replay, on), len(entries) * len(seed_list)
        )
        shown = ("searcher", "hypervolume", "beats baseline", "wilcoxon p", "judged")
    else:
        config = BenchConfig(base, entries, budget_s, seed_list, parallel, threads, out_dir,
                             parse_cost_budgets(cost_budgets), retrain_epochs,
                             retrain_images)  # fmt: skip
        result = bench_with_progress(
            lambda on: run_bench(config, on), len(entries) * len(seed_list)
        )
        shown = ("searcher", "hypervolume", "judged", "pruned", "time to baseline hv")
        if retrain_epochs:
            shown = (*shown, "retrained hypervolume")
    print_rows("searchers compared", {k: k for k in shown}, result.rows)
    print_files(result.files)


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
    from ..bench import ProxyBenchConfig, run_proxy_bench
    from ..bench.proxies import Hyperparameters
    from ..runs import RunConfig
    from ._console import print_files, print_rows, run_with_progress

    config = ProxyBenchConfig(
        RunConfig.from_options(**run_config_fields(options)),
        samples,
        out_dir,
        hyperparameters=choice("hyperparameters", hyperparameters, get_args(Hyperparameters)),
    )
    results = []

    def start(progress: Any) -> Any:
        results.append(run_proxy_bench(config, progress))
        return results[0].run

    run_with_progress(start, samples)
    shown = ("proxy", "spearman", "spearman 95% CI", "kendall", "ms per candidate")
    print_rows("proxies against trained accuracy", {k: k for k in shown}, results[0].rows)
    print_files(results[0].files)


ONE_SHOT_BENCH_OPTIONS = (
    "space", "dataset", "epochs", "device", "seed", "train_limit", "train_fraction",
    "resolution", "spos_epochs", "spos_sampling",
)  # fmt: skip


@bench_app.command("one-shot")
@user_errors
@with_run_options(ONE_SHOT_BENCH_OPTIONS)
def bench_one_shot(
    samples: Annotated[
        int | None,
        typer.Option(
            min=3,
            help="Networks to estimate: random ones trained here (default 20), or spread over"
            " the table (default all).",
        ),
    ] = None,
    table: Annotated[
        str | None,
        typer.Option(
            help="A table (shipped name or file): its space, and its stand-alone accuracies"
            " instead of training each network here.",
        ),
    ] = None,
    out_dir: Annotated[str, typer.Option("--out", "-o", help="Output folder.")] = "bench-one-shot",
    **options: Any,
) -> None:
    """Train the SPOS supernet, then estimate networks with its weights against their
    stand-alone accuracy (trained here, or a table's): Kendall τ and Spearman ρ of the
    estimates (with and without BatchNorm recalibration) and of params, flops (and a table's
    proxies and second seed).

    Example: archsearch bench one-shot --space mobile --samples 20 --spos-epochs 10 --epochs 4

    Example: archsearch bench one-shot --table nb-mobile-digits --spos-epochs 30
    --spos-sampling sandwich
    """
    from ..bench import OneShotBenchConfig, run_one_shot_bench
    from ..runs import RunConfig
    from ._console import print_files, print_rows

    config = OneShotBenchConfig(
        RunConfig.from_options(**run_config_fields(options)), samples, out_dir, table=table
    )
    result = run_one_shot_bench(config, log=lambda message: err.print(message))
    shown = ("score", "spearman", "spearman 95% CI", "kendall", "kendall 95% CI")
    print_rows("estimates against trained accuracy", {k: k for k in shown}, result.rows)
    print_files(result.files)


TABULATE_OPTIONS = (
    "space", "dataset", "epochs", "device", "train_limit", "train_fraction", "resolution",
)  # fmt: skip


@bench_app.command("tabulate")
@user_errors
@with_run_options(TABULATE_OPTIONS)
def bench_tabulate(
    seeds: Annotated[str, typer.Option(help="Seeds that train every network.")] = "0",
    repeat_seeds: Annotated[
        str, typer.Option(help="Seeds that train a spread subset again (the seed noise).")
    ] = "",
    repeat_count: Annotated[
        int, typer.Option(min=1, help="Networks in the subset of --repeat-seeds.")
    ] = 100,
    workers: Annotated[int, typer.Option(min=1, help="Local worker processes.")] = 1,
    name: Annotated[str | None, typer.Option(help="Table name (default: SPACE-DATA).")] = None,
    out_dir: Annotated[str, typer.Option("--out", "-o", help="Output folder.")] = "tables",
    **options: Any,
) -> None:
    """Train every network of a finite space once (no early stopping) into a table that
    searchers can be replayed against; the same command again continues a killed run.

    Example: archsearch bench tabulate --space nb-mobile --seeds 0 --repeat-seeds 1,2 -o tables
    """
    from ..bench import TabulateConfig, parse_seeds, tabulate
    from ..runs import RunConfig
    from ._console import bench_with_progress

    config = TabulateConfig(
        RunConfig.from_options(**run_config_fields(options)),
        seeds=parse_seeds(seeds),
        repeat_seeds=parse_seeds(repeat_seeds),
        repeat_count=repeat_count,
        workers=workers,
        out_dir=out_dir,
        name=name,
    )
    result = bench_with_progress(lambda progress: tabulate(config, progress), 1, "networks")
    out.print(f"{result.networks:,} networks, {result.rows:,} rows: {result.table}")


@bench_app.command("tables")
@user_errors
def bench_tables(as_json: JsonOpt = False) -> None:
    """List the tabulated benchmarks shipped with archsearch.

    Example: archsearch bench tables
    """
    from ..bench import read_table, shipped_tables
    from ._console import print_rows

    rows = []
    for table_name in shipped_tables():
        meta = read_table(table_name).meta
        keys = ("name", "space", "dataset", "networks", "seeds", "repeat_seeds", "date")
        rows.append({key: meta.get(key) for key in keys})
    if as_json:
        out.print_json(json.dumps(rows))
        return
    print_rows("Shipped tables", {k: k for k in rows[0]} if rows else {"name": "name"}, rows)
