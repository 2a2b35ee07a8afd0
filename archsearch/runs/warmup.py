"""``--proxy-warmup N``: a warm start for the sampler from zero-cost proxies.

Before the first trial, N candidates are drawn at random from the space (the same sampling
path as the trials: :meth:`Candidates.sample`), built, counted by the static profiler and
scored at initialisation by the first of ``--proxies``; candidates over a constraint are left
out. They are ranked in NSGA-II's order on (proxy score, the run's costs; flops stands in for
latency, which is not measured here), and the best tenth (at least one) are enqueued as the
run's first trials with their parameters, so TPE and NSGA-II start from them instead of from
random candidates. Nothing is trained here; a resumed run does not warm up again.
"""

from __future__ import annotations

import time
from typing import Any

import optuna
import torch

from ..build import build_model
from ..data import Dataset
from ..objective import Candidates
from ..profiler import static_costs
from ..proxies import proxy_batch, score_candidate
from ..searchers.pruners import merit_and_costs, nsga_order
from ..study import CONSTRAINT_ATTRS
from .config import RunConfig

#: user attribute of an enqueued warm-up trial: its rank, proxy score and how many were scored
WARMUP_ATTR = "proxy_warmup"
KEEP_SHARE = 10  # the best 1/KEEP_SHARE of the scored candidates are enqueued


def proxy_warm_start(
    study: optuna.Study, config: RunConfig, candidates: Candidates, data: Dataset
) -> str | None:
    """Enqueue the best of ``config.proxy_warmup`` random candidates by proxy and cost; the
    line to log, or None when there is nothing to do."""
    count = config.proxy_warmup
    if count <= 0 or any(WARMUP_ATTR in t.user_attrs for t in study.get_trials(deepcopy=False)):
        return None
    started = time.perf_counter()
    proxy = config.proxies[0]
    costs = [("flops" if o == "latency" else o) for o in config.objectives if o != "accuracy"]
    names = ["accuracy", *costs]  # accuracy's place: the proxy score
    batch = proxy_batch(data, seed=config.seed)
    shape = (1, data.in_channels, *data.input_size)
    scratch = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=config.seed + 1))
    scored: list[tuple[dict[str, Any], float]] = []
    points: list[list[float]] = []
    for index in range(count):
        trial = scratch.ask()
        arch, _ = candidates.sample(trial, data.input_size)
        with torch.random.fork_rng():
            torch.manual_seed(config.seed + index)
            model = build_model(arch, data.num_classes, data.in_channels)
        static = static_costs(model, shape)
        record = {"params": static.params, "flops": static.flops, "mac": static.mac}
        if any(
            record.get(CONSTRAINT_ATTRS[name], 0) > limit
            for name, limit in config.constraints.items()
            if CONSTRAINT_ATTRS[name] in record
        ):
            continue
        score = score_candidate(model, batch, [proxy], seed=config.seed).values.get(proxy)
        point = None if score is None else merit_and_costs(record, -score, names)
        if score is not None and point is not None:
            scored.append((trial.params, score))
            points.append(point)
    if not scored:
        return f"proxy warm-up: none of {count} candidates had a {proxy} score"
    order, _ = nsga_order(points, list(range(len(points))))
    keep = order[: max(1, len(scored) // KEEP_SHARE)]
    for rank, index in enumerate(keep):
        params, score = scored[index]
        study.enqueue_trial(
            params,
            user_attrs={WARMUP_ATTR: {"rank": rank, "score": score, "scored": len(scored)}},
            skip_if_exists=False,
        )
    return (
        f"proxy warm-up: {len(scored)} candidates scored by {proxy} in"
        f" {time.perf_counter() - started:.1f} s; the best {len(keep)} go first"
    )
