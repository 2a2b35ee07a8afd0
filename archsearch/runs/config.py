"""A run's options (:class:`RunConfig`, validated once, when it is made), and the types a run
hands back: progress callbacks (:class:`RunProgress`) and the result (:class:`RunResult`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args

import optuna

from ..architecture import Architecture
from ..errors import ConfigError, choice
from ..profiler.latency import LATENCY_BACKENDS, LatencyBackend
from ..proxies import check_proxy_names
from ..searchers.guided import GuidedOptions
from ..searchers.oneshot.darts import Cost, DartsMode, DartsOrder
from ..searchers.oneshot.spos import OneShotSampler, Sampling, check_objectives
from ..study import OBJECTIVES, Objective
from .fidelity import FidelityMode, check_fidelity
from .searchers import PICKING_SEARCHERS

if TYPE_CHECKING:
    import pandas as pd

#: the keys of :data:`.searchers.SEARCHER_TABLE`
Searcher = Literal[
    "random", "grid", "tpe", "nsga2", "gp", "bins", "local", "predictor", "darts", "spos", "zoo"
]
Pruner = Literal["auto", "pareto-asha", "median", "successive-halving", "hyperband", "none"]
#: Optuna's own pruners, which rank one value: single-objective studies only
OPTUNA_PRUNERS = ("median", "successive-halving", "hyperband")

# judged trials (trained to the end or stopped early): with the default pruner, 230 trials of
# the mobile space on digits take about 8 minutes on 2 CPU cores (benchmarks/RESULTS.md), within
# the 10 minutes the default run must fit in; 150 took 5.5 minutes but left a worse front than
# the 80 fully trained trials of before
DEFAULT_TRIALS = 230
# none recorded unless asked for: no default search uses them, none ranked trained
# candidates better than params or flops (benchmarks/RESULTS.md, "Zero-cost proxies"), and the
# two that ranked best (naswot, snip: Spearman 0.55 and 0.57) cost 7.5% of a 1-epoch
# default-job trial (68 ms; "Throughput (issue 26)")
DEFAULT_PROXIES: tuple[str, ...] = ()


@dataclass(frozen=True)
class DartsOptions:
    """``--searcher darts``'s options (flags ``--darts-mode``, ``--darts-epochs``, ``--cost`` ...:
    :data:`GROUPED` names each flag's field here): :class:`~.oneshot.darts.DartsConfig`'s
    fields of the same names."""

    mode: DartsMode = "full"
    order: DartsOrder = "first"
    epochs: int = 10
    cost: Cost = "flops"  # the cost-aware loss's cost
    cost_weight: float = 0.0
    derive_top: int = 0
    front: int = 5  # with a cost objective: networks of a derived front (one per cost bin)
    beta_weight: float = 0.0  # β-DARTS regulariser weight
    aux_skip: float = 0.0  # DARTS- auxiliary skip weight
    partial_channels: int = 1  # PC-DARTS: 1/K of the channels through the mixed ops

    def __post_init__(self) -> None:
        choice("darts_mode", self.mode, get_args(DartsMode))
        choice("darts_order", self.order, get_args(DartsOrder))
        _at_least(self, 1, epochs="darts_epochs", partial_channels="darts_partial_channels")
        _at_least(
            self,
            0,
            derive_top="derive_top",
            front="darts_front",
            cost_weight="cost_weight",
            beta_weight="darts_beta",
            aux_skip="darts_aux_skip",
        )


@dataclass(frozen=True)
class SposOptions:
    """``--searcher spos``'s options: supernet epochs, path sampling, one-shot evaluations,
    networks retrained (flags ``--spos-epochs``, ``--retrain-top`` ...):
    :class:`~.oneshot.spos.SposConfig`'s fields of the same names."""

    epochs: int = 10
    sampling: Sampling = "uniform"
    sampler: OneShotSampler = "nsga2"
    evaluations: int = 1000
    retrain_top: int = 5

    def __post_init__(self) -> None:
        choice("spos_sampling", self.sampling, get_args(Sampling))
        choice("spos_sampler", self.sampler, get_args(OneShotSampler))
        _at_least(
            self,
            1,
            epochs="spos_epochs",
            evaluations="spos_evaluations",
            retrain_top="retrain_top",
        )


