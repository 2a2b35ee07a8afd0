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

from ..build import build_model
from ..errors import ConfigError
from ..profiler import architecture_costs
from ..proxies.correlation import BOOTSTRAP_RESAMPLES, rank_correlation
from ..report import _html
from ..runs import RunConfig
from ..runs._loop import run_data
from ..runs.resume import load_run_space
from ..searchers.oneshot import plan_supernet
from ..searchers.oneshot.paths import RandomSuggester, sample_network
from ..searchers.oneshot.spos import (
    CHECKPOINT,
    OneShotEvaluator,
    SposConfig,
    supernet_hyperparameters,
    train_supernet,
)
from ..train import TrainConfig, resolve_device, seed_everything, train
from ._output import data_line, machine_line, markdown_table, write_outputs


@dataclass(frozen=True)
class OneShotBenchConfig:
    base: RunConfig  # space, data, epochs (stand-alone training), fidelity, seed, device
    samples: int = 20
    out_dir: str = "bench-one-shot"
    resamples: int = BOOTSTRAP_RESAMPLES

    def __post_init__(self) -> None:
        if self.samples < 3:
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


def run_one_shot_bench(config: OneShotBenchConfig, log: Any = None) -> OneShotBenchResult:
    """Train the supernet, estimate and train ``samples`` random networks, correlate."""
    say = log or (lambda _message: None)
    base = config.base
    space, _ = load_run_space(base.space)
    data = run_data(base)
    device = resolve_device(base.device)
    plan = plan_supernet(space, data, widest=True)
    hp = supernet_hyperparameters(space)
    out = Path(config.out_dir)
    out.mkdir(parents=True, exist_ok=True)
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
    evaluator = OneShotEvaluator(
        supernet, data, device, batch_size=int(hp["batch_size"]), seed=base.seed
    )
    suggester = RandomSuggester(random.Random(base.seed + 1))
    networks: dict[str, Any] = {}
    while len(networks) < config.samples:
        arch, path = sample_network(space, plan, suggester, data.input_size)
        networks.setdefault(arch.to_json(), (arch, path))
    shape = (1, data.in_channels, *data.input_size)
    train_config = TrainConfig.from_hyperparameters(
        {**hp, **({"epochs": base.epochs} if base.epochs else {})}, seed=base.seed
    )
    result = OneShotBenchResult(config, supernet=training.to_dict(), machine=machine_line())
    # first with the running statistics training left (recalibrating overwrites them)
    stale = [evaluator.accuracy(path, recalibrate=False) for _, path in networks.values()]
    estimate_seconds = 0.0
    for index, (arch, path) in enumerate(networks.values()):
        started = time.perf_counter()
        estimate = evaluator.accuracy(path)
        estimate_seconds += time.perf_counter() - started
        costs = architecture_costs(arch, shape, data.num_classes)
        seed_everything(base.seed + index)
        model = build_model(arch, data.num_classes, data.in_channels)
        trained = train(model, data, replace(train_config, seed=base.seed + index), device)
        result.candidates.append(
            {
                "architecture": str(arch),
                "params": costs.params,
                "flops": costs.flops,
                "one-shot estimate": round(estimate, 6),
                "without BN recalibration": round(stale[index], 6),
                "trained accuracy": round(trained.val_accuracy, 6),
                "train seconds": round(trained.seconds, 2),
            }
        )
        say(
            f"  network {index + 1}/{config.samples}: estimate {estimate:.3f},"
            f" trained {trained.val_accuracy:.3f}"
        )
    result.estimate_ms = 1000 * estimate_seconds / len(networks)
    accuracy = [c["trained accuracy"] for c in result.candidates]
    for name in ("one-shot estimate", "without BN recalibration", "params", "flops"):
        scores = [float(c[name]) for c in result.candidates]
        row = rank_correlation(name, scores, accuracy, resamples=config.resamples).as_row()
        result.rows.append({"score": row.pop("proxy"), **row})
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
        + f"); {result.config.samples} random networks of"
        " the space, each estimated with the supernet's weights and trained stand-alone with"
        " the space's middle hyperparameters"
        + (f", {base.epochs} epochs" if base.epochs else "")
        + f"; seed {base.seed}.",
        f"Machine: {result.machine}. One estimate: {result.estimate_ms:.0f} ms.",
        "Spearman ρ and Kendall τ (τ-b) against the trained validation accuracy,"
        f" percentile-bootstrap 95% intervals over {result.config.resamples} resamples.",
    ]
    return markdown_table(header, result.rows)
