"""A tabulated benchmark as plain data for its page (``archsearch report --table``): every
network's accuracy against its costs by block family, which choices buy accuracy beyond their
flops, and the best network of each family at equal flops — what the table says, for this
data, about why mobile networks are built the way they are."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

#: the table's columns that are not a choice of the space
_NOT_CHOICES = ("proxy.",)


@dataclass(frozen=True)
class TablePoint:
    architecture: str
    flops: float
    mac: float
    accuracy: float
    family: str  # the block type of every stage, or "mixed"
    se: str  # "SE" (every stage), "no SE", or "some SE"


@dataclass(frozen=True)
class ChoiceEffect:
    """What one value of one field does: its networks' median accuracy and flops, and how
    far their accuracy sits above the accuracy their flops predict (``residual``: the mean
    over them of accuracy - (a + b log2 flops), a and b fitted over every network)."""

    field: str
    value: str
    networks: int
    median_accuracy: float
    median_flops: float
    residual: float


@dataclass(frozen=True)
class FamilyBest:
    family: str
    band: str  # the flops quartile: "42k-96k" ...
    architecture: str
    flops: int
    accuracy: float


@dataclass(frozen=True)
class TableInfo:
    name: str
    accuracy: str  # the column shown: test accuracy
    points: tuple[TablePoint, ...]
    per_doubling: float  # accuracy per doubling of flops, fitted over every network
    effects: tuple[ChoiceEffect, ...]  # largest residual first
    best: tuple[FamilyBest, ...]


def _choices(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if "." in c and not c.startswith(_NOT_CHOICES)]


def _labels(row: dict[str, Any], blocks: list[str], ses: list[str]) -> tuple[str, str]:
    types = {str(row[c]) for c in blocks}
    family = types.pop() if len(types) == 1 else "mixed"
    flags = [str(row[c]).lower() == "true" for c in ses]
    se = "SE" if all(flags) else ("no SE" if not any(flags) else "some SE")
    return family, se


def _text(value: Any) -> str | None:
    """A choice as text: 3.0 (a column with empty cells is float) as "3"; empty as None."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _k(value: float) -> str:
    return f"{value / 1000:.0f}k" if value >= 1000 else f"{value:.0f}"


def get_table_info(
    frame: pd.DataFrame, name: str, accuracy: str = "test_accuracy", seed: int = 0
) -> TableInfo:
    """The page's data from a table's rows of ``seed``."""
    rows = frame[frame.seed == seed].to_dict("records")
    choices = _choices(frame)
    blocks = [c for c in choices if c.endswith(".block")]
    ses = [c for c in choices if c.endswith(".se")]
    points = []
    for row in rows:
        family, se = _labels(row, blocks, ses)
        points.append(
            TablePoint(
                str(row["architecture"]),
                float(row["flops"]),
                float(row["mac"]),
                float(row[accuracy]),
                family,
                se,
            )
        )
    log_flops = np.log2([p.flops for p in points])
    accuracies = np.array([p.accuracy for p in points])
    slope, intercept = np.polyfit(log_flops, accuracies, 1)
    residuals = accuracies - (intercept + slope * log_flops)
    effects = []
    for field in choices:
        # a field that applies to some choices only is empty in the others' rows
        values = [_text(r[field]) for r in rows]
        for value in sorted({v for v in values if v is not None}):
            mine = [i for i, v in enumerate(values) if v == value]
            effects.append(
                ChoiceEffect(
                    field,
                    value,
                    len(mine),
                    round(float(np.median(accuracies[mine])), 4),
                    round(float(np.median([points[i].flops for i in mine]))),
                    round(float(np.mean(residuals[mine])), 4),
                )
            )
    effects.sort(key=lambda e: (-e.residual, e.field, e.value))
    edges = np.percentile([p.flops for p in points], [0, 25, 50, 75, 100])
    best = []
    for family in sorted({p.family for p in points}):
        for low, high in itertools.pairwise(edges):
            inside = [p for p in points if p.family == family and low <= p.flops <= high]
            if inside:
                top = max(inside, key=lambda p: (p.accuracy, -p.flops))
                band = f"{_k(low)}-{_k(high)}"
                best.append(
                    FamilyBest(family, band, top.architecture, int(top.flops), top.accuracy)
                )
    return TableInfo(
        name, accuracy, tuple(points), round(float(slope), 4), tuple(effects), tuple(best)
    )


def effect_rows(info: TableInfo) -> list[dict[str, Any]]:
    return [
        {
            "field": e.field,
            "value": e.value,
            "networks": e.networks,
            "median accuracy": e.median_accuracy,
            "median flops": e.median_flops,
            "accuracy beyond its flops": f"{e.residual:+.4f}",
        }
        for e in info.effects
    ]


def best_rows(info: TableInfo) -> list[dict[str, Any]]:
    return [
        {
            "family": b.family,
            "flops band": b.band,
            "best network": b.architecture,
            "flops": b.flops,
            "accuracy": b.accuracy,
        }
        for b in info.best
    ]
