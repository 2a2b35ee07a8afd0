"""Pure functions from a study to plain data (frozen dataclasses, tested with ==).

The plotting functions and the HTML page read only these; these read only the study (and, for
per-layer detail, a static re-profile of the stored architecture).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from ..profiler import QUICK_LATENCY
from ..proxies import proxy_names
from ..proxies.correlation import BOOTSTRAP_RESAMPLES, RankCorrelation, rank_correlation
from ..study import (
    OBJECTIVE_ATTRS,
    OBJECTIVES,
    ONE_SHOT_ATTR,
    PROXIES_ATTR,
    STATUS_OK,
    RunRecord,
    architecture_of,
    best_values,
    completed,
    objective_names,
    pareto_trials,
    record_of,
    run_record,
    stale_trials,
    status_counts,
    status_of,
    test_accuracies,
    trial_row,
)

COST_AXES = ("flops", "params", "mac", "latency_ms")
AXIS_TITLES = {
    "flops": "FLOPs (multiply-adds)",
    "params": "parameters",
    "mac": "memory access cost (elements)",
    "latency_ms": "measured latency (ms)",
}


@dataclass(frozen=True)
class RunInfo:
    name: str
    space: str
    searcher: str
    dataset: str
    objectives: tuple[str, ...]
    budget: str
    device: str
    torch_version: str
    seconds: float
    counts: tuple[tuple[str, int], ...]
    best: tuple[tuple[str, float], ...]
    stale: int = 0  # running trials whose worker stopped sending heartbeats
    fidelity: str = ""  # what every figure is measured at


@dataclass(frozen=True)
class ParetoPoint:
    number: int
    cost: float | None
    accuracy: float | None
    category: str  # front | dominated | pruned | failed | infeasible
    label: str


@dataclass(frozen=True)
class ParetoInfo:
    run: str
    axis: str
    points: tuple[ParetoPoint, ...]
    log_axis: bool


@dataclass(frozen=True)
class HistoryInfo:
    run: str
    objective: str
    numbers: tuple[int, ...]
    values: tuple[float, ...]
    best_so_far: tuple[float, ...]


@dataclass(frozen=True)
class AlphaInfo:
    positions: tuple[str, ...]
    ops: tuple[tuple[str, ...], ...]
    epochs: tuple[tuple[tuple[float, ...], ...], ...]  # epoch -> position -> op weight


@dataclass(frozen=True)
class LayerRow:
    path: str
    module_type: str
    flops: int
    mac: int
    out_shape: str


@dataclass(frozen=True)
class CandidateInfo:
    number: int
    arch_id: str
    summary: str
    values: tuple[tuple[str, float], ...]
    test_accuracy: float | None
    blocks: tuple[tuple[str, str, int | None, int, str], ...]  # where, type, width, stride, opts
    layers: tuple[LayerRow, ...]
    findings: tuple[tuple[str, str, float, str, str], ...]  # guideline, layer, figure, unit, text
    val_curve: tuple[float, ...]
    loss_curve: tuple[float, ...]
    alpha: AlphaInfo | None


@dataclass(frozen=True)
class RankInfo:
    run: str
    numbers: tuple[int, ...]
    flops: tuple[float, ...]
    mac: tuple[float, ...]
    latency_ms: tuple[float, ...]
    spearman_flops: float | None
    spearman_mac: float | None
    source: str
    backend: str = "torch"  # the runtime the latency was measured in


def get_run_info(study: optuna.Study) -> RunInfo:
    run = run_record(study)
    config = run.options
    counts = status_counts(study)
    names = objective_names(study)
    done = completed(study)
    best = [(name, float(v)) for name, v in best_values(done, tuple(names)).items()]
    starts = [t.datetime_start for t in study.trials if t.datetime_start is not None]
    ends = [t.datetime_complete for t in study.trials if t.datetime_complete is not None]
    seconds = (max(ends) - min(starts)).total_seconds() if starts and ends else 0.0
    timeout = config.get("timeout")
    budget = f"{config.get('trials', len(done))} completed trials" + (
        f", at most {timeout:g} s" if timeout else ""
    )
    return RunInfo(
        name=study.study_name,
        space=str(config.get("space", "")),
        searcher=str(config.get("searcher", "")),
        dataset=run.dataset,
        objectives=tuple(names),
        budget=budget,
        device=run.device,
        torch_version=run.torch_version,
        seconds=round(seconds, 3),
        counts=tuple(counts.items()),
        best=tuple(best),
        stale=len(stale_trials(study)),
        fidelity=fidelity_text(run),
    )


def fidelity_text(run: RunRecord) -> str:
    """Which fidelity the run's figures (accuracies, costs, test accuracies) are at."""
    from ..runs.fidelity import FIDELITY_FIELDS, describe_fidelity

    chosen = run.fidelity
    if chosen:
        native = chosen["native"]
        return (
            f"auto: {describe_fidelity(chosen)} per candidate (the data's size:"
            f" {native}x{native}); every accuracy and cost here is at this fidelity"
        )
    options = run.options
    given = {name: options[name] for name in FIDELITY_FIELDS if options.get(name) is not None}
    if given:
        return "as set: " + ", ".join(f"{k} {v}" for k, v in given.items())
    return "full: every training image at the data's size"


