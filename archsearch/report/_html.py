"""The self-contained HTML page: plotly.js embedded once, no external fonts or scripts."""

from __future__ import annotations

import html
from typing import Any

import plotly.graph_objects as go
import plotly.offline

from ..study import format_value
from ._info import CandidateInfo, RunInfo

CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,Arial,sans-serif;margin:0;
color:#222;background:#fafafa}
header{background:#23374d;color:#fff;padding:16px 28px}
header h1{margin:0 0 4px 0;font-size:22px}
main{padding:8px 28px 40px 28px;max-width:1400px}
section{background:#fff;border:1px solid #e3e3e3;border-radius:6px;padding:12px 18px;
margin:16px 0}
h2{font-size:18px;margin:6px 0 10px 0}
h3{font-size:15px;margin:14px 0 6px 0}
table{border-collapse:collapse;font-size:12.5px}
th,td{border-bottom:1px solid #eee;padding:3px 8px;text-align:right;white-space:nowrap}
th{background:#f3f5f7;position:sticky;top:0;cursor:pointer;user-select:none}
td.text,th.text{text-align:left;white-space:normal}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(540px,1fr));gap:8px}
.summary td{text-align:left}
.scroll{max-height:520px;overflow:auto}
.muted{color:#777;font-size:12px}
code{font-size:12px}
tr.front td{background:#eef6ee}
"""

PLOT_JS = """
(function(){
  var config = {displaylogo: false, responsive: true};
  function draw(div){
    if (div.dataset.drawn) { return; }
    div.dataset.drawn = '1';
    var source = document.querySelector('script[data-plot-for="' + div.id + '"]');
    var spec = JSON.parse(source.textContent);
    Plotly.newPlot(div, spec.data, spec.layout, config);
  }
  var plots = document.querySelectorAll('.lazy-plot');
  if (!('IntersectionObserver' in window)) { plots.forEach(draw); return; }
  var observer = new IntersectionObserver(function(entries){
    entries.forEach(function(entry){
      if (entry.isIntersecting) { draw(entry.target); observer.unobserve(entry.target); }
    });
  }, {rootMargin: '400px'});
  plots.forEach(function(div){ observer.observe(div); });
})();
"""

SORT_JS = """
document.querySelectorAll('table.sortable').forEach(function(table){
  table.querySelectorAll('th').forEach(function(th, column){
    th.addEventListener('click', function(){
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      var ascending = th.dataset.order !== 'asc';
      th.dataset.order = ascending ? 'asc' : 'desc';
      rows.sort(function(a, b){
        var x = a.cells[column].dataset.value, y = b.cells[column].dataset.value;
        var nx = parseFloat(x), ny = parseFloat(y);
        var cmp = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : String(x).localeCompare(String(y));
        return ascending ? cmp : -cmp;
      });
      rows.forEach(function(row){ body.appendChild(row); });
    });
  });
});
"""


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def figure_div(fig: go.Figure, div_id: str) -> str:
    """A plot drawn when it scrolls into view: a long report opens as fast as a short one."""
    spec = fig.to_json().replace("</", "<\\/")
    return (
        f'<div id="{esc(div_id)}" class="lazy-plot" style="min-height:'
        f'{fig.layout.height or 420}px"></div><script type="application/json"'
        f' data-plot-for="{esc(div_id)}">{spec}</script>'
    )


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return '<td data-value=""></td>'
    if isinstance(value, bool):
        return f'<td data-value="{int(value)}">{value}</td>'
    if isinstance(value, int):
        return f'<td data-value="{value}">{value:,}</td>'
    if isinstance(value, float):
        shown = f"{value:.4f}" if abs(value) < 1000 else f"{value:,.0f}"
        return f'<td data-value="{value!r}">{shown}</td>'
    return f'<td class="text" data-value="{esc(value)}">{esc(value)}</td>'


def table(rows: list[dict[str, Any]], table_id: str, highlight: set[int] | None = None) -> str:
    if not rows:
        return '<p class="muted">no trials</p>'
    columns = list(dict.fromkeys(k for row in rows for k in row))
    head = "".join(
        f'<th class="{"text" if c in ("architecture", "reason", "status", "state", "run") else ""}">{esc(c)}</th>'  # noqa: E501
        for c in columns
    )
    body = []
    for row in rows:
        mark = ' class="front"' if highlight and row.get("number") in highlight else ""
        body.append(f"<tr{mark}>" + "".join(_cell(row.get(c)) for c in columns) + "</tr>")
    return (
        f'<div class="scroll"><table class="sortable" id="{table_id}"><thead><tr>{head}'
        f"</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
    )


def summary_section(run: RunInfo) -> str:
    counts = ", ".join(f"{n} {k}" for k, n in run.counts)
    best = ", ".join(f"{k} {format_value(k, v)}" for k, v in run.best)
    items = [
        ("space", run.space),
        ("searcher", run.searcher),
        ("data", run.dataset),
        ("fidelity", run.fidelity),
        ("objectives", ", ".join(run.objectives)),
        ("budget", run.budget),
        ("device", run.device),
        ("torch", run.torch_version),
        ("total time", f"{run.seconds:,.0f} s"),
        ("trials", counts),
        ("best per objective", best),
    ]
    rows = "".join(f"<tr><th class='text'>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in items)
    return f'<h3>{esc(run.name)}</h3><table class="summary">{rows}</table>'


def candidate_section(candidate: CandidateInfo, curves: str, alpha: str) -> str:
    values = ", ".join(f"{k} {format_value(k, v)}" for k, v in candidate.values)
    test = (
        "" if candidate.test_accuracy is None else f", test accuracy {candidate.test_accuracy:.4f}"
    )
    blocks = table(
        [
            {"where": w, "block": t, "out_channels": c, "stride": s, "options": o}
            for w, t, c, s, o in candidate.blocks
        ],
        f"blocks-{candidate.number}",
    )
    layers = table(
        [
            {
                "module": r.path,
                "type": r.module_type,
                "flops": r.flops,
                "mac": r.mac,
                "output": r.out_shape,
            }
            for r in candidate.layers
        ],
        f"layers-{candidate.number}",
    )
    findings = (
        table(
            [
                {
                    "guideline": g,
                    "layer": layer or "(network)",
                    "figure": figure,
                    "unit": unit,
                    "finding": text,
                }
                for g, layer, figure, unit, text in candidate.findings
            ],
            f"findings-{candidate.number}",
        )
        if candidate.findings
        else ('<p class="muted">no ShuffleNetV2 guideline findings</p>')
    )
    return (
        f'<section id="trial-{candidate.number}"><h2>Trial {candidate.number} — '
        f"<code>{esc(candidate.arch_id)}</code></h2><p><code>{esc(candidate.summary)}"
        f'</code></p><p>{esc(values)}{esc(test)}</p><div class="grid"><div><h3>Architecture'
        f"</h3>{blocks}</div><div><h3>Per-layer profile</h3>{layers}</div></div>"
        f"<h3>Guideline findings</h3>{findings}{curves}{alpha}</section>"
    )


def page(title: str, body: str) -> str:
    plotly_js = plotly.offline.get_plotlyjs()
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{esc(title)}'
        f'</title><meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<style>{CSS}</style><script type="text/javascript">{plotly_js}</script></head>'
        f"<body><header><h1>{esc(title)}</h1><div>archsearch report</div></header><main>"
        f"{body}</main><script>{PLOT_JS}{SORT_JS}</script></body></html>"
    )
