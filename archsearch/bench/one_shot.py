"""``archsearch bench one-shot``: can the supernet's estimates be trusted on this space and
data? The question every weight-sharing result must answer first (Yu et al., "Evaluating the
search phase of neural architecture search", ICLR 2020: on several spaces the one-shot
ranking was no better than random).

The supernet of ``--searcher spos`` is trained as a run would train it; then ``samples``
networks are drawn at random from the space (by its own walk, within the supernet), each is
estimated with the supernet's weights — after BatchNorm recalibration, and, to show what it
does, without — and each is trained stand-alone from scratch with the space's middle
hyperparameters (every network alike, as NAS-Bench-201 trains every cell). Kendall τ and
Spearman ρ of the estimates against the trained accuracies, with bootstrap intervals, beside
those of params and flops, the baselines any estimate must beat.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..architecture import Architecture
from ..build import build_model
from ..data import Dataset
from ..errors import ArchsearchError, ConfigError
from ..profiler import architecture_costs
from ..proxies.correlation import BOOTSTRAP_RESAMPLES, rank_correlation
from ..report import _html
from ..runs import RunConfig
from ..runs._loop import run_data
from ..runs.resume import load_run_space
from ..searchers.oneshot import plan_supernet
from ..searchers.oneshot.paths import RandomSuggester, sample_network
from ..searchers.oneshot.plan import SupernetPath, SupernetPlan, path_of
from ..searchers.oneshot.spos import (
    CHECKPOINT,
    OneShotEvaluator,
    SposConfig,
    supernet_hyperparameters,
    train_supernet,
)
from ..space import SearchSpace
from ..train import TrainConfig, resolve_device, seed_everything, train
from ._output import data_line, machine_line, markdown_table, write_outputs
from .replay import Lookup
from .tabulate import architectures, read_table, spread

#: random networks estimated and trained when no table gives the accuracies
DEFAULT_SAMPLES = 20


@dataclass(frozen=True)
class OneShotBenchConfig:
    base: RunConfig  # space, data, epochs (stand-alone training), fidelity, seed, device
    samples: int | None = None  # networks to judge: 20, or every network of the table
    out_dir: str = "bench-one-shot"
    resamples: int = BOOTSTRAP_RESAMPLES
    table: str | None = None  # the stand-alone accuracies (and the space) from a table

    def __post_init__(self) -> None:
        if self.samples is not None and self.samples < 3:
            raise ConfigError("samples", "a rank correlation needs at least 3 networks")

    @property
    def spos(self) -> SposConfig:
        base = self.base
        return SposConfig(epochs=base.spos.epochs, sampling=base.spos.sampling, seed=base.seed)


@dataclass
class OneShotBenchResult:
    config: OneShotBenchConfig
    candidates: list[dict[str, Any]] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)  # one per ranking score
    supernet: dict[str, Any] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    machine: str = ""
    estimate_ms: float = 0.0  # per network, recalibration included
    outside: int = 0  # networks of the table the supernet cannot run (left out)
    table: str = ""  # the table's source, when its accuracies were used


@dataclass(frozen=True)
class Judged:
    """A network to estimate; ``trained`` is its stand-alone accuracy when a table gives it
    (else it is trained here), ``scores`` the table's other ranking scores (proxies)."""

    arch: Architecture
    path: SupernetPath
    trained: float | None = None
    scores: dict[str, float] = field(default_factory=dict)


def _random_networks(
    config: OneShotBenchConfig, space: SearchSpace, plan: SupernetPlan, data: Dataset
) -> list[Judged]:
    suggester = RandomSuggester(random.Random(config.base.seed + 1))
    networks: dict[str, Judged] = {}
    while len(networks) < (config.samples or DEFAULT_SAMPLES):
        arch, path = sample_network(space, plan, suggester, data.input_size)
        networks.setdefault(arch.to_json(), Judged(arch, path))
    return list(networks.values())


def _table_networks(
    config: OneShotBenchConfig, lookup: Lookup, plan: SupernetPlan, result: OneShotBenchResult
) -> list[Judged]:
    """The table's networks of the run's seed (``samples`` of them spread over the table, or
    all) with their stand-alone accuracy after the table's last epoch; those outside the
    supernet are counted and left out."""
    networks = architectures(lookup.space, lookup.input_size)
    judged = []
    for arch_id, row in lookup.rows.items():
        try:
            path = path_of(plan, networks[arch_id])
        except ArchsearchError:
            result.outside += 1
            continue
        proxies = {k: float(v) for k, v in row.items() if k.startswith("proxy.")}
        judged.append(Judged(networks[arch_id], path, float(row[f"val_{lookup.epochs}"]), proxies))
    return spread(judged, config.samples) if config.samples else judged


def _seed_noise_row(lookup: Lookup, resamples: int) -> dict[str, Any] | None:
    """The ceiling of any estimate: another training seed's accuracy as a ranking of the
    first seed's (the table's repeat subset)."""
    frame = lookup.table.frame
    last = f"val_{lookup.epochs}"
    others = [s for s in frame.seed.unique() if s != lookup.seed]
    if not others:
        return None
    other = frame[frame.seed == others[0]]
    pairs = [
        (lookup.rows[arch_id][last], value)
        for arch_id, value in zip(other.arch_id, other[last], strict=True)
        if arch_id in lookup.rows
    ]
    if len(pairs) < 3:
        return None
    first, second = zip(*pairs, strict=True)
    row = rank_correlation(
        f"another training seed ({others[0]})", list(second), list(first), resamples=resamples
    ).as_row()
    return {"score": row.pop("proxy"), **row}