def _at_least(options: Any, low: int, **names: str) -> None:
    """Each of ``names`` (field → the option's flat name) at least ``low``."""
    for name, option in names.items():
        if getattr(options, name) < low:
            raise ConfigError(option, f"must be at least {low}")


def _workers(value: Any) -> int | Literal["auto"]:
    """``--workers``: ``auto`` or a count of at least 1 (the flag gives text)."""
    if value == "auto":
        return "auto"
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ConfigError("workers", f"auto or a number of processes, got {value!r}")
    count = value
    if count < 1:
        raise ConfigError("workers", "must be at least 1 (or auto)")
    return count


#: a searcher's option by its flat name (its flag's, a stored run's, a benchmark entry's) →
#: (the group's field in :class:`RunConfig`, the option's field in the group)
GROUPED: dict[str, tuple[str, str]] = {
    "darts_mode": ("darts", "mode"),
    "darts_order": ("darts", "order"),
    "darts_epochs": ("darts", "epochs"),
    "cost": ("darts", "cost"),
    "cost_weight": ("darts", "cost_weight"),
    "derive_top": ("darts", "derive_top"),
    "darts_front": ("darts", "front"),
    "darts_beta": ("darts", "beta_weight"),
    "darts_aux_skip": ("darts", "aux_skip"),
    "darts_partial_channels": ("darts", "partial_channels"),
    "spos_epochs": ("spos", "epochs"),
    "spos_sampling": ("spos", "sampling"),
    "spos_sampler": ("spos", "sampler"),
    "spos_evaluations": ("spos", "evaluations"),
    "retrain_top": ("spos", "retrain_top"),
    "guided_pool": ("guided", "pool_size"),
    "guided_refresh": ("guided", "refresh"),
    "guided_mutations": ("guided", "mutations"),
    "guided_bins": ("guided", "bins"),
    "guided_startup": ("guided", "startup_trials"),
    "guided_epsilon": ("guided", "epsilon"),
    "guided_exploration": ("guided", "exploration"),
    "guided_trees": ("guided", "trees"),
    "guided_low_fidelity": ("guided", "low_fidelity"),
}
_GROUPS = {"darts": DartsOptions, "spos": SposOptions, "guided": GuidedOptions}