def _category(trial: FrozenTrial) -> str:
    status = status_of(trial)
    return "dominated" if status in (STATUS_OK, "running", "waiting") else status


def pareto_front_numbers(points: list[tuple[int, float, float]]) -> set[int]:
    """Trial numbers on the (accuracy max, cost min) front, by Optuna's own front."""
    if not points:
        return set()
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        scratch = optuna.create_study(directions=["maximize", "minimize"])
    finally:
        optuna.logging.set_verbosity(verbosity)
    scratch.add_trials(
        [
            optuna.trial.create_trial(values=[accuracy, cost], user_attrs={"number": number})
            for number, accuracy, cost in points
        ]
    )
    return {t.user_attrs["number"] for t in scratch.best_trials}


def get_pareto_info(study: optuna.Study, axis: str) -> ParetoInfo | None:
    """Accuracy against one cost; ``None`` when no trial recorded that cost."""
    trials: list[FrozenTrial] = []
    records: dict[int, dict[str, Any]] = {}
    for t in study.get_trials(deepcopy=False):
        record = record_of(t)
        if t.state != TrialState.RUNNING and axis in record:
            trials.append(t)
            records[t.number] = record
    if not trials:
        return None
    done = {t.number for t in completed(study)}
    scored = [
        (t.number, float(records[t.number]["val_accuracy"]), float(records[t.number][axis]))
        for t in trials
        if t.number in done and "val_accuracy" in records[t.number]
    ]
    front = pareto_front_numbers(scored)
    points = []
    for trial in trials:
        record = records[trial.number]
        category = (
            _category(trial)
            if trial.number not in done
            else ("front" if trial.number in front else "dominated")
        )
        accuracy = record.get("val_accuracy") if trial.number in done else None
        points.append(
            ParetoPoint(
                trial.number,
                float(record[axis]),
                accuracy,
                category,
                str(record.get("arch_str", "")),
            )
        )
    costs = [p.cost for p in points if p.cost is not None and p.cost > 0]
    log_axis = bool(costs) and max(costs) / min(costs) > 100
    return ParetoInfo(study.study_name, axis, tuple(points), log_axis)


def get_history_info(study: optuna.Study) -> list[HistoryInfo]:
    infos = []
    done = completed(study)
    for index, name in enumerate(objective_names(study)):
        maximize = OBJECTIVES.get(name, "maximize") == "maximize"
        values = [float(t.values[index]) for t in done]
        best: list[float] = []
        for value in values:
            best.append(value if not best else (max if maximize else min)(best[-1], value))
        infos.append(
            HistoryInfo(
                study.study_name, name, tuple(t.number for t in done), tuple(values), tuple(best)
            )
        )
    return infos


def get_importance_info(study: optuna.Study) -> dict[str, dict[str, float]]:
    """Optuna's hyperparameter importances (fANOVA), per objective; empty when too few."""
    done = completed(study)
    if len(done) < 4:
        return {}
    result = {}
    for index, name in enumerate(objective_names(study)):
        try:
            importances = optuna.importance.get_param_importances(
                study,
                target=lambda t, i=index: t.values[i],
                # 16 trees, not 64: a 1,000-trial report stays quick
                evaluator=optuna.importance.FanovaImportanceEvaluator(n_trees=16, seed=0),
            )
        except (ValueError, RuntimeError):
            continue  # e.g. no parameter varies across completed trials
        result[name] = {k: round(float(v), 6) for k, v in importances.items()}
    return result


@dataclass(frozen=True)
class OneShotInfo:
    """The networks a one-shot search picked, with its estimate beside the accuracy each
    reached when trained from scratch (``None`` until trained)."""

    run: str
    rows: tuple[dict[str, Any], ...]
    correlation: RankCorrelation | None  # estimate against trained accuracy, 3 trained or more


