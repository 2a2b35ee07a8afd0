"""What every benchmark writes, written once: the machine line, the data line, markdown
tables, and the files (CSV tables, a markdown summary, one self-contained HTML page)."""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import TYPE_CHECKING, Any

import optuna
import pandas as pd
import torch

if TYPE_CHECKING:
    from ..runs import RunConfig


def machine_line(threads: str | None = None) -> str:
    """The CPU, its threads, the torch threads (or ``threads``, a benchmark's own account of
    them) and the versions that decide the figures."""
    cpu = platform.processor() or platform.machine()
    threads = threads or f"{torch.get_num_threads()} torch threads"
    return (
        f"{cpu}, {os.cpu_count()} CPU threads, {threads};"
        f" torch {torch.__version__}, optuna {optuna.__version__}"
    )


def data_line(base: RunConfig) -> str:
    """ "Space `mobile`, data `digits` (train limit 500) (resolution 16)": what was searched."""
    return (
        f"Space `{base.space}`, data `{base.dataset}`"
        + (f" (train limit {base.train_limit})" if base.train_limit else "")
        + (f" (resolution {base.resolution})" if base.resolution else "")
    )


def markdown_rows(rows: list[dict[str, Any]]) -> list[str]:
    """Rows of dicts as the lines of a markdown table (None as an empty cell)."""
    columns = list(rows[0]) if rows else []
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append(
            "| " + " | ".join("" if row[c] is None else str(row[c]) for c in columns) + " |"
        )
    return lines


def markdown_table(header: list[str], rows: list[dict[str, Any]]) -> str:
    """A benchmark's summary: the ``header`` lines (how it was run), a blank line, the table."""
    return "\n".join([*header, "", *markdown_rows(rows)]) + "\n"


def write_outputs(
    out_dir: str | Path,
    tables: dict[str, list[dict[str, Any]]],
    markdown: str,
    page: tuple[str, str, str] | None = None,
) -> dict[str, str]:
    """Write ``tables`` (stem → rows) as ``STEM.csv``, ``markdown`` as ``summary.md`` and
    ``page`` (file name, title, HTML body) as one self-contained page; returns the files by
    name (``summary_md``, ``STEM_csv``, ``report``)."""
    from ..report import _html

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = {"summary_md": str(out / "summary.md")}
    (out / "summary.md").write_text(markdown, encoding="utf-8")
    for stem, rows in tables.items():
        pd.DataFrame(rows).to_csv(out / f"{stem}.csv", index=False)
        files[f"{stem}_csv"] = str(out / f"{stem}.csv")
    if page is not None:
        name, title, body = page
        (out / name).write_text(_html.page(title, body), encoding="utf-8")
        files["report"] = str(out / name)
    return files