@dataclass(frozen=True)
class RunConfig:
    """Every option of a run; the command line's flags map onto these fields one to one — a
    searcher's own options onto its group (:class:`DartsOptions`, :class:`SposOptions`) by
    :data:`GROUPED` — and the defaults here are the flags'. :meth:`from_options` makes one
    from flat option names (flags, a stored run, a benchmark entry), :meth:`options` gives
    them back."""

    space: str = "mobile"
    dataset: str = "digits"
    # local search around the front (searchers.guided): on the shipped table, 100 paired
    # seeds at 180 s, ahead of random search on 95 and of TPE on 61 (p = 0.01; RESULTS.md,
    # issue 24); NSGA-II's first generation alone would spend most of a budget at random.
    searcher: Searcher = "local"
    objectives: tuple[Objective, ...] = ("accuracy", "flops")
    trials: int = DEFAULT_TRIALS
    timeout: float | None = None
    epochs: int | None = None
    device: str = "auto"
    seed: int = 0
    name: str | None = None
    runs_dir: str = "runs"
    reports_dir: str = "reports"
    write_report: bool = True  # the HTML report at the end (the trials' CSV is always written)
    storage: str | None = None
    study: str | None = None
    # auto: pareto-asha for several objectives, median for one (DARTS: none; see `pruner_name`)
    pruner: Pruner = "auto"
    min_epochs: int = 1  # pareto-asha / successive-halving: the first rung
    reduction_factor: int = 3  # ... and η: rungs at r, rη, rη², only the top 1/η go on
    max_flops: float | None = None
    max_params: float | None = None
    max_mac: float | None = None
    max_latency_ms: float | None = None
    latency_threads: int | None = None
    # what latency is measured in: eager PyTorch, or ONNX Runtime on the exported network
    latency_backend: LatencyBackend = "torch"
    val_fraction: float = 0.2
    # cheaper search data: part of the training set (per class), a lower input size
    train_limit: int | None = None
    train_fraction: float | None = None
    resolution: int | None = None
    # auto: the fidelity above and the epochs chosen to fit --timeout (.fidelity); the default
    # of a run with a timeout that sets none of them
    fidelity: FidelityMode | None = None
    # zero-cost proxies recorded for every candidate before it trains (archsearch.proxies)
    proxies: tuple[str, ...] = DEFAULT_PROXIES
    proxy_screen: float | None = None  # stop untrained the bottom fraction by (proxy, costs)
    proxy_warmup: int = 0  # score N random candidates, enqueue the best tenth first
    # a searcher's own options (the flags --darts-* and --spos-* ...; see GROUPED)
    darts: DartsOptions = field(default_factory=DartsOptions)
    spos: SposOptions = field(default_factory=SposOptions)
    guided: GuidedOptions = field(default_factory=GuidedOptions)  # bins, local, predictor
    # several workers on one study (local processes; `archsearch worker` joins from anywhere);
    # auto: one process per core for small candidates, one with every core's threads for large
    # ones (runs.workers.choose_workers; measured in benchmarks/RESULTS.md, issue 26)
    workers: int | Literal["auto"] = "auto"
    devices: str | None = None  # e.g. "cuda:0,cuda:1": one per worker, round robin
    heartbeat: int = 10  # seconds between worker heartbeats; a silent worker's trial is retried

    def __post_init__(self) -> None:
        objectives = tuple(self.objectives)  # a stored config holds a list
        object.__setattr__(self, "objectives", objectives)
        object.__setattr__(self, "proxies", check_proxy_names(self.proxies))
        if (self.proxy_screen or self.proxy_warmup) and not self.proxies:
            field = "proxy_screen" if self.proxy_screen else "proxy_warmup"
            raise ConfigError(field, "needs --proxies (it ranks by the first one listed)")
        if self.proxy_screen is not None and not 0 < self.proxy_screen < 1:
            raise ConfigError("proxy_screen", f"must be in (0, 1), got {self.proxy_screen}")
        if self.proxy_warmup < 0:
            raise ConfigError("proxy_warmup", "must be at least 0")
        if (self.proxy_screen or self.proxy_warmup) and self.searcher in (
            *PICKING_SEARCHERS,
            "grid",
        ):
            raise ConfigError("searcher", f"a {self.searcher} run does not sample candidates")
        unknown = [o for o in objectives if o not in OBJECTIVES]
        if unknown or not objectives:
            raise ConfigError(
                "objectives",
                f"unknown '{','.join(unknown)}' (choose from {', '.join(OBJECTIVES)})",
            )
        if len(set(objectives)) != len(objectives):
            raise ConfigError("objectives", "an objective is listed twice")
        choice("searcher", self.searcher, get_args(Searcher))
        choice("pruner", self.pruner, get_args(Pruner))
        choice("latency_backend", self.latency_backend, LATENCY_BACKENDS)
        if self.fidelity is not None:
            choice("fidelity", self.fidelity, get_args(FidelityMode))
        check_fidelity(self)
        if self.searcher == "spos":
            check_objectives(objectives, self.constraints)
        if len(objectives) > 1 and self.pruner in OPTUNA_PRUNERS:
            raise ConfigError(
                "pruner",
                f"Optuna's {self.pruner} pruner ranks one objective, and this run has"
                f" {len(objectives)}: use pareto-asha (or none)",
            )
        if self.reduction_factor < 2:
            raise ConfigError("reduction_factor", "must be at least 2")
        object.__setattr__(self, "workers", _workers(self.workers))
        _at_least(self, 1, trials="trials", heartbeat="heartbeat")
        _at_least(self, 1, min_epochs="min_epochs")
        if self.train_fraction is not None and not 0 < self.train_fraction <= 1:
            raise ConfigError("train_fraction", f"must be in (0, 1], got {self.train_fraction}")
        for name in ("epochs", "latency_threads", "train_limit", "resolution"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise ConfigError(name, "must be at least 1")
        if not 0 < self.val_fraction < 1:
            raise ConfigError("val_fraction", f"must be between 0 and 1, got {self.val_fraction}")
        if self.workers != "auto" and self.workers > 1 and self.searcher in PICKING_SEARCHERS:
            raise ConfigError("workers", f"a {self.searcher} run is one process")

    @classmethod
    def from_options(cls, **options: Any) -> RunConfig:
        """A run from its options by their flat names (``darts_epochs``, ``spos_sampling`` as
        well as ``space``, ``trials`` ...); the groups may also come whole (``darts=``, as
        objects or as dicts)."""
        grouped: dict[str, dict[str, Any]] = {name: {} for name in _GROUPS}
        own: dict[str, Any] = {}
        for name, value in options.items():
            if name in GROUPED:
                group, option = GROUPED[name]
                grouped[group][option] = value
            elif name in _GROUPS and isinstance(value, dict):
                grouped[name].update(value)
            else:
                own[name] = value
        for name, values in grouped.items():
            if values:
                base = own.pop(name, None)
                own[name] = _GROUPS[name](**{**(asdict(base) if base else {}), **values})
        return cls(**own)

    def options(self) -> dict[str, Any]:
        """Every option by its flat name (what the flags, a stored run and a benchmark entry
        name); :meth:`from_options` of it gives this run back."""
        flat = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in _GROUPS}
        for name, (group, option) in GROUPED.items():
            flat[name] = getattr(getattr(self, group), option)
        return flat

    @property
    def run_name(self) -> str:
        return self.name or f"{Path(self.space).stem}-{self.searcher}"

    @property
    def run_dir(self) -> Path:
        return Path(self.runs_dir) / self.run_name

    @property
    def pruner_name(self) -> Pruner:
        """The pruner ``auto`` stands for: the Pareto pruner when there are several objectives,
        Optuna's median pruner for one, none for DARTS, SPOS and zoo (their few networks are
        all meant to train)."""
        if self.pruner != "auto":
            return self.pruner
        if self.searcher in PICKING_SEARCHERS:
            return "none"
        return "pareto-asha" if len(self.objectives) > 1 else "median"

    @property
    def constraints(self) -> dict[str, float]:
        limits = {
            "max_flops": self.max_flops,
            "max_params": self.max_params,
            "max_mac": self.max_mac,
            "max_latency_ms": self.max_latency_ms,
        }
        return {k: float(v) for k, v in limits.items() if v is not None}