def get_one_shot_info(
    study: optuna.Study, resamples: int = BOOTSTRAP_RESAMPLES
) -> OneShotInfo | None:
    picked = [t for t in study.get_trials(deepcopy=False) if ONE_SHOT_ATTR in t.user_attrs]
    if not picked:
        return None
    rows = []
    for trial in sorted(picked, key=lambda t: t.user_attrs[ONE_SHOT_ATTR].get("rank", 0)):
        record = record_of(trial)
        done = trial.state == TrialState.COMPLETE
        rows.append(
            {
                "trial": trial.number,
                "architecture": record.get("arch_str"),
                "one-shot estimate": trial.user_attrs[ONE_SHOT_ATTR]["estimate"],
                "trained accuracy": record.get("val_accuracy") if done else None,
                "flops": record.get("flops"),
            }
        )
    trained = [r for r in rows if r["trained accuracy"] is not None]
    correlation = (
        rank_correlation(
            "one-shot estimate",
            [r["one-shot estimate"] for r in trained],
            [r["trained accuracy"] for r in trained],
            resamples=resamples,
        )
        if len(trained) >= 3
        else None
    )
    return OneShotInfo(study.study_name, tuple(rows), correlation)


def get_trial_rows(study: optuna.Study) -> list[dict[str, Any]]:
    tests = test_accuracies(study)
    return [trial_row(t, tests) for t in study.get_trials(deepcopy=False)]


def get_alpha_info(trial: FrozenTrial) -> AlphaInfo | None:
    """The DARTS architecture weights per epoch, when the trial holds them (``alpha_history``:
    ``{"positions": [...], "ops": [[...]], "epochs": [[[w, ...], ...], ...]}``)."""
    history = trial.user_attrs.get("alpha_history")
    if not history:
        return None
    return AlphaInfo(
        positions=tuple(history["positions"]),
        ops=tuple(tuple(ops) for ops in history["ops"]),
        epochs=tuple(
            tuple(tuple(float(w) for w in position) for position in epoch)
            for epoch in history["epochs"]
        ),
    )


def get_candidate_info(study: optuna.Study, trial: FrozenTrial) -> CandidateInfo:
    from ..profiler import profile_model

    arch = architecture_of(trial)
    record = record_of(trial)
    run = run_record(study)
    profile = profile_model(arch, (1, *run.input_shape), num_classes=run.num_classes)
    by_block = profile.by_module(depth=3)
    layers = tuple(
        LayerRow(
            str(path),
            str(row["module_type"]),
            int(row["flops"]),
            int(row["mac"]),
            "x".join(map(str, row["out_shape"])),
        )
        for path, row in by_block.iterrows()
    )
    blocks = tuple(
        (
            where,
            spec.type,
            spec.out_channels,
            spec.stride,
            ", ".join(f"{k}={v}" for k, v in spec.options),
        )
        for where, _, spec in arch.blocks()
    )
    names = objective_names(study)
    return CandidateInfo(
        number=trial.number,
        arch_id=arch.id,
        summary=str(arch),
        values=tuple((n, float(v)) for n, v in zip(names, trial.values or [], strict=False)),
        test_accuracy=test_accuracies(study).get(trial.number),
        blocks=blocks,
        layers=layers,
        findings=tuple(
            (f.guideline, f.layer, float(f.figure), f.unit, f.message) for f in profile.findings
        ),
        val_curve=tuple(float(v) for v in record.get("val_curve", [])),
        loss_curve=tuple(float(v) for v in record.get("loss_curve", [])),
        alpha=get_alpha_info(trial),
    )


def spearman(a: list[float], b: list[float]) -> float | None:
    import pandas as pd

    if len(a) < 3:
        return None
    value = pd.Series(a).corr(pd.Series(b), method="spearman")
    return None if value is None or math.isnan(value) else round(float(value), 6)


def run_latency_backend(study: optuna.Study) -> str:
    """The runtime a run measured its latencies in (``torch`` for runs before the option)."""
    return run_record(study).latency_backend


def get_rank_info(
    study: optuna.Study, measure: int = 0, device: str = "cpu", backend: str | None = None
) -> RankInfo | None:
    """How well flops and mac rank candidates by latency in ``backend`` (default: the run's):
    the latencies the run recorded, or (``measure`` > 0) latencies measured now on ``device``
    for up to that many completed candidates (always so for a backend the run did not use)."""
    finished = completed(study)
    records = {t.number: record_of(t) for t in finished}
    done = [t for t in finished if "flops" in records[t.number]]
    backend = backend or run_latency_backend(study)
    own = backend == run_latency_backend(study)
    recorded = [t for t in done if own and records[t.number].get("latency_ms") is not None]
    source = "recorded during the search"
    latencies = {t.number: float(records[t.number]["latency_ms"]) for t in recorded}
    if len(recorded) < 3 and measure > 0 and len(done) >= 3:
        latencies = _measure(study, done, measure, device, backend)
        source = f"measured for this report on {device}"
    if len(latencies) < 3:
        return None
    chosen = [t for t in done if t.number in latencies]
    flops = [float(records[t.number]["flops"]) for t in chosen]
    mac = [float(records[t.number]["mac"]) for t in chosen]
    latency = [latencies[t.number] for t in chosen]
    return RankInfo(
        study.study_name,
        tuple(t.number for t in chosen),
        tuple(flops),
        tuple(mac),
        tuple(latency),
        spearman(flops, latency),
        spearman(mac, latency),
        source,
        backend,
    )


