"""Plotly figures from the report's data (``_info``); no study access here."""

from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ._info import (
    AXIS_TITLES,
    AlphaInfo,
    CandidateInfo,
    HistoryInfo,
    ParetoInfo,
    ProxyInfo,
    RankInfo,
)
from ._table import TableInfo

COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf")
STYLE = {  # category -> (marker symbol, opacity, legend suffix)
    "front": ("circle", 1.0, "Pareto front"),
    "dominated": ("circle", 0.3, "dominated"),
    "pruned": ("diamond-open", 0.5, "pruned"),
    "failed": ("x", 0.8, "failed"),
    "infeasible": ("triangle-up-open", 0.8, "infeasible (not trained)"),
}
LAYOUT = {
    "template": "plotly_white",
    "margin": {"l": 60, "r": 20, "t": 50, "b": 50},
    "height": 420,
    "legend": {"orientation": "h", "y": -0.2},
}


def pareto_figure(infos: list[ParetoInfo]) -> go.Figure:
    """Accuracy against one cost for one or more runs; the front drawn as a step line.

    Trials without an accuracy (failed, pruned, infeasible) sit at accuracy 0, marked apart.
    """
    axis = infos[0].axis
    fig = go.Figure()
    for run_index, info in enumerate(infos):
        color = COLORS[run_index % len(COLORS)]
        prefix = f"{info.run}: " if len(infos) > 1 else ""
        for category, (symbol, opacity, suffix) in STYLE.items():
            points = [p for p in info.points if p.category == category]
            if not points:
                continue
            fig.add_trace(
                go.Scatter(
                    x=[p.cost for p in points],
                    y=[p.accuracy if p.accuracy is not None else 0.0 for p in points],
                    mode="markers",
                    name=prefix + suffix,
                    legendgroup=f"{info.run}-{category}",
                    marker={
                        "symbol": symbol,
                        "size": 9 if category == "front" else 7,
                        "color": color if category in ("front", "dominated") else "#7f7f7f",
                        "opacity": opacity,
                        "line": {"width": 1},
                    },
                    customdata=[[p.number, p.label, category] for p in points],
                    hovertemplate=(
                        "trial %{customdata[0]} (%{customdata[2]})<br>%{customdata[1]}"
                        "<br>accuracy %{y:.4f}<br>" + AXIS_TITLES[axis] + " %{x:,}<extra></extra>"
                    ),
                    meta={"kind": "pareto-points", "category": category},
                )
            )
        front = sorted(
            (p for p in info.points if p.category == "front"), key=lambda p: p.cost or 0.0
        )
        if len(front) > 1:
            fig.add_trace(
                go.Scatter(
                    x=[p.cost for p in front],
                    y=[p.accuracy for p in front],
                    mode="lines",
                    line={"shape": "hv", "color": color, "width": 1.5},
                    hoverinfo="skip",
                    showlegend=False,
                    meta={"kind": "front-line"},
                )
            )
    fig.update_layout(
        title=f"Accuracy against {AXIS_TITLES[axis]}",
        xaxis_title=AXIS_TITLES[axis] + (" (log)" if infos[0].log_axis else ""),
        yaxis_title="validation accuracy",
        **LAYOUT,
    )
    if any(info.log_axis for info in infos):
        fig.update_xaxes(type="log")
    return fig


def history_figure(infos: list[HistoryInfo]) -> go.Figure:
    fig = make_subplots(rows=1, cols=len(infos), subplot_titles=[i.objective for i in infos])
    for column, info in enumerate(infos, start=1):
        fig.add_trace(
            go.Scatter(
                x=info.numbers,
                y=info.values,
                mode="markers",
                name=f"{info.objective}",
                marker={"size": 6, "opacity": 0.6},
            ),
            row=1,
            col=column,
        )
        fig.add_trace(
            go.Scatter(
                x=info.numbers,
                y=info.best_so_far,
                mode="lines",
                name=f"best {info.objective}",
                line={"shape": "hv"},
            ),
            row=1,
            col=column,
        )
        fig.update_xaxes(title_text="trial", row=1, col=column)
    fig.update_layout(title="Optimisation history", **LAYOUT)
    return fig


