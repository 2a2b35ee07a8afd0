"""Pareto arithmetic on plain arrays, every objective minimised: non-dominated sorting, NSGA-II's
crowding distance, and the 2-D hypervolume.

Optuna computes all three inside its samplers but exposes none of them publicly (Optuna 5.0:
``optuna._hypervolume`` and ``optuna.study._multi_objective`` are private), so they are written
here once, small, and checked against Optuna's private versions in the tests. The study's own
front (:func:`archsearch.study.pareto_trials`) stays Optuna's ``best_trials``.
"""

from __future__ import annotations

import numpy as np


def nondominated_ranks(points: np.ndarray) -> np.ndarray:
    """The front index of each row of ``points`` (n x m, minimised): 0 for the non-dominated
    rows, 1 for those dominated only by front 0, and so on (Deb et al. 2002's sorting)."""
    points = np.asarray(points, dtype=float)
    n = len(points)
    ranks = np.full(n, -1, dtype=int)
    if n == 0:
        return ranks
    # dominated[i, j]: row j dominates row i (no worse everywhere, better somewhere)
    no_worse = (points[None, :, :] <= points[:, None, :]).all(axis=2)
    better = (points[None, :, :] < points[:, None, :]).any(axis=2)
    dominated = no_worse & better
    remaining = np.ones(n, dtype=bool)
    rank = 0
    while remaining.any():
        front = remaining & ~(dominated & remaining[None, :]).any(axis=1)
        ranks[front] = rank
        remaining &= ~front
        rank += 1
    return ranks


def crowding_distances(points: np.ndarray, ranks: np.ndarray) -> np.ndarray:
    """NSGA-II's crowding distance of each row within its own front: the sum over objectives
    of the gap between its two neighbours, divided by the front's range in that objective;
    the ends of a front (and a front of one or two rows) get infinity."""
    points = np.asarray(points, dtype=float)
    distances = np.zeros(len(points))
    for rank in np.unique(ranks):
        members = np.flatnonzero(ranks == rank)
        if len(members) <= 2:
            distances[members] = np.inf
            continue
        for column in range(points.shape[1]):
            values = points[members, column]
            order = members[np.argsort(values, kind="stable")]
            span = values.max() - values.min()
            distances[order[0]] = distances[order[-1]] = np.inf
            if span > 0:
                gaps = (points[order[2:], column] - points[order[:-2], column]) / span
                distances[order[1:-1]] += gaps
    return distances


def hypervolume_2d(points: np.ndarray, reference: tuple[float, float]) -> float:
    """The area that ``points`` (n x 2, minimised) dominate inside the box below ``reference``:
    a sweep along the first objective. Points not better than the reference in both add
    nothing."""
    points = np.asarray(points, dtype=float).reshape(-1, 2)
    ref_x, ref_y = reference
    inside = points[(points[:, 0] < ref_x) & (points[:, 1] < ref_y)]
    area = 0.0
    best_y = ref_y
    for x, y in inside[np.lexsort((inside[:, 1], inside[:, 0]))]:
        if y < best_y:  # a new step of the staircase, from x to the reference
            area += (ref_x - x) * (best_y - y)
            best_y = y
    return float(area)


def hypervolume_gains(
    front: np.ndarray, candidates: np.ndarray, reference: tuple[float, float]
) -> tuple[np.ndarray, np.ndarray]:
    """For each row p of ``candidates`` (N x 2, minimised): the hypervolume it would add to
    ``front`` (n x 2) inside the box below ``reference`` — ``hypervolume_2d(front + [p]) -
    hypervolume_2d(front)`` for all N at once — and its margin: how far p's second objective
    is below the front's best at p's first (positive when p is not dominated).

    The front's staircase ``B(x)``, the least second objective among its points with first
    objective at most x, is a step function; p adds the area between it and p's own level
    from p's first objective to the reference."""
    front = np.asarray(front, dtype=float).reshape(-1, 2)
    points = np.asarray(candidates, dtype=float).reshape(-1, 2)
    ref_x, ref_y = reference
    front = front[(front[:, 0] < ref_x) & (front[:, 1] < ref_y)]
    order = np.argsort(front[:, 0], kind="stable")
    xs, ys = front[order, 0], np.minimum.accumulate(front[order, 1]) if len(front) else front[:, 1]
    starts = np.concatenate([[-np.inf], xs])  # steps: before the first point, then at each
    ends = np.concatenate([xs, [ref_x]])
    levels = np.concatenate([[ref_y], ys])
    px, py = points[:, :1], points[:, 1:]
    widths = np.clip(np.minimum(ends, ref_x) - np.maximum(starts, px), 0.0, None)
    gains = (np.clip(levels - py, 0.0, None) * widths).sum(axis=1)
    step = np.searchsorted(xs, points[:, 0], side="right")  # the step holding each p
    margins = levels[step] - points[:, 1]
    return gains, margins
