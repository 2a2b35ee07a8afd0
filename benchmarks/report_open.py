"""How fast a 1,000-trial report opens in headless Chromium (Debian's), against a baseline
in the same run: the smallest self-contained plotly page (plotly.js inline, one 1-point
plot), the floor of any offline plotly report, so the machine's speed cancels in the ratio.

    python benchmarks/report_open.py [--opens 5]

The study is the synthetic one the report tests use (tests/report/conftest.py: completed,
failed, pruned and infeasible trials, 60 Pareto-optimal with detail sections). "Open" is the
load event plus the plots in view drawn, as in tests/report/test_browser.py.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

import plotly.graph_objects
from _machine import describe

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests' synthetic study

from archsearch.report import write_report
from tests.report.conftest import make_study
from tests.report.test_browser import FLAGS, _open


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--opens", type=int, default=5)
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    folder = Path(tempfile.mkdtemp())
    report = write_report(make_study(1000, seed=3), folder / "big.html")
    bare = folder / "floor.html"
    figure = plotly.graph_objects.Figure(plotly.graph_objects.Scatter(x=[0], y=[0]))
    bare.write_text(figure.to_html(include_plotlyjs=True, div_id="pareto-flops"), "utf-8")
    times: dict[str, list[float]] = {"report": [], "plotly floor": []}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=args.chromium, args=FLAGS, headless=True)
        for _ in range(args.opens):  # interleaved: the machine is shared
            for name, path in (("report", report), ("plotly floor", bare)):
                page, errors, seconds = _open(browser, path, "report-open.png")
                assert name != "report" or errors == [], errors
                page.close()
                times[name].append(seconds)
        version = browser.version
        browser.close()
    print(f"Machine: {describe()}; Chromium {version}; {args.opens} interleaved opens each\n")
    print("| page | size | best (s) | median (s) |")
    print("|---|---:|---:|---:|")
    for name, path in (("report", report), ("plotly floor", bare)):
        size = path.stat().st_size / 1e6
        print(
            f"| {name} | {size:.1f} MB | {min(times[name]):.2f} |"
            f" {statistics.median(times[name]):.2f} |"
        )
    ratio = statistics.median(times["report"]) / statistics.median(times["plotly floor"])
    print(f"\nreport / plotly floor (medians): {ratio:.1f}")


if __name__ == "__main__":
    main()