def run_one_shot_bench(config: OneShotBenchConfig, log: Any = None) -> OneShotBenchResult:
    """Train the supernet, estimate ``samples`` networks (random ones, trained stand-alone
    here, or a table's, whose accuracies the table gives), correlate."""
    say = log or (lambda _message: None)
    base = config.base
    lookup = Lookup.of(read_table(config.table), seed=base.seed) if config.table else None
    if lookup:  # the space is the table's (named so in the summary)
        base = replace(base, space=lookup.space.name)
        config = replace(config, base=base)
    space = lookup.space if lookup else load_run_space(base.space)[0]
    data = run_data(base)
    if lookup and data.describe() != lookup.table.meta["dataset"]:
        raise ConfigError(
            "dataset",
            f"the table {lookup.table.source} was made on '{lookup.table.meta['dataset']}', not"
            f" '{data.describe()}': give the table's --dataset and fidelity",
        )
    device = resolve_device(base.device)
    plan = plan_supernet(space, data, widest=True)
    hp = supernet_hyperparameters(space)
    out = Path(config.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    result = OneShotBenchResult(config, machine=machine_line())
    if lookup:
        result.table = lookup.table.source
        networks = _table_networks(config, lookup, plan, result)
    else:
        networks = _random_networks(config, space, plan, data)
    say(f"supernet: {len(plan.positions)} positions, {base.spos.epochs} epochs")
    supernet, training = train_supernet(
        space,
        plan,
        data,
        device,
        config.spos,
        hp,
        checkpoint=out / CHECKPOINT,
        on_epoch=lambda epoch, loss: say(f"  epoch {epoch + 1}: loss {loss:.3f}"),
    )
    result.supernet = training.to_dict()
    evaluator = OneShotEvaluator(
        supernet, data, device, batch_size=int(hp["batch_size"]), seed=base.seed
    )
    shape = (1, data.in_channels, *data.input_size)
    train_config = TrainConfig.from_hyperparameters(
        {**hp, **({"epochs": base.epochs} if base.epochs else {})}, seed=base.seed
    )
    # first with the running statistics training left (recalibrating overwrites them)
    stale = [evaluator.accuracy(network.path, recalibrate=False) for network in networks]
    estimate_seconds = 0.0
    for index, network in enumerate(networks):
        started = time.perf_counter()
        estimate = evaluator.accuracy(network.path)
        estimate_seconds += time.perf_counter() - started
        costs = architecture_costs(network.arch, shape, data.num_classes)
        if network.trained is None:
            seed_everything(base.seed + index)
            model = build_model(network.arch, data.num_classes, data.in_channels)
            run = train(model, data, replace(train_config, seed=base.seed + index), device)
            trained, seconds = run.val_accuracy, round(run.seconds, 2)
        else:
            trained, seconds = network.trained, None
        result.candidates.append(
            {
                "architecture": str(network.arch),
                "params": costs.params,
                "flops": costs.flops,
                "one-shot estimate": round(estimate, 6),
                "without BN recalibration": round(stale[index], 6),
                "trained accuracy": round(trained, 6),
                **({"train seconds": seconds} if seconds is not None else {}),
                **network.scores,
            }
        )
        if network.trained is None or (index + 1) % 100 == 0 or index + 1 == len(networks):
            say(
                f"  network {index + 1}/{len(networks)}: estimate {estimate:.3f},"
                f" trained {trained:.3f}"
            )
    result.estimate_ms = 1000 * estimate_seconds / len(networks)
    accuracy = [c["trained accuracy"] for c in result.candidates]
    scores = ["one-shot estimate", "without BN recalibration", "params", "flops"]
    scores += list(networks[0].scores)
    for name in scores:
        values = [float(c[name]) for c in result.candidates]
        row = rank_correlation(name, values, accuracy, resamples=config.resamples).as_row()
        result.rows.append({"score": row.pop("proxy"), **row})
    noise = _seed_noise_row(lookup, config.resamples) if lookup else None
    if noise:
        result.rows.append(noise)
    result.files = write_one_shot_bench(result)
    return result


def write_one_shot_bench(result: OneShotBenchResult) -> dict[str, str]:
    body = (
        f'<p class="muted">{_html.esc(result.machine)}</p>'
        + _html.table(result.rows, "one-shot-summary")
        + "<h2>Networks</h2>"
        + _html.table(result.candidates, "one-shot-networks")
    )
    return write_outputs(
        result.config.out_dir,
        {"summary": result.rows, "candidates": result.candidates},
        summary_markdown(result),
        ("one-shot.html", "archsearch bench one-shot", body),
    )


def summary_markdown(result: OneShotBenchResult) -> str:
    base = result.config.base
    supernet = result.supernet
    header = [
        data_line(base)
        + f"; supernet {supernet.get('epochs')} epochs ({base.spos.sampling} paths, "
        + (
            f"resumed from its epoch-{supernet['resumed_from']} checkpoint"
            if supernet.get("resumed_from")
            else f"{supernet.get('seconds', 0):.0f} s"
        )
        + "); "
        + (
            f"{len(result.candidates)} networks of the table {result.table} (of"
            f" {len(result.candidates) + result.outside}; {result.outside} outside the"
            " supernet), each estimated with the supernet's weights against the accuracy"
            " the table's stand-alone training gave"
            if result.table
            else f"{len(result.candidates)} random networks of the space, each estimated"
            " with the supernet's weights and trained stand-alone with the space's middle"
            " hyperparameters" + (f", {base.epochs} epochs" if base.epochs else "")
        )
        + f"; seed {base.seed}.",
        f"Machine: {result.machine}. One estimate: {result.estimate_ms:.0f} ms.",
        "Spearman ρ and Kendall τ (τ-b) against the trained validation accuracy,"
        f" percentile-bootstrap 95% intervals over {result.config.resamples} resamples.",
    ]
    return markdown_table(header, result.rows)
