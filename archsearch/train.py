"""One trainer for CPU and GPU: data held on the device, bf16 autocast and channels_last on
CUDA, SGD (momentum, Nesterov)/Adam/AdamW with warm-up and a cosine, step or constant schedule,
Kaiming or Xavier initialisation, label smoothing, augmentation suited to the input, fixed
seeds. Reports validation accuracy after every epoch (for Optuna's pruners).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

import torch
import torch.nn.functional as F
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from .checkpoint import (
    load_checkpoint,
    random_states,
    restore_random_states,
    save_checkpoint,
    signature,
)
from .data import Dataset, Images
from .errors import ArchsearchError

Optimizer = Literal["sgd", "adam", "adamw"]
Augmentation = Literal["none", "auto", "shift", "crop_flip"]
Schedule = Literal["cosine", "step", "constant"]
Init = Literal["default", "kaiming", "xavier"]
OPTIMIZERS: tuple[Optimizer, ...] = get_args(Optimizer)
AUGMENTATIONS: tuple[Augmentation, ...] = get_args(Augmentation)
SCHEDULES: tuple[Schedule, ...] = get_args(Schedule)
INITS: tuple[Init, ...] = get_args(Init)
#: the step schedule: x0.1 after half and again after three quarters of the steps (the ResNet
#: CIFAR recipe's epochs 100 and 150 of 200)
STEP_MILESTONES = (0.5, 0.75)


class CandidateFailed(Exception):
    """A candidate that cannot be trained (NaN loss, out of memory ...): recorded, skipped."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 5
    batch_size: int = 64
    lr: float = 0.05
    weight_decay: float = 5e-4
    momentum: float = 0.9
    nesterov: bool = True
    optimizer: Optimizer = "sgd"  # SGD with momentum (Nesterov unless nesterov=False)
    schedule: Schedule = "cosine"  # after the linear warm-up
    init: Init = "default"  # PyTorch's layer defaults, or re-initialised (initialize_weights)
    label_smoothing: float = 0.0
    warmup_epochs: int = 0
    augmentation: Augmentation = "auto"  # auto: shifts for digits, crop and flip for photos
    seed: int = 0
    eval_batch_size: int = 1024

    @classmethod
    def from_hyperparameters(cls, hp: dict[str, Any], seed: int = 0) -> TrainConfig:
        known = {f for f in cls.__dataclass_fields__ if f not in ("seed", "eval_batch_size")}
        return cls(**{k: v for k, v in hp.items() if k in known}, seed=seed)


@dataclass
class TrainResult:
    val_accuracy: float  # after the last epoch
    best_val_accuracy: float
    val_curve: list[float] = field(default_factory=list)
    loss_curve: list[float] = field(default_factory=list)
    epochs: int = 0
    seconds: float = 0.0
    images_per_s: float = 0.0
    device: str = "cpu"
    ema_val_curve: list[float] = field(default_factory=list)  # with an EMA of the weights
    epoch_seconds: list[float] = field(default_factory=list)  # each epoch, evaluation included
    threads: int = 0  # torch's CPU threads while it trained
    resumed_from: int = 0  # the epoch a checkpoint let the training start from

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def resolve_device(device: str = "auto") -> torch.device:
    from .profiler.latency import resolve_device as resolve

    return resolve(device)


def seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True


def augment(x: torch.Tensor, mode: str, natural: bool, generator: torch.Generator) -> torch.Tensor:
    """Random shifts (digits) or random crop with padding plus horizontal flip (natural)."""
    if mode == "none":
        return x
    if mode == "auto":
        mode = "crop_flip" if natural else "shift"
    batch, _, height, width = x.shape
    pad = max(1, round(min(height, width) / 8))  # 4 px at 32x32 (CIFAR), 1 px at 8x8
    padded = F.pad(x, (pad, pad, pad, pad))
    offsets = torch.randint(0, 2 * pad + 1, (2, batch), device=x.device, generator=generator)
    rows = offsets[0][:, None] + torch.arange(height, device=x.device)
    cols = offsets[1][:, None] + torch.arange(width, device=x.device)
    index = torch.arange(batch, device=x.device)[:, None, None]
    out = padded.permute(0, 2, 3, 1)[index, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)
    if mode == "crop_flip":
        flip = torch.rand(batch, device=x.device, generator=generator) < 0.5
        out = torch.where(flip[:, None, None, None], out.flip(3), out)
    return out