@dataclass
class RunProgress:
    """Callbacks the command line turns into a progress display (all optional)."""

    on_start: Callable[[str, int, int], None] | None = None  # description, done, total
    on_candidate: Callable[[int, Architecture, int], None] | None = None
    on_epoch: Callable[[int, int, float], None] | None = None
    # a recorded trial, the best value per objective so far, completed trials so far
    on_trial: Callable[[optuna.trial.FrozenTrial, dict[str, float], int], None] | None = None
    on_message: Callable[[str], None] | None = None


@dataclass
class RunResult:
    name: str
    study: optuna.Study
    run_dir: Path
    storage: str
    pareto: list[dict[str, Any]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    resumed_trials: int = 0
    files: dict[str, str] = field(default_factory=dict)
    fidelity: dict[str, Any] | None = None  # an auto-fidelity run's choice (Fidelity's record)
    advice: str | None = None  # what to do next (train a front network at full fidelity)
    interrupted: bool = False  # Ctrl-C ended the search (the study resumes with the same call)

    @property
    def front(self) -> pd.DataFrame:
        """The Pareto-optimal trials, one row each (the report's columns), by their number."""
        import pandas as pd

        return pd.DataFrame(self.pareto)

    @property
    def report(self) -> Path | None:
        """The HTML report, if the run wrote one."""
        return Path(self.files["report"]) if "report" in self.files else None
