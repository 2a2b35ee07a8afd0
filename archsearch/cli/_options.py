"""The command line's shared options: typed flags used by several commands, and the table of a
run's options (RunConfig field → type, flag, help) that ``run``, ``worker`` and ``bench search``
build their flags from, so a run option is declared once."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import typer

F = TypeVar("F", bound=Callable[..., Any])

SpaceOpt = Annotated[
    str,
    typer.Option(
        "--space",
        help="A built-in space name (see `archsearch spaces`) or a path to a space YAML file.",
    ),
]
SeedOpt = Annotated[int, typer.Option(help="Random seed (Optuna's RandomSampler).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
ClassesOpt = Annotated[int, typer.Option("--classes", min=1, help="Number of output classes.")]
ChannelsOpt = Annotated[int, typer.Option("--channels", min=1, help="Input channels.")]
DeviceOpt = Annotated[str, typer.Option(help="auto (CUDA when present), cpu, cuda or cuda:N.")]
RunsDirOpt = Annotated[str, typer.Option("--runs-dir", help="Folder of the runs.")]
ReportsDirOpt = Annotated[str, typer.Option("--reports-dir", help="Folder of the reports.")]
DATASETS = (
    "digits (built-in), synthetic, mnist:DIR, fashion-mnist:DIR, cifar10:DIR, folder:DIR,"
    " npz:FILE or hf:DIR (a Hugging Face data set saved to disk; pip install -e '.[hf]')."
)

#: a run's options: RunConfig field → (type, flag, help). `run` takes them all with
#: RunConfig's defaults; `worker` takes those a worker may create or check a study with.
RUN_OPTIONS: dict[str, tuple[Any, str, str]] = {
    "space": (str, "--space", SpaceOpt.__metadata__[0].help or ""),
    "dataset": (str, "--dataset", DATASETS),
    "searcher": (
        str,
        "--searcher",
        "local (the default: one choice of a front member changed), bins (random, spread"
        " over the log-cost axis), predictor (a random forest on the trials so far ranks a"
        " pool of costed candidates by the hypervolume they may add); tpe, nsga2, random,"
        " grid, gp (Optuna's); darts, spos (single"
        " path one-shot: one supernet, thousands of networks estimated, the best retrained),"
        " or zoo (the zoo's small mobile networks fitted to the input: the by-hand baseline).",
    ),
    "objectives": (
        str,
        "--objectives",
        "Comma-separated: accuracy, flops, params, mac, latency"
        " (one: a single-objective study; several: multi-objective).",
    ),
    "trials": (int, "--trials", "Trials to judge: trained to the end or stopped early."),
    "timeout": (float, "--timeout", "Stop after this many seconds."),
    "epochs": (int, "--epochs", "Epochs per candidate (overrides the space)."),
    "device": (str, "--device", DeviceOpt.__metadata__[0].help or ""),
    "seed": (int, "--seed", "Sampler and training seed."),
    "name": (str, "--name", "Run name: files go to RUNS_DIR/NAME (default: SPACE-SEARCHER)."),
    "runs_dir": (str, "--runs-dir", "Folder of the runs."),
    "reports_dir": (str, "--reports-dir", "Folder of the reports."),
    "storage": (str, "--storage", "Any Optuna storage URL (default: SQLite in the run's folder)."),
    "study": (str, "--study", "Study name in --storage."),
    "pruner": (
        str,
        "--pruner",
        "auto (pareto-asha for several objectives, median for one), pareto-asha, median,"
        " successive-halving, hyperband (these three: one objective only) or none.",
    ),
    "min_epochs": (int, "--min-epochs", "Early stopping: the first rung (epochs)."),
    "reduction_factor": (int, "--reduction-factor", "Early stopping: η (the top 1/η go on)."),
    "train_limit": (int, "--train-limit", "Search on N training images (per-class sample)."),
    "train_fraction": (float, "--train-fraction", "Search on this fraction of the images."),
    "resolution": (int, "--resolution", "Search at R x R inputs (every split resized)."),
    "fidelity": (
        str,
        "--fidelity",
        "auto: choose --train-limit, --resolution and --epochs to judge about 60 candidates"
        " in --timeout (the default with a timeout and none of them set); full: all the"
        " data at its size.",
    ),
    "proxies": (
        str,
        "--proxies",
        "Zero-cost proxies recorded before each candidate trains, comma-separated (synflow,"
        " naswot, grad_norm, snip, jacob_cov, zico, meco, params, flops), or none.",
    ),
    "proxy_screen": (
        float,
        "--proxy-screen",
        "Stop untrained a candidate whose first --proxies score with its costs ranks in this"
        " bottom fraction of those scored so far (off by default).",
    ),
    "proxy_warmup": (
        int,
        "--proxy-warmup",
        "Score N random candidates by the first --proxies; enqueue the best tenth first.",
    ),
    "max_flops": (float, "--max-flops", "Constraint: at most this many multiply-adds."),
    "max_params": (float, "--max-params", "Constraint: at most this many parameters."),
    "max_mac": (float, "--max-mac", "Constraint: at most this memory access cost (elements)."),
    "max_latency_ms": (float, "--max-latency-ms", "Constraint: at most this latency (ms)."),
    "latency_threads": (int, "--threads", "CPU threads for latency."),
    "latency_backend": (
        str,
        "--latency-backend",
        "Latency in torch (eager) or onnxruntime (the network exported to ONNX; the extra"
        " 'onnx'; CPU only; each candidate's export adds a few seconds).",
    ),
    "darts_mode": (str, "--darts-mode", "DARTS: full (every op runs) or gumbel (one path)."),
    "darts_order": (str, "--darts-order", "DARTS: first- or second-order (unrolled)."),
    "darts_epochs": (int, "--darts-epochs", "DARTS: supernet epochs."),
    "cost": (str, "--cost", "DARTS cost-aware loss: flops, mac or latency (measured here)."),
    "cost_weight": (float, "--cost-weight", "DARTS: weight of the cost-aware loss."),
    "derive_top": (int, "--derive-top", "DARTS: also retrain the K next most likely networks."),
    "darts_front": (
        int,
        "--darts-front",
        "DARTS, with a cost objective: retrain the most likely network in each of N log-cost"
        " bins too (0: the most likely only).",
    ),
    "darts_beta": (float, "--darts-beta", "DARTS: β-DARTS regulariser weight (ramped from 0)."),
    "darts_aux_skip": (
        float,
        "--darts-aux-skip",
        "DARTS: DARTS- auxiliary skip weight (decays to 0; the paper's: 1).",
    ),
    "darts_partial_channels": (
        int,
        "--darts-partial-channels",
        "DARTS: PC-DARTS, 1/K of the channels through each mixed op (the paper's K: 4).",
    ),
    "spos_epochs": (int, "--spos-epochs", "SPOS: supernet epochs."),
    "spos_sampling": (
        str,
        "--spos-sampling",
        "SPOS: uniform (one random path per step), fair (FairNAS: every op once per step) or"
        " sandwich (largest, smallest and two random paths; the largest teaches the others).",
    ),
    "spos_sampler": (str, "--spos-sampler", "SPOS: the one-shot search's nsga2, tpe or random."),
    "spos_evaluations": (int, "--spos-evaluations", "SPOS: networks estimated on the supernet."),
    "retrain_top": (int, "--retrain-top", "SPOS: retrain the first K of the one-shot front."),
    "guided_startup": (
        int,
        "--guided-startup",
        "bins/local/predictor: cost-binned random proposals before the rule takes over.",
    ),
    "guided_epsilon": (
        float,
        "--guided-epsilon",
        "bins/local/predictor: share of proposals left to cost-binned random search.",
    ),
    "guided_pool": (int, "--guided-pool", "bins/local/predictor: candidates in the pool."),
    "guided_bins": (int, "--guided-bins", "bins/local/predictor: log-cost bins."),
    "workers": (
        str,
        "--workers",
        "Local worker processes sharing the run's study, or auto: one per core (one thread"
        " each) when the candidates are small, else one with every core's threads.",
    ),
    "devices": (str, "--devices", "Devices for the workers, e.g. cuda:0,cuda:1 (round robin)."),
    "heartbeat": (int, "--heartbeat", "Worker heartbeat (s); a trial silent for 3 is retried."),
}
WORKER_RUN_OPTIONS = (
    "space", "dataset", "searcher", "objectives", "epochs", "timeout", "runs_dir", "pruner",
    "min_epochs", "reduction_factor", "train_limit", "train_fraction", "resolution",
    "proxies", "proxy_screen", "max_flops", "max_params", "max_mac", "max_latency_ms",
)  # fmt: skip
#: the options given as comma-separated lists
LIST_OPTIONS = ("objectives", "proxies")
#: RunConfig field → flag, to name flags in messages (ConfigError names the field)
FLAGS = {field: flag for field, (_, flag, _) in RUN_OPTIONS.items()} | {"input": "--input"}


def with_run_options(names: tuple[str, ...], defaults: bool = True) -> Callable[[F], F]:
    """Add the run options ``names`` to a command's flags, passed as keyword arguments named
    after their RunConfig fields. ``defaults``: RunConfig's (else None: not given)."""
    from ..runs import RunConfig

    config_defaults = RunConfig().options()

    def decorate(command: F) -> F:
        own = [
            p
            for p in inspect.signature(command, eval_str=True).parameters.values()
            if p.kind is not p.VAR_KEYWORD
        ]
        added = []
        for name in names:
            kind, flag, help_text = RUN_OPTIONS[name]
            default = config_defaults[name] if defaults else None
            if name in LIST_OPTIONS and default is not None:
                default = ",".join(default) or "none"
            annotation = kind if default is not None else kind | None
            added.append(
                inspect.Parameter(
                    name,
                    inspect.Parameter.KEYWORD_ONLY,
                    default=default,
                    annotation=Annotated[annotation, typer.Option(flag, help=help_text)],
                )
            )
        command.__signature__ = inspect.Signature([*own, *added])  # type: ignore[attr-defined]
        return command

    return decorate


def run_config_fields(options: dict[str, Any]) -> dict[str, Any]:
    """The flags' values as RunConfig fields (flags not given left out)."""
    given = {k: v for k, v in options.items() if k in RUN_OPTIONS and v is not None}
    for name in LIST_OPTIONS:
        if name in given:
            items = tuple(o.strip() for o in given[name].split(",") if o.strip())
            given[name] = () if items == ("none",) and name == "proxies" else items
    return given
