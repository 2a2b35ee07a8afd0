"""``archsearch bench proxies``: how well zero-cost proxies rank candidates of one space on one
data set — the measurement every user needs before trusting a proxy, since proxies transfer
badly between spaces (NAS-Bench-Suite-Zero, 2022).

``samples`` candidates are drawn at random from the space and trained for ``epochs`` each
(an ordinary random-search run without early stopping, so every candidate is trained alike);
before training, every proxy is computed on the candidate at initialisation and kept in the
trial. The correlations are then read back from the study, as the run report does.

A proxy judges an architecture, not its training. By default every candidate therefore trains
with the same hyperparameters, the space's middle values (as NAS-Bench-201 trains every cell
alike); ``hyperparameters="sampled"`` draws them from the space as a search does, which is
what the run report's correlation sees (measured: learning rate and optimiser then explain
more of the accuracy than any architecture score).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, get_args

import optuna

from ..errors import ConfigError
from ..objective import Candidates
from ..proxies import proxy_names
from ..proxies.correlation import BOOTSTRAP_RESAMPLES
from ..report import _html, get_proxy_info, get_proxy_rows, proxy_section
from ..runs import RunConfig, RunProgress, RunResult, run_search
from ..runs.resume import load_run_space
from ..space import default_hyperparameters
from ..space.distributions import Fixed
from ._output import data_line, machine_line, markdown_table, write_outputs

Hyperparameters = Literal["fixed", "sampled"]


@dataclass(frozen=True)
class ProxyBenchConfig:
    base: RunConfig  # space, data, epochs, fidelity, seed, device
    samples: int = 50
    out_dir: str = "bench-proxies"
    resamples: int = BOOTSTRAP_RESAMPLES
    hyperparameters: Hyperparameters = "fixed"

    def __post_init__(self) -> None:
        if self.samples < 3:
            raise ConfigError("samples", "a rank correlation needs at least 3 candidates")
        if self.hyperparameters not in get_args(Hyperparameters):
            raise ConfigError("hyperparameters", "fixed or sampled")


@dataclass
class ProxyBenchResult:
    config: ProxyBenchConfig
    run: RunResult
    rows: list[dict[str, Any]] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)
    machine: str = ""


def proxy_run_config(config: ProxyBenchConfig) -> RunConfig:
    out = Path(config.out_dir)
    return replace(
        config.base,
        searcher="random",
        pruner="none",
        trials=config.samples,
        timeout=None,
        proxies=tuple(proxy_names(baselines=False)),  # params and flops: from the profile
        name=config.base.name or "proxies",
        runs_dir=str(out / "runs"),
        reports_dir=str(out / "reports"),
        workers=1,
    )


def run_proxy_bench(
    config: ProxyBenchConfig, progress: RunProgress | None = None
) -> ProxyBenchResult:
    """Train the sampled candidates with every proxy recorded, then measure the proxies."""
    run_config = proxy_run_config(config)
    space, space_text = load_run_space(run_config.space)
    candidates = Candidates(space=space, epochs=run_config.epochs)
    if config.hyperparameters == "fixed":  # the space's middle values, for every candidate
        middle = default_hyperparameters(space)
        candidates.hyperparameters = {
            name: Fixed(middle[name]) if name in middle else dist
            for name, dist in space.hyperparameters.items()
        }
    run = run_search(run_config, candidates=candidates, space_text=space_text, progress=progress)
    info = get_proxy_info(run.study, resamples=config.resamples)
    if info is None:
        raise ConfigError("samples", "fewer than 3 candidates trained: no correlation")
    result = ProxyBenchResult(config, run, get_proxy_rows(info), machine=machine_line())
    result.files = write_proxy_bench(result, run.study)
    return result


def write_proxy_bench(result: ProxyBenchResult, study: optuna.Study) -> dict[str, str]:
    """The table as markdown and CSV, and the page with a scatter per proxy."""
    info = get_proxy_info(study, resamples=result.config.resamples)
    body = f'<p class="muted">{_html.esc(result.machine)}</p>' + (
        proxy_section([info]) if info is not None else ""
    )
    return write_outputs(
        result.config.out_dir,
        {"summary": result.rows},
        summary_markdown(result),
        ("proxies.html", "archsearch bench proxies", body),
    )


def summary_markdown(result: ProxyBenchResult) -> str:
    base = result.config.base
    header = [
        data_line(base)
        + f", {result.config.samples} random candidates"
        + (
            " trained with the space's middle hyperparameters"
            if result.config.hyperparameters == "fixed"
            else " with sampled hyperparameters"
        )
        + (f", {base.epochs} epochs each" if base.epochs else "")
        + f", seed {base.seed}.",
        f"Machine: {result.machine}.",
        "Spearman ρ and Kendall τ (τ-b) against validation accuracy, percentile-bootstrap"
        f" 95% intervals over {result.config.resamples} resamples; ms per candidate:"
        " median wall time of one proxy on one candidate (batch of 64).",
    ]
    return markdown_table(header, result.rows)