def importance_figure(importances: dict[str, dict[str, float]]) -> go.Figure:
    fig = make_subplots(rows=1, cols=len(importances), subplot_titles=list(importances))
    for column, (objective, values) in enumerate(importances.items(), start=1):
        ordered = sorted(values.items(), key=lambda kv: kv[1])[-15:]
        fig.add_trace(
            go.Bar(
                x=[v for _, v in ordered],
                y=[k for k, _ in ordered],
                orientation="h",
                name=objective,
            ),
            row=1,
            col=column,
        )
    fig.update_layout(
        title="Hyperparameter importance (Optuna, fANOVA)",
        showlegend=False,
        **{**LAYOUT, "height": 460},
    )
    return fig


def curves_figure(candidate: CandidateInfo) -> go.Figure:
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    epochs = list(range(1, len(candidate.val_curve) + 1))
    fig.add_trace(
        go.Scatter(
            x=epochs, y=candidate.val_curve, name="validation accuracy", mode="lines+markers"
        ),
        secondary_y=False,
    )
    fig.add_trace(
        go.Scatter(
            x=epochs,
            y=candidate.loss_curve,
            name="training loss",
            mode="lines+markers",
            line={"dash": "dot"},
        ),
        secondary_y=True,
    )
    fig.update_layout(
        title=f"Learning curves, trial {candidate.number}", **{**LAYOUT, "height": 320}
    )
    fig.update_xaxes(title_text="epoch")
    return fig


def alpha_figure(alpha: AlphaInfo) -> go.Figure:
    """Each position's softmax(α) over the epochs: one line per candidate operation."""
    cols = min(4, len(alpha.positions))
    rows = -(-len(alpha.positions) // cols)
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=list(alpha.positions))
    epochs = list(range(1, len(alpha.epochs) + 1))
    for index, (position, ops) in enumerate(zip(alpha.positions, alpha.ops, strict=True)):
        for op_index, op in enumerate(ops):
            fig.add_trace(
                go.Scatter(
                    x=epochs,
                    y=[epoch[index][op_index] for epoch in alpha.epochs],
                    mode="lines",
                    name=op,
                    legendgroup=op,
                    showlegend=index == 0,
                    line={"color": COLORS[op_index % len(COLORS)]},
                ),
                row=index // cols + 1,
                col=index % cols + 1,
            )
        del position
    fig.update_layout(
        title="Architecture weights softmax(α) per epoch", **{**LAYOUT, "height": 260 * rows + 80}
    )
    return fig


def rank_figure(info: RankInfo) -> go.Figure:
    import pandas as pd

    def ranks(values: tuple[float, ...]) -> list[float]:
        return pd.Series(values).rank().tolist()

    titles = [
        f"FLOPs rank vs {info.backend} latency rank (Spearman ρ = {_fmt(info.spearman_flops)})",
        f"MAC rank vs {info.backend} latency rank (Spearman ρ = {_fmt(info.spearman_mac)})",
    ]
    fig = make_subplots(rows=1, cols=2, subplot_titles=titles)
    latency = ranks(info.latency_ms)
    for column, values in ((1, info.flops), (2, info.mac)):
        fig.add_trace(
            go.Scatter(
                x=ranks(values),
                y=latency,
                mode="markers",
                customdata=list(info.numbers),
                hovertemplate="trial %{customdata}<extra></extra>",
                showlegend=False,
            ),
            row=1,
            col=column,
        )
        fig.update_xaxes(
            title_text="rank by " + ("FLOPs" if column == 1 else "MAC"), row=1, col=column
        )
    fig.update_yaxes(title_text="rank by measured latency", row=1, col=1)
    fig.update_layout(title=f"Do FLOPs and MAC predict latency here? ({info.source})", **LAYOUT)
    return fig


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def hypervolume_figure(
    curves: list[tuple[str, list[float], list[float], list[float]]],
) -> go.Figure:
    """Hypervolume against wall time, one line per searcher (mean over seeds, ± std band);
    ``curves``: (label, seconds, mean, std)."""
    fig = go.Figure()
    for index, (label, times, mean, std) in enumerate(curves):
        color = COLORS[index % len(COLORS)]
        upper = [m + s for m, s in zip(mean, std, strict=True)]
        lower = [m - s for m, s in zip(mean, std, strict=True)]
        fig.add_trace(
            go.Scatter(
                x=[*times, *times[::-1]],
                y=[*upper, *lower[::-1]],
                fill="toself",
                fillcolor=color,
                opacity=0.15,
                line={"width": 0},
                hoverinfo="skip",
                showlegend=False,
            )
        )
        fig.add_trace(
            go.Scatter(
                x=times,
                y=mean,
                mode="lines",
                name=label,
                line={"color": color, "width": 2},
                meta={"kind": "hypervolume"},
            )
        )
    fig.update_layout(
        title="Hypervolume against wall time (mean ± std over seeds)",
        xaxis_title="seconds since the run started",
        yaxis_title="hypervolume",
        **LAYOUT,
    )
    return fig


