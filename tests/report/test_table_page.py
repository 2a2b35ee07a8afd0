"""The page of a tabulated benchmark: families, the choices that buy accuracy beyond their
flops, and the best of each family per flops band — checked by hand on four networks."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from archsearch.report import write_table_page
from archsearch.report._table import ChoiceEffect, FamilyBest, get_table_info

# log2 flops 1000, 2000, 4000, 8000 = x0 + 0, 1, 2, 3; accuracies 0.5, 0.7, 0.8, 0.8.
# Least squares: slope = sum (x - 1.5)(y - 0.7) / sum (x - 1.5)^2 = 0.5 / 5 = 0.1 per doubling;
# predictions 0.55, 0.65, 0.75, 0.85, so residuals -0.05, +0.05, +0.05, -0.05.
ROWS = [
    ("A", "dwsep", "dwsep", False, False, 1000, 0.5),
    ("B", "dwsep", "dwsep", True, True, 2000, 0.7),
    ("C", "mbconv", "mbconv", False, True, 4000, 0.8),
    ("D", "dwsep", "mbconv", False, False, 8000, 0.8),
]


def frame() -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "seed": 0,
                "architecture": a,
                "stage1.block": b1,
                "stage2.block": b2,
                "stage1.se": s1,
                "stage2.se": s2,
                "flops": f,
                "mac": 2 * f,
                "test_accuracy": acc,
                "proxy.snip": 1.0,
            }
            for a, b1, b2, s1, s2, f, acc in ROWS
        ]
    )


def test_the_table_info_by_hand() -> None:
    info = get_table_info(frame(), "four")
    assert [(p.architecture, p.family, p.se) for p in info.points] == [
        ("A", "dwsep", "no SE"),
        ("B", "dwsep", "SE"),
        ("C", "mbconv", "some SE"),
        ("D", "mixed", "no SE"),
    ]
    assert info.per_doubling == pytest.approx(0.1)
    effects = {(e.field, e.value): e for e in info.effects}
    assert effects[("stage1.se", "True")] == ChoiceEffect("stage1.se", "True", 1, 0.7, 2000, 0.05)
    # (-0.05 + 0.05 - 0.05) / 3 for A, C, D
    assert effects[("stage1.se", "False")].residual == pytest.approx(-0.0167, abs=1e-4)
    assert effects[("stage2.block", "mbconv")].residual == pytest.approx(0.0, abs=1e-9)
    assert effects[("stage2.se", "False")] == ChoiceEffect(
        "stage2.se", "False", 2, 0.65, 4500, -0.05
    )
    assert "proxy.snip" not in {e.field for e in info.effects}  # a score, not a choice
    assert [e.residual for e in info.effects] == sorted(
        (e.residual for e in info.effects), reverse=True
    )
    # quartiles of the flops: 1000, 1750, 3000, 5000, 8000
    assert info.best == (
        FamilyBest("dwsep", "1k-2k", "A", 1000, 0.5),
        FamilyBest("dwsep", "2k-3k", "B", 2000, 0.7),
        FamilyBest("mbconv", "3k-5k", "C", 4000, 0.8),
        FamilyBest("mixed", "5k-8k", "D", 8000, 0.8),
    )


def test_the_page_is_written(tmp_path: Path) -> None:
    meta = {"name": "four", "space": "s", "dataset": "d", "date": "2026-12-07"}
    page = write_table_page(frame(), meta, tmp_path / "four.html").read_text()
    assert "accuracy rises +0.1000 per doubling of flops" in page
    assert 'id="table-flops"' in page and 'id="table-mac"' in page and "table-families" in page
