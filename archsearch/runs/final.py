"""Final training: one chosen network trained properly, where a search's short training ends.

The network comes from a run (a trial, or the best for an objective), an architecture file or
the zoo; it trains from scratch with the run's hyperparameters (or given ones) on all the
training data (train + validation by default), for a longer cosine schedule with warm-up and
an optional EMA of its weights, then is evaluated once on the test split. A checkpoint after
every epoch lets the same call, after a kill or Ctrl-C, continue where it stopped and end
with the weights an uninterrupted training would have.

Writes into the output folder: ``architecture.json``, ``weights.pt`` (and ``weights_ema.pt``),
``curves.csv`` (epoch, loss, accuracy per epoch), ``summary.json`` and ``checkpoint.pt``.
"""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, get_args

import torch

from ..architecture import Architecture
from ..build import build_model
from ..checkpoint import save_tensors
from ..data import Dataset, load_dataset
from ..errors import ArchsearchError, ConfigError, choice
from ..folder_lock import folder_lock
from ..networks import pick_network
from ..profiler import architecture_costs
from ..space.spec import HYPERPARAMETERS
from ..study import architecture_of, record_of, run_record
from ..train import (
    TrainConfig,
    TrainResult,
    evaluate,
    resolve_device,
    train,
    weight_average,
)

Split = Literal["train+val", "train"]
SPLITS: tuple[Split, ...] = get_args(Split)
SPLIT_WORDING = "'{value}' is not one of {choices}"
CHECKPOINT = "checkpoint.pt"