def proxy_figure(info: ProxyInfo) -> go.Figure:
    """One scatter per proxy: its score at initialisation against the trained accuracy (log
    axis for scores spanning more than 100x), titled with Spearman ρ."""
    columns = 3
    rows = -(-len(info.correlations) // columns)
    titles = [f"{c.name} (ρ = {_fmt(c.spearman)})" for c in info.correlations]
    fig = make_subplots(rows=rows, cols=columns, subplot_titles=titles)
    for index, correlation in enumerate(info.correlations):
        row, col = index // columns + 1, index % columns + 1
        pairs = [
            (number, score, accuracy)
            for number, score, accuracy in zip(
                info.numbers, info.scores[correlation.name], info.accuracy, strict=True
            )
            if score is not None
        ]
        fig.add_trace(
            go.Scatter(
                x=[score for _, score, _ in pairs],
                y=[accuracy for _, _, accuracy in pairs],
                mode="markers",
                customdata=[number for number, _, _ in pairs],
                hovertemplate="trial %{customdata}: %{x:.4g}, %{y:.4f}<extra></extra>",
                marker={"color": COLORS[0], "size": 6},
                showlegend=False,
                meta={"proxy": correlation.name},
            ),
            row=row,
            col=col,
        )
        scores = [score for _, score, _ in pairs]
        if scores and min(scores) > 0 and max(scores) > 100 * min(scores):
            fig.update_xaxes(type="log", row=row, col=col)
        if col == 1:
            fig.update_yaxes(title_text="val. accuracy", row=row, col=col)
    fig.update_layout(
        title="Zero-cost proxies at initialisation against trained accuracy",
        **{**LAYOUT, "height": 300 * rows},
    )
    return fig


SE_SYMBOLS = {"no SE": "circle", "some SE": "diamond", "SE": "square"}


def table_figure(info: TableInfo, axis: str) -> go.Figure:
    """Every network of a table: accuracy against ``axis`` (flops or mac, log scale), one
    colour per block family, one marker per use of squeeze-and-excitation."""
    fig = go.Figure()
    families = sorted({p.family for p in info.points})
    for index, family in enumerate(families):
        for se, symbol in SE_SYMBOLS.items():
            points = [p for p in info.points if p.family == family and p.se == se]
            if not points:
                continue
            fig.add_trace(
                go.Scatter(
                    x=[getattr(p, axis) for p in points],
                    y=[p.accuracy for p in points],
                    mode="markers",
                    name=f"{family}, {se}",
                    marker={
                        "symbol": symbol,
                        "size": 6,
                        "color": COLORS[index % len(COLORS)],
                        "opacity": 0.6,
                    },
                    text=[p.architecture for p in points],
                    hovertemplate="%{text}<br>%{x:,}<br>accuracy %{y:.4f}<extra></extra>",
                )
            )
    fig.update_layout(
        **LAYOUT,
        title=f"{info.name}: {info.accuracy.replace('_', ' ')} against {AXIS_TITLES[axis]}",
        xaxis={"title": AXIS_TITLES[axis], "type": "log"},
        yaxis={"title": info.accuracy.replace("_", " ")},
    )
    return fig
