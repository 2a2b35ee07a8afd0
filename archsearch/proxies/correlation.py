"""How well a proxy ranks candidates: Spearman ρ and Kendall τ (τ-b, ties counted) of the
proxy against the trained accuracy, each with a percentile bootstrap confidence interval
(candidates resampled in pairs, scipy's ``stats.bootstrap``)."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

BOOTSTRAP_RESAMPLES = 1000
CONFIDENCE = 0.95


@dataclass(frozen=True)
class RankCorrelation:
    name: str
    n: int
    spearman: float | None
    spearman_ci: tuple[float, float] | None
    kendall: float | None
    kendall_ci: tuple[float, float] | None

    def as_row(self) -> dict[str, object]:
        def interval(ci: tuple[float, float] | None) -> str:
            return "" if ci is None else f"[{ci[0]:.2f}, {ci[1]:.2f}]"

        def value(v: float | None) -> float | None:
            return None if v is None else round(v, 4)

        return {
            "proxy": self.name,
            "n": self.n,
            "spearman": value(self.spearman),
            "spearman 95% CI": interval(self.spearman_ci),
            "kendall": value(self.kendall),
            "kendall 95% CI": interval(self.kendall_ci),
        }


def _spearman(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
    """Spearman's ρ along ``axis`` (Pearson's r of the ranks, ties at their mean rank), for
    the bootstrap's batches of resamples at once."""
    rx = stats.rankdata(x, axis=axis)
    ry = stats.rankdata(y, axis=axis)
    rx = rx - rx.mean(axis=axis, keepdims=True)
    ry = ry - ry.mean(axis=axis, keepdims=True)
    return (rx * ry).sum(axis=axis) / np.sqrt((rx**2).sum(axis=axis) * (ry**2).sum(axis=axis))


def _kendall(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
    """Kendall's τ-b along ``axis``: Σ sgn(Δx) sgn(Δy) over pairs, over the square root of
    the products of the pairs untied in x and in y (scipy's definition, batched)."""
    x, y = np.moveaxis(x, axis, -1), np.moveaxis(y, axis, -1)
    dx = np.sign(x[..., :, None] - x[..., None, :])
    dy = np.sign(y[..., :, None] - y[..., None, :])
    untied = np.abs(dx).sum(axis=(-2, -1)) * np.abs(dy).sum(axis=(-2, -1))
    return (dx * dy).sum(axis=(-2, -1)) / np.sqrt(untied)


def rank_correlation(
    name: str,
    scores: Sequence[float],
    accuracies: Sequence[float],
    *,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = 0,
) -> RankCorrelation:
    """ρ and τ of ``scores`` against ``accuracies`` (paired; fewer than 3 pairs, or a constant
    side, has no correlation: None)."""
    x, y = np.asarray(scores, dtype=float), np.asarray(accuracies, dtype=float)
    n = len(x)
    if n != len(y):
        raise ValueError(f"{name}: {n} scores for {len(y)} accuracies")
    if n < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return RankCorrelation(name, n, None, None, None, None)
    results: list[float | None] = []
    intervals: list[tuple[float, float] | None] = []
    point_estimates = (stats.spearmanr(x, y).statistic, stats.kendalltau(x, y).statistic)
    for statistic, estimate in zip((_spearman, _kendall), point_estimates, strict=True):
        results.append(float(estimate))
        with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
            # resamples whose one side is constant have no correlation: NaN, ignored
            warnings.simplefilter("ignore")
            ci = stats.bootstrap(
                (x, y),
                statistic,
                paired=True,
                vectorized=True,
                n_resamples=resamples,
                confidence_level=CONFIDENCE,
                method="percentile",
                # Kendall's pairwise signs are n x n per resample: batches within ~100 MB
                batch=max(1, 4_000_000 // (n * n)),
                rng=np.random.default_rng(seed),
            ).confidence_interval
        low, high = float(ci.low), float(ci.high)
        intervals.append(None if math.isnan(low) or math.isnan(high) else (low, high))
    return RankCorrelation(name, n, results[0], intervals[0], results[1], intervals[1])
