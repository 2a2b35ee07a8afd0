"""``archsearch bench tabulate``: every network of a finite space trained once, into a table —
a tabulated benchmark (NAS-Bench-201, HW-NAS-Bench) made with archsearch's own trainer on its
own job, so that searchers can be replayed against it at no training cost.

Each seed is an ordinary grid run (:func:`~archsearch.runs.run_search`) without early
stopping: its study is the store, so the same command after a kill continues where it
stopped, and ``workers`` local processes (or ``archsearch worker`` over PostgreSQL) share it.
Seed ``s`` trains trial ``n`` with seed ``s + n`` on the validation split of seed ``s``, as
any run does. Extra seeds (``repeat_seeds``) train ``repeat_count`` evenly spaced networks
again, so the seed-to-seed spread of one network's accuracy is known. Every trained network
is then evaluated on the test split, and the studies are read back into one table
(:func:`write_table`): a gzipped CSV whose first line is a ``#`` and the metadata as JSON
(space file, data, recipe, machine, versions, date).
"""

from __future__ import annotations

import datetime
import gzip
import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

import optuna
import pandas as pd

from ..architecture import Architecture
from ..errors import ArchsearchError, ConfigError
from ..objective import Candidates
from ..runs import RunConfig, RunProgress, RunResult, run_search
from ..runs._loop import distinct_points, run_data, search_grid
from ..runs.resume import load_run_space
from ..runs.search import evaluate_test_split
from ..searchers import grid_size
from ..space import SearchSpace, continuous_fields
from ..study import completed, proxies_of, record_of, test_accuracies
from ..train import resolve_device
from ._output import machine_line

TABLE_FORMAT = 1
TABLE_SUFFIX = ".csv.gz"
#: the most networks a table may hold (one trained network is seconds on 2 cores)
MAX_NETWORKS = 20_000
#: where the shipped tables live (package data)
TABLES_PACKAGE = "archsearch.tables"


@dataclass(frozen=True)
class TabulateConfig:
    base: RunConfig  # space, data, device, fidelity (the recipe is the space's)
    seeds: tuple[int, ...] = (0,)
    repeat_seeds: tuple[int, ...] = ()  # seeds that train a spread subset again
    repeat_count: int = 100
    workers: int = 1
    out_dir: str = "tables"
    name: str | None = None  # the table's file name (default SPACE-DATA)

    def __post_init__(self) -> None:
        if not self.seeds:
            raise ConfigError("seeds", "give at least one seed")
        if set(self.seeds) & set(self.repeat_seeds):
            raise ConfigError("repeat_seeds", "a repeat seed is also a seed")
        if self.repeat_count < 1 or self.workers < 1:
            raise ConfigError("repeat_count", "must be at least 1")

    @property
    def table_name(self) -> str:
        return self.name or f"{Path(self.base.space).stem}-{self.base.dataset.split(':')[0]}"


@dataclass
class TabulateResult:
    config: TabulateConfig
    networks: int  # distinct networks of the space
    table: Path
    rows: int
    runs: list[RunResult] = field(default_factory=list)


def finite_points(
    config: RunConfig, input_size: tuple[int, int]
) -> tuple[Candidates, list[dict[str, Any]], int]:
    """The space's candidates, its distinct points (each a network and its recipe) at
    ``input_size`` and the grid's size; refused, naming the size or the continuous fields, for
    a space that is not finite or too large to tabulate."""
    space, _ = load_run_space(config.space)
    candidates = Candidates(space=space, epochs=config.epochs)
    continuous = continuous_fields(space)
    if continuous:
        raise ConfigError(
            "space",
            f"'{config.space}' is not finite: {', '.join(continuous)} are continuous ranges"
            " (fix them, or give them a step)",
        )
    grid = search_grid(candidates)
    size = grid_size(grid)
    if size > MAX_NETWORKS:
        raise ConfigError(
            "space",
            f"'{config.space}' has {size:,} points, more than the {MAX_NETWORKS:,} a table"
            " may hold: fix more of its fields",
        )
    return candidates, distinct_points(candidates, grid, input_size), size