def make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    # no weight decay on norms and biases, as in timm and most reference recipes
    decay, no_decay = [], []
    for param in model.parameters():
        (no_decay if param.ndim <= 1 else decay).append(param)
    groups = [
        {"params": decay, "weight_decay": config.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    if config.optimizer == "sgd":
        nesterov = config.nesterov and config.momentum > 0  # PyTorch refuses Nesterov without
        return torch.optim.SGD(groups, lr=config.lr, momentum=config.momentum, nesterov=nesterov)
    if config.optimizer == "adam":
        return torch.optim.Adam(groups, lr=config.lr)
    if config.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=config.lr)
    raise ArchsearchError(f"unknown optimizer '{config.optimizer}' (sgd, adam, adamw)")


def lr_factor(step: int, total: int, warmup: int, schedule: Schedule = "cosine") -> float:
    """Linear warm-up, then cosine decay to zero, x0.1 steps (:data:`STEP_MILESTONES`) or a
    constant rate."""
    if step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    if schedule == "cosine":
        return 0.5 * (1 + math.cos(math.pi * progress))
    if schedule == "step":
        return 0.1 ** sum(progress >= milestone for milestone in STEP_MILESTONES)
    if schedule == "constant":
        return 1.0
    raise ArchsearchError(f"unknown schedule '{schedule}' ({', '.join(SCHEDULES)})")


@torch.no_grad()
def initialize_weights(model: nn.Module, init: Init) -> None:
    """Re-initialise convolution and linear weights; biases to zero, BatchNorm to (1, 0).

    ``kaiming``: He et al. 2015's normal with fan-out and ReLU gain, std sqrt(2 / fan_out)
    (torchvision's ResNet); ``xavier``: Glorot & Bengio 2010's uniform, std
    sqrt(2 / (fan_in + fan_out)); ``default`` leaves PyTorch's layer defaults (Kaiming-uniform
    with a = sqrt(5)).
    """
    if init == "default":
        return
    if init not in INITS:
        raise ArchsearchError(f"unknown init '{init}' ({', '.join(INITS)})")
    for module in model.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            if init == "kaiming":
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            else:
                nn.init.xavier_uniform_(module.weight)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.modules.batchnorm._BatchNorm) and module.affine:
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)


# --- the steps of a training loop: the trainer below and the one-shot searchers use these ---
def memory_format_for(device: torch.device) -> torch.memory_format:
    """channels_last (NHWC) on CUDA and on the CPU, where convolutions train faster in it;
    NCHW elsewhere. On 2 CPU cores, one epoch of the default job's networks trained 1.11x
    as fast at the median with one thread per process, 1.08x with two threads (slower on 3
    of 10 networks there; benchmarks/RESULTS.md, issue 26)."""
    return torch.channels_last if device.type in ("cuda", "cpu") else torch.contiguous_format


def schedule(
    optimizer: torch.optim.Optimizer,
    base_lrs: list[float],
    step: int,
    total: int,
    warmup: int,
    kind: Schedule = "cosine",
) -> None:
    """Set each parameter group's learning rate for ``step`` (:func:`lr_factor`)."""
    factor = lr_factor(step, total, warmup, kind)
    for group, base in zip(optimizer.param_groups, base_lrs, strict=True):
        group["lr"] = base * factor


def training_batch(
    x: Images | torch.Tensor,
    idx: torch.Tensor,
    augmentation: str,
    natural: bool,
    generator: torch.Generator,
    memory_format: torch.memory_format,
) -> torch.Tensor:
    """The images ``idx`` of ``x``, normalised (indexing :class:`Images` does it, so
    augmentation pads with the mean colour), augmented, in ``memory_format`` (indexing drops
    NHWC)."""
    return augment(x[idx], augmentation, natural, generator).contiguous(
        memory_format=memory_format
    )


def forward_loss(
    forward: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    y: torch.Tensor,
    cuda: bool,
    label_smoothing: float = 0.0,
) -> torch.Tensor:
    """Cross-entropy of ``forward(x)`` (bf16 autocast on CUDA, the loss in float32)."""
    with torch.autocast("cuda", dtype=torch.bfloat16, enabled=cuda):
        logits = forward(x)
    return F.cross_entropy(logits.float(), y, label_smoothing=label_smoothing)


