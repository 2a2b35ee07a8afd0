"""HTML reports of search runs: ``write_report(studies, path)``.

Structured as in ``optuna.visualization``: pure functions from the study to plain data
(``_info``), plotting functions over that data (``_plots``), and the page (``_html``). The
report reads only the study.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import optuna
import pandas as pd

from . import _html, _plots
from ._info import (
    COST_AXES,
    OneShotInfo,
    ProxyInfo,
    RunInfo,
    get_candidate_info,
    get_history_info,
    get_importance_info,
    get_one_shot_info,
    get_pareto_info,
    get_proxy_info,
    get_proxy_rows,
    get_rank_info,
    get_run_info,
    get_trial_rows,
    report_trials,
    run_latency_backend,
)


def write_report(
    studies: list[optuna.Study] | optuna.Study,
    path: str | Path,
    *,
    latency_samples: int = 0,
    device: str = "cpu",
    latency_backends: tuple[str, ...] = (),
) -> Path:
    """Write one self-contained HTML report of one or more runs, and their trials as CSV
    (and Parquet where pyarrow is installed) next to it. Several runs overlay their fronts.

    ``latency_samples`` > 0 measures that many candidates' latency on ``device`` for the
    FLOPs/MAC-against-latency ranking when the runs recorded none; each of
    ``latency_backends`` the runs did not measure in (``torch``, ``onnxruntime``) is measured
    so for a ranking of its own beside the run's.
    """
    studies = [studies] if isinstance(studies, optuna.Study) else list(studies)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sections = [
        '<section id="summary"><h2>Summary</h2>'
        + "".join(_html.summary_section(get_run_info(s)) for s in studies)
        + "</section>"
    ]

    fronts = []
    for axis in COST_AXES:
        infos = [info for s in studies if (info := get_pareto_info(s, axis)) is not None]
        if infos:
            fronts.append(_html.figure_div(_plots.pareto_figure(infos), f"pareto-{axis}"))
    sections.append(
        '<section id="pareto"><h2>Pareto fronts</h2><p class="muted">Filled: '
        "Pareto-optimal for accuracy against that cost; faded: dominated; open"
        " and crossed markers at accuracy 0: pruned, failed or infeasible (never"
        ' trained) candidates.</p><div class="grid">' + "".join(fronts) + "</div></section>"
    )

    history = []
    for study in studies:
        infos = get_history_info(study)
        if infos and infos[0].numbers:
            history.append(
                _html.figure_div(_plots.history_figure(infos), f"history-{study.study_name}")
            )
        importances = get_importance_info(study)
        if importances:
            history.append(
                _html.figure_div(
                    _plots.importance_figure(importances), f"importance-{study.study_name}"
                )
            )
    sections.append('<section id="history"><h2>Search</h2>' + "".join(history) + "</section>")

    ranks = [
        info
        for s in studies
        for backend in dict.fromkeys((run_latency_backend(s), *latency_backends))
        if (info := get_rank_info(s, latency_samples, device, backend)) is not None
    ]
    if ranks:
        sections.append(
            '<section id="ranking"><h2>FLOPs and MAC against measured latency</h2>'
            + "".join(
                _html.figure_div(_plots.rank_figure(r), f"rank-{r.run}-{r.backend}") for r in ranks
            )
            + "</section>"
        )

    proxies = [p for s in studies if (p := get_proxy_info(s)) is not None]
    if proxies:
        sections.append(proxy_section(proxies))
    one_shot = [o for s in studies if (o := get_one_shot_info(s)) is not None]
    if one_shot:
        sections.append(one_shot_section(one_shot))

    all_rows = []
    front_numbers: set[int] = set()
    for study in studies:
        rows = get_trial_rows(study)
        if len(studies) > 1:
            rows = [{"run": study.study_name, **row} for row in rows]
        all_rows.extend(rows)
        if len(studies) == 1:
            front_numbers = {t.number for t in report_trials(study)}
    sections.append(
        f'<section id="trials"><h2>All trials ({len(all_rows)})</h2>'
        f'<p class="muted">Click a column to sort.</p>'
        f"{_html.table(all_rows, 'trials-table', front_numbers)}</section>"
    )

    for study in studies:
        for trial in report_trials(study):
            candidate = get_candidate_info(study, trial)
            curves = (
                _html.figure_div(_plots.curves_figure(candidate), f"curves-{trial.number}")
                if candidate.val_curve
                else ""
            )
            alpha = (
                _html.figure_div(_plots.alpha_figure(candidate.alpha), f"alpha-{trial.number}")
                if candidate.alpha
                else ""
            )
            sections.append(_html.candidate_section(candidate, curves, alpha))

    title = "archsearch: " + " vs ".join(s.study_name for s in studies)
    path.write_text(_html.page(title, "".join(sections)), encoding="utf-8")
    write_trials_table(all_rows, path.with_suffix(".csv"), parquet=True)
    return path


def proxy_section(infos: list[ProxyInfo]) -> str:
    """How well the zero-cost proxies rank these trials (run report and ``bench proxies``)."""
    parts = []
    for info in infos:
        parts.append(
            f"<h3>{_html.esc(info.run)}: {len(info.numbers)} trained candidates</h3>"
            '<p class="muted">Spearman ρ and Kendall τ of each proxy at initialisation'
            " against the validation accuracy of the candidates trained to their last epoch,"
            " with percentile-bootstrap 95% intervals; params and flops are the baselines a"
            " proxy must beat."
            + (
                " The hyperparameters were sampled too, and a proxy sees only the network:"
                " <code>archsearch bench proxies</code> trains every candidate alike.</p>"
                if info.hyperparameters_vary
                else "</p>"
            )
            + _html.table(get_proxy_rows(info), f"proxies-{info.run}")
            + _html.figure_div(_plots.proxy_figure(info), f"proxy-scatter-{info.run}")
        )
    return '<section id="proxies"><h2>Zero-cost proxies</h2>' + "".join(parts) + "</section>"


def one_shot_section(infos: list[OneShotInfo]) -> str:
    """The networks a one-shot search picked: its estimates beside their trained accuracies."""
    parts = []
    for info in infos:
        trust = ""
        c = info.correlation
        if c is not None and c.kendall is not None:
            interval = (
                "" if c.kendall_ci is None else f" [{c.kendall_ci[0]:.2f}, {c.kendall_ci[1]:.2f}]"
            )
            trust = (
                f" Kendall τ between estimate and trained accuracy over these {c.n}:"
                f" {c.kendall:.2f}{interval} (few networks, picked from the top: a wide"
                " interval); <code>archsearch bench one-shot</code> measures it on a random"
                " sample."
            )
        parts.append(
            f"<h3>{_html.esc(info.run)}</h3>"
            '<p class="muted">One-shot estimate: validation accuracy with the supernet\'s'
            " shared weights (BatchNorm recalibrated) — an estimate that ranked these networks,"
            " not a trained accuracy. Trained accuracy: the same network trained from scratch"
            " by the run, as everywhere else in this report."
            + trust
            + "</p>"
            + _html.table(list(info.rows), f"one-shot-{info.run}")
        )
    return '<section id="one-shot"><h2>One-shot estimates</h2>' + "".join(parts) + "</section>"


def write_table_page(frame: pd.DataFrame, meta: dict[str, Any], path: str | Path) -> Path:
    """The page of a tabulated benchmark (:mod:`archsearch.bench.tabulate`) for people
    learning the field: every network's accuracy against flops and against mac by block
    family and SE, the choices that buy accuracy beyond their flops, and the best network of
    each family at equal flops."""
    from ._table import best_rows, effect_rows, get_table_info

    info = get_table_info(frame, str(meta.get("name", "table")))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    about = (
        f"{len(info.points):,} networks of <code>{_html.esc(meta.get('space', ''))}</code> on"
        f" {_html.esc(meta.get('dataset', ''))}, each trained once ({meta.get('date', '')};"
        f" {_html.esc(meta.get('machine', ''))}). Accuracy: the test split's after the last"
        f" epoch. Fitted over every network, accuracy rises {info.per_doubling:+.4f} per"
        " doubling of flops; a choice's <em>accuracy beyond its flops</em> is the mean, over"
        " the networks that make it, of their accuracy less what their flops predict."
    )
    sections = [
        f'<section id="summary"><h2>The table</h2><p class="muted">{about}</p></section>',
        '<section id="networks"><h2>Every network</h2><div class="grid">'
        + "".join(
            _html.figure_div(_plots.table_figure(info, axis), f"table-{axis}")
            for axis in ("flops", "mac")
        )
        + "</div></section>",
        '<section id="choices"><h2>Which choices buy accuracy beyond their flops</h2>'
        + _html.table(effect_rows(info), "table-choices")
        + "</section>",
        '<section id="families"><h2>The best network of each family at equal flops</h2>'
        + _html.table(best_rows(info), "table-families")
        + "</section>",
    ]
    title = f"archsearch table: {meta.get('name', '')}"
    path.write_text(_html.page(title, "".join(sections)), encoding="utf-8")
    return path


def write_trials_table(rows: list[dict[str, Any]], path: Path, parquet: bool = False) -> None:
    """Trial rows (:func:`~archsearch.study.trial_row`) as CSV, with the units in the cost
    columns' names; with ``parquet``, also as Parquet beside it where pyarrow is installed."""
    frame = pd.DataFrame(rows).rename(
        columns={"flops": "flops (multiply-adds)", "mac": "mac (elements)"}
    )
    frame.to_csv(path, index=False)
    if not parquet:
        return
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return
    frame.to_parquet(path.with_suffix(".parquet"), index=False)


__all__ = [
    "ProxyInfo",
    "RunInfo",
    "get_one_shot_info",
    "get_proxy_info",
    "get_proxy_rows",
    "get_run_info",
    "get_trial_rows",
    "one_shot_section",
    "proxy_section",
    "write_report",
    "write_table_page",
    "write_trials_table",
]