def _measure(
    study: optuna.Study, trials: list[FrozenTrial], limit: int, device: str, backend: str
) -> dict[int, float]:
    from ..build import build_model
    from ..profiler import measure_latency

    run = run_record(study)
    shape, classes = run.input_shape, run.num_classes
    step = max(1, len(trials) // limit)
    out = {}
    for trial in trials[::step][:limit]:
        model = build_model(architecture_of(trial), classes, shape[0])
        out[trial.number] = measure_latency(
            model,
            (1, *shape),
            device=device,
            backend=backend,  # type: ignore[arg-type]  # checked by measure_latency
            **QUICK_LATENCY.as_kwargs(),
        ).median_ms
    return out


@dataclass(frozen=True)
class ProxyInfo:
    """How each recorded zero-cost proxy (and params, flops) ranks the run's trained trials."""

    run: str
    numbers: tuple[int, ...]  # the trials trained to their last epoch
    accuracy: tuple[float, ...]
    scores: dict[str, tuple[float | None, ...]]  # per proxy, aligned with numbers
    correlations: tuple[RankCorrelation, ...]
    median_ms: dict[str, float]  # per candidate
    missing: dict[str, int]  # trials whose proxy gave no score (inf, NaN, an error)
    hyperparameters_vary: bool = False  # then training, not only the network, varies


def get_proxy_info(study: optuna.Study, resamples: int = BOOTSTRAP_RESAMPLES) -> ProxyInfo | None:
    """ρ and τ (bootstrap 95% intervals) of every proxy the run recorded, and of params and
    flops, against the validation accuracy of the trials trained to their last epoch (with
    early stopping these are the survivors: a narrower, better set than all candidates)."""
    import numpy as np

    trained = [t for t in completed(study) if PROXIES_ATTR in t.user_attrs]
    if len(trained) < 3:
        return None
    records = [record_of(t) for t in trained]
    recorded = [t.user_attrs[PROXIES_ATTR] for t in trained]
    seen = {name for r in recorded for name in (*r.get("values", {}), *r.get("missing", {}))}
    names = [n for n in proxy_names() if n in seen or n in ("params", "flops")]
    scores: dict[str, tuple[float | None, ...]] = {}
    for name in names:
        if name in ("params", "flops"):  # the baselines: the static profile's own counts
            scores[name] = tuple(float(r[name]) for r in records)
        else:
            scores[name] = tuple(r.get("values", {}).get(name) for r in recorded)
    accuracy = tuple(float(r["val_accuracy"]) for r in records)
    correlations = []
    for name in names:
        pairs = [(v, a) for v, a in zip(scores[name], accuracy, strict=True) if v is not None]
        correlations.append(
            rank_correlation(
                name, [v for v, _ in pairs], [a for _, a in pairs], resamples=resamples
            )
        )
    timings = {
        name: float(np.median([r["ms"][name] for r in recorded if name in r.get("ms", {})]))
        for name in names
        if any(name in r.get("ms", {}) for r in recorded)
    }
    return ProxyInfo(
        study.study_name,
        tuple(t.number for t in trained),
        accuracy,
        scores,
        tuple(correlations),
        timings,
        {name: sum(1 for v in scores[name] if v is None) for name in names},
        len({json.dumps(r.get("hyperparameters"), sort_keys=True) for r in records}) > 1,
    )


def get_proxy_rows(info: ProxyInfo) -> list[dict[str, Any]]:
    """The correlation table: one row per proxy, with its cost and missing scores."""
    return [
        {
            **c.as_row(),
            "ms per candidate": (
                round(info.median_ms[c.name], 1) if c.name in info.median_ms else None
            ),
            "missing": info.missing.get(c.name, 0),
        }
        for c in info.correlations
    ]


def report_trials(study: optuna.Study) -> list[FrozenTrial]:
    """The candidates that get a detail section: the Pareto-optimal ones."""
    return pareto_trials(study)


__all__ = [
    "AXIS_TITLES",
    "COST_AXES",
    "OBJECTIVE_ATTRS",
    "AlphaInfo",
    "CandidateInfo",
    "HistoryInfo",
    "LayerRow",
    "ParetoInfo",
    "ParetoPoint",
    "ProxyInfo",
    "RankInfo",
    "RunInfo",
    "get_alpha_info",
    "get_candidate_info",
    "get_history_info",
    "get_importance_info",
    "get_pareto_info",
    "get_proxy_info",
    "get_proxy_rows",
    "get_rank_info",
    "get_run_info",
    "get_trial_rows",
    "pareto_front_numbers",
    "report_trials",
    "run_latency_backend",
]