def optimizer_step(
    optimizer: torch.optim.Optimizer,
    loss: torch.Tensor,
    clip: tuple[list[nn.Parameter], float] | None = None,
) -> None:
    """Backward and one optimiser step; ``clip``: (parameters, max gradient norm)."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if clip is not None:
        nn.utils.clip_grad_norm_(*clip)
    optimizer.step()


@torch.no_grad()
def recalibrate_batch_norm(
    model: nn.Module, x: Images | torch.Tensor, batch_size: int, batches: int = 4
) -> None:
    """Recompute BatchNorm running statistics from a few training batches ("precise BN").

    The running averages (momentum 0.1) lag far behind weights that move fast in a short
    training run, and evaluation with them collapses to one class: after one epoch on digits a
    network that scores 46% with batch statistics scores 10% with running ones.
    """
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return
    momenta = [m.momentum for m in norms]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # a cumulative average over the batches below
    model.train()
    for start in range(0, min(len(x), batches * batch_size), batch_size):
        model(x[start : start + batch_size])
    for norm, momentum in zip(norms, momenta, strict=True):
        norm.momentum = momentum


@torch.no_grad()
def evaluate(
    model: nn.Module,
    x: Images | torch.Tensor,
    y: torch.Tensor,
    batch_size: int = 1024,
    device: torch.device | None = None,
) -> float:
    """Top-1 accuracy of ``model`` on (x, y), a batch of ``x`` at a time (normalised there when
    ``x`` is :class:`Images`)."""
    device = device or next(model.parameters()).device
    model.eval()
    correct = 0
    cuda = device.type == "cuda"
    memory_format = memory_format_for(device)
    for start in range(0, len(y), batch_size):
        xb = x[start : start + batch_size].to(device, non_blocking=True)
        xb = xb.contiguous(memory_format=memory_format)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=cuda):
            logits = model(xb)
        correct += (logits.argmax(1) == y[start : start + batch_size].to(device)).sum().item()
    return correct / max(1, len(y))


def weight_average(model: nn.Module, decay: float) -> AveragedModel:
    """An exponential moving average of ``model``'s weights and buffers (timm's ModelEma),
    updated by :func:`train` after every step: ``ema = decay * ema + (1 - decay) * weights``."""
    if not 0 < decay < 1:
        raise ArchsearchError(f"EMA decay must be in (0, 1), got {decay}")
    return AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)


# --- the one epoch loop: the trainer, the SPOS supernet and DARTS each pass only their step ---
@dataclass(frozen=True)
class EpochPlan:
    """How the loop walks the training data: epochs, batch, schedule and augmentation."""

    epochs: int
    batch_size: int
    warmup_epochs: int = 0
    schedule: Schedule = "cosine"
    augmentation: Augmentation = "auto"

    @classmethod
    def of(cls, config: TrainConfig) -> EpochPlan:
        return cls(
            config.epochs,
            config.batch_size,
            config.warmup_epochs,
            config.schedule,
            config.augmentation,
        )


@dataclass(frozen=True)
class StepInfo:
    epoch: int
    step: int  # since the first epoch (the schedule's step)
    total: int  # steps of the whole training


#: one training step on a batch: (images, labels, where) → (the loss, detached, and the number
#: of images it trained on)
Step = Callable[[torch.Tensor, torch.Tensor, StepInfo], tuple[torch.Tensor, int]]


@dataclass
class EpochCheckpoint:
    """A checkpoint after every epoch. The loop saves and restores its own part (epoch,
    optimiser, every random generator, loss curve); ``state()`` / ``restore(state)`` are the
    caller's (weights and whatever else its training carries)."""

    path: Path
    digest: str
    state: Callable[[], dict[str, Any]]
    restore: Callable[[dict[str, Any]], None]


@dataclass
class LoopResult:
    loss_curve: list[float] = field(default_factory=list)  # mean training loss per epoch
    epochs: int = 0  # finished, checkpointed ones included
    resumed_from: int = 0
    seconds: float = 0.0  # this call's wall time
    training_seconds: float = 0.0  # in the steps only (no evaluation, no checkpoints)
    #: wall time of each epoch of this call, its evaluation included (what an epoch costs a
    #: search: a tabulated benchmark's simulated clock adds these up)
    epoch_seconds: list[float] = field(default_factory=list)
    images: int = 0  # trained in this call
    peak_memory_bytes: int = 0  # CUDA only
    stopped: str | None = None  # why it ended before the last epoch (a hook's reason)
    out_of_time: bool = False  # ended before the last epoch by the deadline