def architectures(space: SearchSpace, input_size: tuple[int, int]) -> dict[str, Architecture]:
    """Every network of a finite space by its id (a table's ``arch_id``), walked through the
    space as a trial would walk it."""
    candidates = Candidates(space=space)
    networks: dict[str, Architecture] = {}
    for point in distinct_points(candidates, search_grid(candidates), input_size):
        arch = space.sample_architecture(optuna.trial.FixedTrial(point), input_size)
        networks.setdefault(arch.id, arch)
    return networks


def spread(points: list[dict[str, Any]], count: int) -> list[dict[str, Any]]:
    """``count`` points spread evenly over ``points`` (all of them when there are fewer)."""
    if count >= len(points):
        return list(points)
    return [points[i * len(points) // count] for i in range(count)]


def tabulate(
    config: TabulateConfig, on_progress: Callable[[str, int, int], None] | None = None
) -> TabulateResult:
    """Train every network of ``config.base.space`` for each seed (and the spread subset for
    each repeat seed), then write the table; ``on_progress(text, done, total)`` after each
    trained network."""
    # each run's data loaded once (the run's seed draws its validation split); the input size,
    # which decides the networks, is the same for every seed
    first = run_data(replace(config.base, seed=config.seeds[0]))
    candidates, points, size = finite_points(config.base, first.input_size)
    subset = spread(points, config.repeat_count)
    plan = [(seed, points) for seed in config.seeds]
    plan += [(seed, subset) for seed in config.repeat_seeds]
    total = sum(len(p) for _, p in plan)
    out = Path(config.out_dir)
    result = TabulateResult(config, len(points), out / f"{config.table_name}{TABLE_SUFFIX}", 0)
    rows: list[dict[str, Any]] = []
    done_before = 0
    for seed, seed_points in plan:
        run = _run_config(config, seed, size)
        label = f"{config.table_name} seed {seed}"

        def on_trial(
            trial: Any, best: Any, judged: int, before: int = done_before, label: str = label
        ) -> None:
            if on_progress is not None:
                on_progress(label, before + judged, total)

        progress = RunProgress(on_trial=on_trial)
        data = first if seed == config.seeds[0] else run_data(run)
        finished = run_search(
            run, candidates=candidates, progress=progress, data=data, points=seed_points
        )
        trained = completed(finished.study)
        evaluate_test_split(
            finished.study, data, run.run_dir / "weights", resolve_device(run.device), trained
        )
        rows += table_rows(finished.study, seed)
        result.runs.append(finished)
        done_before += len(seed_points)
        if on_progress is not None:
            on_progress(label, done_before, total)
    meta = table_meta(config, result.runs[0].study, len(points))
    write_table(result.table, meta, rows)
    result.rows = len(rows)
    return result


def _run_config(config: TabulateConfig, seed: int, size: int) -> RunConfig:
    out = Path(config.out_dir)
    return RunConfig.from_options(
        **{
            **config.base.options(),
            "searcher": "grid",
            "pruner": "none",  # every network to its last epoch: the table's curves
            "objectives": ("accuracy", "flops"),
            "trials": size,
            "timeout": None,
            "seed": seed,
            "name": f"{config.table_name}-s{seed}",
            "runs_dir": str(out / "runs"),
            "reports_dir": str(out / "reports"),
            "storage": None,
            "study": None,
            "write_report": False,
            "workers": config.workers,
            "proxy_screen": None,
            "proxy_warmup": 0,
        }
    )


def table_rows(study: optuna.Study, seed: int) -> list[dict[str, Any]]:
    """One row per trained network of a tabulating run: its choices, costs, every epoch's
    validation accuracy and seconds, test accuracy, proxies and seeds."""
    tests = test_accuracies(study)
    rows = []
    for trial in completed(study):
        record = record_of(trial)
        row: dict[str, Any] = {
            "seed": seed,
            "train_seed": seed + trial.number,
            "arch_id": record["arch_id"],
            "architecture": record["arch_str"],
            **dict(sorted(trial.params.items())),
            "params": record["params"],
            "flops": record["flops"],
            "mac": record["mac"],
            "test_accuracy": tests.get(trial.number),
        }
        for epoch, accuracy in enumerate(record["val_curve"], start=1):
            row[f"val_{epoch}"] = accuracy
        for epoch, seconds in enumerate(record.get("epoch_seconds", []), start=1):
            row[f"sec_{epoch}"] = seconds
        row.update({f"proxy.{k}": v for k, v in proxies_of(trial).items()})
        row["threads"] = record.get("threads")
        row["device"] = record.get("device")
        rows.append(row)
    return rows


def table_meta(config: TabulateConfig, study: optuna.Study, networks: int) -> dict[str, Any]:
    from ..study import run_record

    record = run_record(study)
    space, text = load_run_space(config.base.space)
    return {
        "format": TABLE_FORMAT,
        "name": config.table_name,
        "space": space.name,
        "space_yaml": text,
        "dataset": record.dataset,
        "input_shape": list(record.input_shape),
        "num_classes": record.num_classes,
        "recipe": {k: repr(v) for k, v in space.hyperparameters.items()},
        "epochs": config.base.epochs,
        "networks": networks,
        "seeds": list(config.seeds),
        "repeat_seeds": list(config.repeat_seeds),
        "repeat_count": config.repeat_count if config.repeat_seeds else 0,
        "workers": config.workers,
        "machine": machine_line(),
        "date": datetime.date.today().isoformat(),
    }


def write_table(path: Path, meta: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    """The table as gzipped CSV, its first line ``# `` and ``meta`` as JSON; the same rows
    give the same bytes (a gzip header without file name or time)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "# " + json.dumps(meta, sort_keys=True) + "\n" + pd.DataFrame(rows).to_csv(index=False)
    partial = path.with_suffix(".partial")
    packed = gzip.compress(text.encode("utf-8"), mtime=0)  # no file name, no time
    partial.write_bytes(packed)
    partial.replace(path)


@dataclass(frozen=True)
class Table:
    """A tabulated benchmark: its metadata and one row per trained network and seed."""

    meta: dict[str, Any]
    frame: pd.DataFrame
    source: str

    @property
    def epochs(self) -> int:
        return sum(1 for c in self.frame.columns if c.startswith("val_"))


def read_table(name_or_path: str) -> Table:
    """A shipped table by name (:func:`shipped_tables`) or a table file."""
    path = Path(name_or_path)
    if path.suffix == ".gz" or path.exists():
        if not path.is_file():
            raise ArchsearchError(f"{name_or_path}: no table file there")
        opened = path.open("rb")
        source = str(path)
    else:
        resource = resources.files(TABLES_PACKAGE) / f"{name_or_path}{TABLE_SUFFIX}"
        if not resource.is_file():
            known = ", ".join(shipped_tables()) or "none"
            raise ArchsearchError(
                f"{name_or_path}: no shipped table of this name (shipped: {known}); or give"
                " the path of a table file"
            )
        opened = resource.open("rb")
        source = f"{name_or_path} (shipped)"
    with opened as raw, gzip.open(raw, "rt", encoding="utf-8") as text:
        first = text.readline()
        if not first.startswith("# "):
            raise ArchsearchError(f"{source}: not an archsearch table (no metadata line)")
        try:
            meta = json.loads(first[2:])
        except json.JSONDecodeError as error:
            raise ArchsearchError(f"{source}: its metadata line is not JSON ({error})") from None
        frame = pd.read_csv(text)
    return Table(meta, frame, source)


def shipped_tables() -> list[str]:
    """Names of the tables shipped in the package."""
    folder = resources.files(TABLES_PACKAGE)
    return sorted(
        entry.name.removesuffix(TABLE_SUFFIX)
        for entry in folder.iterdir()
        if entry.name.endswith(TABLE_SUFFIX)
    )