@dataclass(frozen=True)
class FinalConfig:
    """What to train (exactly one of ``run``, ``arch``, ``model``) and how."""

    run: str | None = None  # a run folder or name: its ``trial``, or the best for ``objective``
    trial: int | None = None
    objective: str = "accuracy"
    arch: str | None = None  # an architecture JSON file
    model: str | None = None  # a zoo network
    dataset: str | None = None  # default: the run's data set (digits without a run)
    resolution: int | None = None  # default: the run's
    train_limit: int | None = None  # default: every training image (a run's limit is not kept)
    split: Split = "train+val"  # train: keep the validation split apart and report it
    epochs: int = 30
    warmup_epochs: int | None = None  # default: 5% of the epochs, at least 1
    ema_decay: float | None = None  # e.g. 0.999 (timm's default is 0.9998 for ImageNet)
    hyperparameters: dict[str, Any] = field(default_factory=dict)  # over the run's
    device: str = "auto"
    seed: int = 0
    output: str = "trained"
    runs_dir: str = "runs"

    def __post_init__(self) -> None:
        given = [name for name in ("run", "arch", "model") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ConfigError("run", "give exactly one of --run, --arch or --model")
        if self.trial is not None and self.run is None:
            raise ConfigError("trial", "needs a run to take the trial from")
        choice("split", self.split, SPLITS, SPLIT_WORDING)
        if self.epochs < 1:
            raise ConfigError("epochs", f"must be at least 1, got {self.epochs}")
        if self.ema_decay is not None and not 0 < self.ema_decay < 1:
            raise ConfigError("ema_decay", f"must be in (0, 1), got {self.ema_decay}")
        for name, value in self.hyperparameters.items():
            if name not in HYPERPARAMETERS or name == "epochs":
                known = ", ".join(k for k in HYPERPARAMETERS if k != "epochs")
                raise ConfigError(f"set {name}", f"unknown hyperparameter (known: {known})")
            check, what = HYPERPARAMETERS[name]
            if not check(value):
                raise ConfigError(f"set {name}", f"expected {what}, got {value!r}")


@dataclass(frozen=True)
class Chosen:
    """The network to train and where it came from."""

    architecture: Architecture
    hyperparameters: dict[str, Any]
    source: str  # "runs/x trial 12", "arch.json", "zoo lenet5"
    dataset: str
    resolution: int | None
    val_fraction: float = 0.2


@dataclass
class FinalResult:
    output: Path
    source: str
    epochs: int
    resumed_from: int
    test_accuracy: float
    ema_test_accuracy: float | None
    val_accuracy: float | None  # split "train" only
    params: int
    flops: int
    seconds: float
    device: str
    files: dict[str, str]


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """``KEY=VALUE`` texts (the ``set`` option) → hyperparameters, each value read as YAML
    reads a scalar (``lr=0.05`` a float, ``nesterov=false`` a bool); checked by
    :class:`FinalConfig`."""
    import yaml

    overrides: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError("set", f"expected KEY=VALUE, got '{item}'")
        overrides[key.strip()] = yaml.safe_load(text)
    return overrides


def choose(config: FinalConfig) -> Chosen:
    """The architecture and hyperparameters ``config`` names."""
    if config.run is not None:
        from ..export import pick_trial
        from .resume import open_run

        study = open_run(config.run, config.runs_dir)
        trial = pick_trial(study, config.trial, config.objective)
        run_config = run_record(study).options
        return Chosen(
            architecture_of(trial),
            dict(record_of(trial).get("hyperparameters", {})),
            f"{config.run} trial {trial.number}",
            config.dataset or run_config.get("dataset", "digits"),
            config.resolution or run_config.get("resolution"),
            float(run_config.get("val_fraction", 0.2)),
        )
    picked = pick_network(model=config.model, arch=config.arch)
    source = f"zoo {picked.name}" if picked.from_zoo else picked.name
    return Chosen(picked.architecture, {}, source, config.dataset or "digits", config.resolution)


def final_data(chosen: Chosen, config: FinalConfig) -> Dataset:
    """The data to train on: for ``train+val`` the validation images join the training ones
    and the per-epoch accuracy is the test split's (nothing is chosen by it: the final
    weights are the last epoch's)."""
    data = load_dataset(
        chosen.dataset,
        val_fraction=chosen.val_fraction,
        seed=config.seed,
        limit=config.train_limit,
        resolution=chosen.resolution,
    )
    if config.split == "train":
        return data
    return replace(
        data,
        x_train=data.x_train.concat(data.x_val),
        y_train=torch.cat([data.y_train, data.y_val]),
        x_val=data.x_test,
        y_val=data.y_test,
    )


def final_train_config(chosen: Chosen, config: FinalConfig) -> TrainConfig:
    warmup = config.warmup_epochs
    if warmup is None:
        warmup = max(1, round(0.05 * config.epochs)) if config.epochs > 1 else 0
    hp = {
        **chosen.hyperparameters,
        **config.hyperparameters,
        "epochs": config.epochs,
        "warmup_epochs": warmup,
    }
    if "schedule" not in config.hyperparameters:
        hp["schedule"] = "cosine"  # the longer schedule; a space's own choice was for search
    return TrainConfig.from_hyperparameters(hp, seed=config.seed)


def train_final(
    config: FinalConfig,
    on_progress: Callable[[TrainResult, int], None] | None = None,
    on_message: Callable[[str], None] | None = None,
    on_start: Callable[[str, int], None] | None = None,
) -> FinalResult:
    """Train ``config``'s network to the end (resuming from ``checkpoint.pt`` in the output
    folder when one of the same training is there) and write its files. ``on_start(what,
    epochs)`` once the network and data are ready; ``on_progress(result so far, epochs)``
    after every epoch. The output folder is locked throughout (one writer)."""
    with folder_lock(Path(config.output), "choose another output folder (-o)"):
        return _train_final(config, on_progress, on_message, on_start)


def _train_final(
    config: FinalConfig,
    on_progress: Callable[[TrainResult, int], None] | None,
    on_message: Callable[[str], None] | None,
    on_start: Callable[[str, int], None] | None,
) -> FinalResult:
    chosen = choose(config)
    data = final_data(chosen, config)
    train_config = final_train_config(chosen, config)
    device = resolve_device(config.device)
    out = Path(config.output)
    out.mkdir(parents=True, exist_ok=True)
    checkpoint = out / CHECKPOINT
    torch.manual_seed(config.seed)  # the initial weights, so a rerun builds the same network
    try:
        model = build_model(chosen.architecture, data.num_classes, data.in_channels)
    except ArchsearchError as err:
        raise ArchsearchError(f"{chosen.source}: {err}") from None
    ema = None if config.ema_decay is None else weight_average(model, config.ema_decay)
    files = {
        "architecture": str(out / "architecture.json"),
        "weights": str(out / "weights.pt"),
        "curves": str(out / "curves.csv"),
        "summary": str(out / "summary.json"),
        "checkpoint": str(checkpoint),
    }
    Path(files["architecture"]).write_text(chosen.architecture.to_json(indent=2) + "\n")
    had_checkpoint = checkpoint.is_file()
    if on_start is not None:
        on_start(f"{chosen.source} on {_describe(data, config.split)}", config.epochs)
    started = time.perf_counter()
    result = train(
        model,
        data,
        train_config,
        device,
        ema=ema,
        checkpoint=checkpoint,
        on_progress=None if on_progress is None else lambda r: on_progress(r, config.epochs),
    )
    if on_message is not None:
        if result.resumed_from:
            on_message(f"resumed from epoch {result.resumed_from} of {config.epochs}")
        elif had_checkpoint:
            on_message(f"{checkpoint}: of another training (other options); started over")
    test_x, test_y = data.x_test, data.y_test
    test = evaluate(model, test_x, test_y, train_config.eval_batch_size, device)
    ema_test = None
    save_tensors(model.state_dict(), Path(files["weights"]))
    if ema is not None:
        files["ema_weights"] = str(out / "weights_ema.pt")
        ema_test = evaluate(ema.module, test_x, test_y, train_config.eval_batch_size, device)
        save_tensors(ema.module.state_dict(), Path(files["ema_weights"]))
    costs = architecture_costs(
        chosen.architecture, (1, data.in_channels, *data.input_size), data.num_classes
    )
    accuracy = "test_accuracy" if config.split == "train+val" else "val_accuracy"
    _write_curves(Path(files["curves"]), result, accuracy)
    final = FinalResult(
        output=out,
        source=chosen.source,
        epochs=result.epochs,
        resumed_from=result.resumed_from,
        test_accuracy=test,
        ema_test_accuracy=ema_test,
        val_accuracy=result.val_accuracy if config.split == "train" else None,
        params=int(costs.params),
        flops=int(costs.flops),
        seconds=time.perf_counter() - started,
        device=str(device),
        files=files,
    )
    summary = {
        **{k: v for k, v in asdict(final).items() if k not in ("output", "files")},
        "dataset": _describe(data, config.split),
        "input_shape": [data.in_channels, *data.input_size],
        "num_classes": data.num_classes,
        "mac": int(costs.mac),
        "split": config.split,
        "train_config": asdict(train_config),
        "ema_decay": config.ema_decay,
        "architecture": chosen.architecture.to_dict(),
        "files": files,
    }
    Path(files["summary"]).write_text(json.dumps(summary, indent=2, default=str) + "\n")
    return final


def _describe(data: Dataset, split: Split) -> str:
    if split == "train":
        return data.describe()
    h, w = data.input_size
    return (
        f"{data.name}: {len(data.y_train)} train+val / {len(data.y_test)} test,"
        f" {data.in_channels}x{h}x{w}, {data.num_classes} classes"
    )


def _write_curves(path: Path, result: TrainResult, accuracy: str) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        ema = bool(result.ema_val_curve)
        writer.writerow(["epoch", "loss", accuracy] + ([f"ema_{accuracy}"] if ema else []))
        for epoch, (loss, acc) in enumerate(
            zip(result.loss_curve, result.val_curve, strict=True), start=1
        ):
            row = [epoch, f"{loss:.6f}", f"{acc:.6f}"]
            if ema:
                row.append(f"{result.ema_val_curve[epoch - 1]:.6f}")
            writer.writerow(row)