def run_epochs(
    step: Step,
    plan: EpochPlan,
    *,
    x: Images | torch.Tensor,
    y: torch.Tensor,
    natural: bool,
    optimizer: torch.optim.Optimizer,
    generator: torch.Generator,
    model: nn.Module | None = None,
    measure: Callable[[int, float, torch.Tensor], None] | None = None,
    after_epoch: Callable[[int, float], str | None] | None = None,
    checkpoint: EpochCheckpoint | None = None,
    deadline: float | None = None,
    failure: Callable[[float, int], Exception] | None = None,
) -> LoopResult:
    """The epochs of a training: each draws an order of ``x`` (on its device) from
    ``generator``, puts ``model`` in training mode, sets ``optimizer``'s learning rates by the
    schedule, makes each batch (augmented, in the device's memory format) and hands it to
    ``step``.

    After each epoch: a loss that is not finite raises ``failure(loss, epoch)``;
    ``measure(epoch, loss, order)`` evaluates; the checkpoint is written; then
    ``after_epoch(epoch, loss)`` may raise (a pruner) or return a reason to stop. No epoch
    after the first of this call starts past ``deadline`` (``time.monotonic()``). The
    schedule is a function of the step, so a training resumed from its checkpoint ends with
    the weights an uninterrupted one would have.
    """
    device = x.device
    memory_format = memory_format_for(device)
    n = len(y)
    batch = min(plan.batch_size, n)
    steps = max(1, n // batch)  # drop the last partial batch: BN needs > 1 sample
    total = steps * plan.epochs
    warmup = steps * plan.warmup_epochs
    base_lrs = [g["lr"] for g in optimizer.param_groups]  # before a checkpoint's are loaded
    result = LoopResult()
    start = 0 if checkpoint is None else _restore(checkpoint, device, optimizer, generator, result)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    started = time.perf_counter()
    for epoch in range(start, plan.epochs):
        if epoch > start and deadline is not None and time.monotonic() >= deadline:
            result.out_of_time = True
            break
        epoch_start = time.perf_counter()
        if model is not None:
            model.train()
        order = torch.randperm(n, device=device, generator=generator)
        running = torch.zeros((), device=device)
        for i in range(steps):
            schedule(optimizer, base_lrs, epoch * steps + i, total, warmup, plan.schedule)
            idx = order[i * batch : (i + 1) * batch]
            xb = training_batch(x, idx, plan.augmentation, natural, generator, memory_format)
            loss, images = step(xb, y[idx], StepInfo(epoch, epoch * steps + i, total))
            running += loss
            result.images += images
        mean_loss = (running / steps).item()  # one sync per epoch
        result.training_seconds += time.perf_counter() - epoch_start
        if not math.isfinite(mean_loss):
            raise (failure or _non_finite)(mean_loss, epoch)
        result.loss_curve.append(mean_loss)
        result.epochs = epoch + 1
        if measure is not None:
            measure(epoch, mean_loss, order)
        result.epoch_seconds.append(time.perf_counter() - epoch_start)
        if checkpoint is not None:
            state = {"epoch": epoch + 1, "optimizer": optimizer.state_dict()}
            state["random"] = random_states(generator)
            state["loss_curve"] = result.loss_curve
            save_checkpoint(checkpoint.path, checkpoint.digest, {**state, **checkpoint.state()})
        if after_epoch is not None and (reason := after_epoch(epoch, mean_loss)):
            result.stopped = reason
            break
    result.seconds = time.perf_counter() - started
    if device.type == "cuda":
        result.peak_memory_bytes = int(torch.cuda.max_memory_allocated(device))
    return result


def _non_finite(loss: float, epoch: int) -> Exception:
    return CandidateFailed(f"loss became {loss} in epoch {epoch + 1}")


def _restore(
    checkpoint: EpochCheckpoint,
    device: torch.device,
    optimizer: torch.optim.Optimizer,
    generator: torch.Generator,
    result: LoopResult,
) -> int:
    """Load ``checkpoint`` (when there is one of this training); the epoch to start from."""
    state = load_checkpoint(checkpoint.path, checkpoint.digest, device)
    if state is None:
        return 0
    optimizer.load_state_dict(state["optimizer"])
    restore_random_states(state["random"], generator)
    result.loss_curve = list(state["loss_curve"])
    checkpoint.restore(state)
    result.epochs = result.resumed_from = int(state["epoch"])
    return result.epochs


def _training_signature(model: nn.Module, data: Dataset, config: TrainConfig, ema: bool) -> str:
    shapes = [(name, list(t.shape)) for name, t in model.state_dict().items()]
    described = [data.name, len(data.y_train), list(data.x_train.shape[1:]), len(data.y_val)]
    # format 2: the epoch loop's checkpoints (those of before are not resumed)
    return signature(config=asdict(config), shapes=shapes, data=described, ema=ema, format=2)


def train(
    model: nn.Module,
    data: Dataset,
    config: TrainConfig,
    device: torch.device | str = "auto",
    on_epoch: Callable[[int, float], None] | None = None,
    *,
    ema: AveragedModel | None = None,
    checkpoint: Path | None = None,
    on_progress: Callable[[TrainResult], None] | None = None,
) -> TrainResult:
    """Train ``model`` on ``data.x_train`` and report validation accuracy after every epoch.

    ``on_epoch(epoch, val_accuracy)`` may raise (an Optuna pruner stops the run that way);
    ``on_progress(result so far)`` after every epoch is for displays. ``ema``
    (:func:`weight_average` of ``model``) is updated after every step and evaluated, after its
    own BatchNorm recalibration, beside the model. ``checkpoint``: a file written after every
    epoch (model, optimiser, EMA, random states, curves) and read first, so that the same call
    after a kill continues from the last finished epoch and ends with the weights an
    uninterrupted run would have (the schedule is a function of the step).
    Raises :class:`CandidateFailed` for a loss that is not finite or for running out of memory.
    """
    device = resolve_device(device) if isinstance(device, str) else device
    cuda = device.type == "cuda"
    seed_everything(config.seed)
    generator = torch.Generator(device=device).manual_seed(config.seed)
    memory_format = memory_format_for(device)
    initialize_weights(model, config.init)
    # only a checkpointed training needs its digest (a search's trials do not checkpoint)
    digest = (
        "" if checkpoint is None else _training_signature(model, data, config, ema is not None)
    )
    try:
        model = model.to(device=device, memory_format=memory_format)
        if ema is not None:
            ema.to(device=device, memory_format=memory_format)
        # stored as loaded (uint8: a quarter of float32's device memory), normalised per batch
        x_train = data.x_train.to(device, memory_format)
        x_val, y_val = data.x_val.to(device), data.y_val.to(device)
        optimizer = make_optimizer(model, config)
        batch = min(config.batch_size, len(data.y_train))
        result = TrainResult(0.0, 0.0, device=str(device))

        def step(xb: torch.Tensor, yb: torch.Tensor, _: StepInfo) -> tuple[torch.Tensor, int]:
            loss = forward_loss(model, xb, yb, cuda, config.label_smoothing)
            optimizer_step(optimizer, loss)
            if ema is not None:
                ema.update_parameters(model)
            return loss.detach(), len(yb)

        def measure(epoch: int, loss: float, order: torch.Tensor) -> None:
            calibration = x_train[order[: 4 * batch]]
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=cuda):
                recalibrate_batch_norm(model, calibration, batch)
            result.val_curve.append(evaluate(model, x_val, y_val, config.eval_batch_size, device))
            if ema is not None:
                with torch.autocast("cuda", dtype=torch.bfloat16, enabled=cuda):
                    recalibrate_batch_norm(ema.module, calibration, batch)
                result.ema_val_curve.append(
                    evaluate(ema.module, x_val, y_val, config.eval_batch_size, device)
                )
            result.loss_curve.append(loss)
            result.epochs = epoch + 1

        def after_epoch(epoch: int, _: float) -> None:
            if on_progress is not None:
                on_progress(result)
            if on_epoch is not None:
                on_epoch(epoch, result.val_curve[-1])

        def state() -> dict[str, Any]:
            return {
                "model": model.state_dict(),
                "ema": None if ema is None else ema.state_dict(),
                "val_curve": result.val_curve,
                "ema_val_curve": result.ema_val_curve,
            }

        def restore(state: dict[str, Any]) -> None:
            model.load_state_dict(state["model"])
            if ema is not None:
                ema.load_state_dict(state["ema"])
            result.val_curve, result.ema_val_curve = state["val_curve"], state["ema_val_curve"]
            result.loss_curve = list(state["loss_curve"])
            result.epochs = result.resumed_from = int(state["epoch"])

        loop = run_epochs(
            step,
            EpochPlan.of(config),
            x=x_train,
            y=data.y_train.to(device),
            natural=data.natural,
            optimizer=optimizer,
            generator=generator,
            model=model,
            measure=measure,
            after_epoch=after_epoch,
            checkpoint=None
            if checkpoint is None
            else EpochCheckpoint(checkpoint, digest, state, restore),
        )
        result.seconds = loop.seconds
        result.epoch_seconds = [round(seconds, 4) for seconds in loop.epoch_seconds]
        result.threads = torch.get_num_threads()
        result.images_per_s = loop.images / max(loop.training_seconds, 1e-9)  # no validation
        result.val_accuracy = result.val_curve[-1] if result.val_curve else 0.0
        result.best_val_accuracy = max(result.val_curve, default=0.0)
        return result
    except torch.cuda.OutOfMemoryError as err:
        del err
        if cuda:
            torch.cuda.empty_cache()
        raise CandidateFailed("out of memory on " + str(device)) from None
