"""Open generated reports in a real headless Chromium (Debian's, driven by Playwright):
no console errors, the Pareto plot holds every trial, the table lists every trial, also in a
1,000-trial report (how fast it opens: benchmarks/report_open.py). Screenshots go to
test-artifacts/."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from archsearch.report import write_report
from tests.report.conftest import make_study

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("no Chromium on this machine (.ci/run installs Debian's `chromium`)")


@pytest.fixture(scope="module")
def browser():
    executable = _chromium()
    playwright = pytest.importorskip(
        "playwright.sync_api", reason="playwright is in the dev extra"
    )
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=FLAGS, headless=True)
        yield browser
        browser.close()


def _open(browser, path: Path, shot: str) -> tuple[object, list[str], float]:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors: list[str] = []
    page.on(
        "console", lambda message: errors.append(message.text) if message.type == "error" else None
    )
    page.on("pageerror", lambda error: errors.append(str(error)))
    start = time.perf_counter()
    page.goto(path.as_uri(), wait_until="load")
    # the plots in view are drawn (the others are drawn as they scroll into view)
    page.wait_for_function(
        "document.getElementById('pareto-flops').classList.contains('js-plotly-plot')"
    )
    seconds = time.perf_counter() - start
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / shot), full_page=False)
    return page, errors, seconds


POINTS_JS = """id => document.getElementById(id).data
    .filter(t => t.meta && t.meta.kind === 'pareto-points')
    .reduce((n, t) => n + t.x.length, 0)"""


def test_multi_objective_report_in_the_browser(browser, tmp_path: Path) -> None:
    study = make_study(60, seed=5)  # completed, failed, pruned and infeasible trials
    path = write_report(study, tmp_path / "report.html")
    page, errors, _ = _open(browser, path, "report-60-trials.png")
    assert errors == []
    # every trial with a FLOPs figure is a point of the FLOPs front plot
    assert page.evaluate(POINTS_JS, "pareto-flops") == len(study.trials)
    assert page.evaluate("document.querySelectorAll('#trials-table tbody tr').length") == 60
    # sorting by a column works
    page.click("#trials-table th:nth-child(1)")
    page.click("#trials-table th:nth-child(1)")
    first = page.evaluate("document.querySelector('#trials-table tbody tr td').dataset.value")
    assert first == "59"
    page.close()


def test_1000_trial_report_opens(browser, tmp_path: Path) -> None:
    # how fast it opens is measured by benchmarks/report_open.py (timed assertions do not
    # belong in unit tests: on a shared 2-core machine the same page took 2.0 s one day and
    # 3.5 s another)
    study = make_study(1000, seed=3)
    path = write_report(study, tmp_path / "big.html")
    page, errors, _ = _open(browser, path, "report-1000-trials.png")
    assert errors == []
    assert page.evaluate("document.querySelectorAll('#trials-table tbody tr').length") == 1000
    assert page.evaluate(POINTS_JS, "pareto-flops") == 1000
    page.close()
