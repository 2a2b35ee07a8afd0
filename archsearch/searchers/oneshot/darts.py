"""DARTS-style differentiable search over the same space files as the Optuna searchers.

Liu et al., "DARTS: Differentiable Architecture Search" (ICLR 2019): at every searchable
position of the supernet (:mod:`.plan`) a mixed operation Σ softmax(α/τ)·op(x), with the
weights w and the architecture parameters α trained in alternation on the training and
validation splits (first-order by default, second-order "unrolled" as an option). The weight
steps use the standard trainer's schedule and augmentation (:mod:`archsearch.train`).

- ``gumbel`` mode samples one path per position and step with the hard Gumbel-softmax
  (Dong & Yang, GDAS, CVPR 2019; Wu et al., FBNet, CVPR 2019): memory close to one network.
- Cost-aware loss as in FBNet / ProxylessNAS: ``cost_weight`` × the expected cost
  Σ softmax(α)·cost(op), normalised by the largest network's cost (:mod:`.costs`).
- Two published fixes of DARTS's collapse onto ``skip``: β-DARTS's β-decay regulariser on α
  (``beta_weight``; Ye et al., CVPR 2022) and DARTS-'s auxiliary skip connection with a
  decaying weight (``aux_skip``; Chu et al., ICLR 2021), which takes the residual role that
  makes ``skip`` win unfairly.
- Collapse guard, DARTS+ style (Liang et al., 2019): the number of positions whose strongest
  choice is the parameter-free ``skip`` and the entropy of softmax(α) are tracked per epoch;
  the search stops early once skips take more than ``max_skip`` positions.
- Derivation: argmax per position → an :class:`~archsearch.Architecture`, plus the next most
  likely ones (``derive_top``); each is enqueued into the run's study and retrained from scratch
  by the standard pipeline, with the α history as trial data.
"""

from __future__ import annotations

import heapq
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import optuna
import torch
import torch.nn.functional as F
from torch import nn

from ...checkpoint import signature
from ...data import Dataset
from ...errors import ArchsearchError
from ...profiler.latency import LatencyBackend
from ...space import SearchSpace, default_hyperparameters
from ...study import QUEUED_ARCHITECTURE, completed
from ...train import (
    EpochCheckpoint,
    EpochPlan,
    StepInfo,
    forward_loss,
    memory_format_for,
    optimizer_step,
    run_epochs,
    seed_everything,
)
from .._base import Budget, PickingSearcher, TrialCallback
from .costs import latency_table, op_costs
from .plan import SKIP, SupernetPlan, plan_supernet
from .supernet import CHECKPOINT, Supernet

DartsMode = Literal["full", "gumbel"]
DartsOrder = Literal["first", "second"]
Cost = Literal["flops", "mac", "latency"]


@dataclass(frozen=True)
class DartsConfig:
    mode: DartsMode = "full"  # gumbel: one sampled path per step
    order: DartsOrder = "first"  # second: unrolled
    epochs: int = 10
    batch_size: int = 64
    weight_lr: float = 0.05
    weight_decay: float = 3e-4
    arch_lr: float = 1e-2  # DARTS uses 3e-4 over 50 epochs; a 10-epoch search needs more
    warmup_epochs: int = 2  # weights only at first, so α does not lock in untrained ops
    arch_beta1: float = 0.5  # DARTS's Adam betas are (0.5, 0.999)
    arch_batch_size: int | None = None  # validation images per α step (default: batch_size)
    arch_weight_decay: float = 1e-3
    tau_start: float = 5.0  # Gumbel temperature, annealed geometrically (GDAS: 10 -> 0.1)
    tau_end: float = 0.5
    cost: Cost = "flops"  # of the cost-aware loss
    cost_weight: float = 0.0
    max_skip: int | None = None  # collapse guard; default a third of the skippable positions
    # β-DARTS: weight λ of the β-decay regulariser, ramped linearly from 0 over the search
    beta_weight: float = 0.0
    # DARTS-: weight of an auxiliary skip beside each shape-keeping mixed op, decayed
    # linearly to 0 over the search (Chu et al., ICLR 2021: 1)
    aux_skip: float = 0.0
    # PC-DARTS: 1/K of the channels through each shape-keeping mixed op (the paper's K: 4);
    # 1: all. The edge normalisation of PC-DARTS has nothing to do in a chain of positions
    # (one input edge each: its weight normalises to 1)
    partial_channels: int = 1
    latency_backend: LatencyBackend = "torch"  # of the latency table (cost latency)
    derive_top: int = 0
    seed: int = 0


@dataclass
class DartsResult:
    plan: SupernetPlan
    probabilities: list[list[float]]
    history: list[list[list[float]]] = field(default_factory=list)  # epoch, position, op
    entropy: list[float] = field(default_factory=list)
    skips: list[int] = field(default_factory=list)
    stopped: str = ""
    seconds: float = 0.0
    peak_memory_bytes: int = 0
    images_per_s: float = 0.0  # training plus α-batch images per second of search
    costs: list[list[float]] = field(default_factory=list)
    resumed_from: int = 0  # the epoch a checkpoint continued from (0: searched from scratch)

    def derive(self, k: int = 1) -> list[tuple[list[int], float]]:
        """The ``k`` most likely choices (joint probability), best first."""
        logs = [[math.log(max(p, 1e-12)) for p in probs] for probs in self.probabilities]
        beams: list[tuple[float, list[int]]] = [(0.0, [])]
        for row in logs:
            grown = [
                (score + value, [*choice, index])
                for score, choice in beams
                for index, value in enumerate(row)
            ]
            beams = heapq.nlargest(k, grown, key=lambda item: item[0])
        return [(choice, math.exp(score)) for score, choice in beams]


def beta_decay(model: Supernet) -> torch.Tensor:
    """β-DARTS's regulariser (Ye et al., CVPR 2022): the mean over positions of
    log Σ_k exp(α_k). Its gradient is softmax(α) itself, so each step takes most from the
    largest α: the architecture weights stay comparable, and no op (``skip`` above all, the
    parameter-free winner of collapsed DARTS) runs away with a one-hot softmax."""
    return torch.stack([torch.logsumexp(alpha, dim=0) for alpha in model.alphas]).mean()


def _entropy(probabilities: list[torch.Tensor]) -> float:
    values = [float(-(p * p.clamp_min(1e-12).log()).sum()) for p in probabilities]
    return sum(values) / max(1, len(values))


class DartsSearch:
    """Run the bilevel search for one plan on one data set and device."""

    def __init__(
        self,
        plan: SupernetPlan,
        data: Dataset,
        device: torch.device,
        config: DartsConfig,
        on_epoch: Callable[[int, DartsResult], None] | None = None,
        timeout: float | None = None,
        checkpoint: Path | None = None,
    ) -> None:
        self.plan = plan
        self.data = data
        self.device = device
        self.config = config
        self.on_epoch = on_epoch
        self.timeout = timeout  # seconds of wall time for the search; checked after each epoch
        # written after every epoch, read first: a killed search continues its supernet
        self.checkpoint = checkpoint

    def run(self) -> DartsResult:
        config, device, data = self.config, self.device, self.data
        seed_everything(config.seed)
        generator = torch.Generator(device=device).manual_seed(config.seed)
        started = time.perf_counter()
        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        memory_format = memory_format_for(device)
        model = Supernet(self.plan, partial_channels=config.partial_channels).to(
            device=device, memory_format=memory_format
        )
        costs = (
            op_costs(self.plan, config.cost, device, config.latency_backend)
            if config.cost_weight
            else []
        )
        cost_tensors = [torch.tensor(row, device=device) for row in costs]
        # normalise by the most expensive network: the penalty is then of order one
        scale = sum(max(row) for row in costs) or 1.0
        weights = model.weight_parameters()
        w_opt = torch.optim.SGD(
            weights, lr=config.weight_lr, momentum=0.9, weight_decay=config.weight_decay
        )
        a_opt = torch.optim.Adam(
            list(model.alphas),
            lr=config.arch_lr,
            betas=(config.arch_beta1, 0.999),
            weight_decay=config.arch_weight_decay,
        )
        x_val, y_val = data.x_val.to(device), data.y_val.to(device)
        batch = min(config.batch_size, len(data.y_train), len(y_val))
        arch_batch = min(config.arch_batch_size or batch, len(y_val))
        skippable = sum(1 for p in self.plan.positions if p.ops[-1].block == SKIP)
        max_skip = config.max_skip if config.max_skip is not None else max(1, skippable // 3)
        result = DartsResult(self.plan, [])
        cuda = device.type == "cuda"
        digest = signature(
            plan=repr(self.plan),
            config=repr(config),
            data=[data.name, len(data.y_train), list(data.x_train.shape[1:])],
            format=2,  # the epoch loop's checkpoints (those of before are not resumed)
        )

        def step(xt: torch.Tensor, yt: torch.Tensor, at: StepInfo) -> tuple[torch.Tensor, int]:
            progress = at.step / max(1, at.total - 1)
            tau = (
                config.tau_start * (config.tau_end / config.tau_start) ** progress
                if config.mode == "gumbel"
                else 1.0
            )

            def path(x: torch.Tensor) -> torch.Tensor:
                return model(x, config.mode, tau)

            def penalty() -> torch.Tensor:
                """The α loss's extra terms: the expected cost, and β-DARTS's decay."""
                total = torch.zeros((), device=device)
                if cost_tensors:
                    expected = sum(
                        (p * c).sum()
                        for p, c in zip(model.probabilities(), cost_tensors, strict=True)
                    )
                    total = total + config.cost_weight * expected / scale
                if config.beta_weight:
                    total = total + config.beta_weight * progress * beta_decay(model)
                return total

            # DARTS-: the auxiliary skip's weight decays linearly to zero
            model.aux_weight = config.aux_skip * (1 - progress)
            images = len(yt)
            if at.epoch >= config.warmup_epochs:  # α step on a validation batch
                val_idx = torch.randint(
                    0, len(y_val), (arch_batch,), device=device, generator=generator
                )
                xv = x_val[val_idx].contiguous(memory_format=memory_format)
                yv = y_val[val_idx]
                a_opt.zero_grad(set_to_none=True)
                if config.order == "second":
                    self._unrolled_arch_grad(model, weights, xt, yt, xv, yv, tau, w_opt)
                    if cost_tensors or config.beta_weight:
                        penalty().backward()
                else:
                    (forward_loss(path, xv, yv, cuda) + penalty()).backward()
                a_opt.step()
                images += len(yv)
            # w step on the training batch
            loss = forward_loss(path, xt, yt, cuda)
            optimizer_step(w_opt, loss, clip=(weights, 5.0))
            return loss.detach(), images

        def measure(epoch: int, loss: float, order: torch.Tensor) -> None:
            with torch.no_grad():
                probabilities = model.probabilities()
            result.history.append([[round(float(v), 6) for v in p] for p in probabilities])
            result.entropy.append(round(_entropy(probabilities), 6))
            result.skips.append(
                sum(
                    1
                    for position, p in zip(self.plan.positions, probabilities, strict=True)
                    if position.ops[int(p.argmax())].block == SKIP
                )
            )
            result.probabilities = result.history[-1]

        def after_epoch(epoch: int, loss: float) -> str | None:
            if self.on_epoch is not None:
                self.on_epoch(epoch, result)
            skips = result.skips[-1]
            if skips <= max_skip:
                return None
            return (
                f"collapse guard (DARTS+): {skips} of {skippable} skippable"
                f" positions chose skip after epoch {epoch + 1}, more than {max_skip}"
            )

        def state() -> dict[str, Any]:
            return {
                "model": model.state_dict(),
                "a_opt": a_opt.state_dict(),
                "history": result.history,
                "entropy": result.entropy,
                "skips": result.skips,
            }

        def restore(state: dict[str, Any]) -> None:
            model.load_state_dict(state["model"])
            a_opt.load_state_dict(state["a_opt"])
            result.history, result.entropy = state["history"], state["entropy"]
            result.skips = state["skips"]
            result.probabilities = result.history[-1]
            result.resumed_from = int(state["epoch"])

        loop = run_epochs(
            step,
            EpochPlan(config.epochs, batch, schedule="cosine", augmentation="auto"),
            x=data.x_train.to(device),
            y=data.y_train.to(device),
            natural=data.natural,
            optimizer=w_opt,
            generator=generator,
            model=model,
            measure=measure,
            after_epoch=after_epoch,
            checkpoint=None
            if self.checkpoint is None
            else EpochCheckpoint(self.checkpoint, digest, state, restore),
            deadline=deadline,
            failure=lambda loss, _: ArchsearchError(f"DARTS: the supernet's loss became {loss}"),
        )
        result.seconds = time.perf_counter() - started
        result.stopped = loop.stopped or ""
        if loop.out_of_time:
            result.stopped = (
                f"wall-time budget: stopped after search epoch {loop.epochs} of"
                f" {config.epochs} ({result.seconds:.0f} s of {self.timeout:g} s)"
            )
        result.images_per_s = loop.images / max(result.seconds, 1e-9)
        result.costs = costs
        result.peak_memory_bytes = loop.peak_memory_bytes
        return result

    def _unrolled_arch_grad(
        self,
        model: Supernet,
        weights: list[nn.Parameter],
        xt: torch.Tensor,
        yt: torch.Tensor,
        xv: torch.Tensor,
        yv: torch.Tensor,
        tau: float,
        w_opt: torch.optim.Optimizer,
    ) -> None:
        """Second-order DARTS (Liu et al., Eq. 7-8): the validation loss at the weights after
        one virtual SGD step, with the Hessian-vector product by finite differences."""
        mode = self.config.mode
        xi = w_opt.param_groups[0]["lr"]
        train_loss = F.cross_entropy(model(xt, mode, tau), yt)
        grads = torch.autograd.grad(train_loss, weights, allow_unused=True)
        backup = [w.detach().clone() for w in weights]
        with torch.no_grad():
            for w, g in zip(weights, grads, strict=True):
                if g is not None:
                    w.sub_(xi * g)
        val_loss = F.cross_entropy(model(xv, mode, tau), yv)
        alphas = list(model.alphas)
        d_alpha = torch.autograd.grad(val_loss, alphas, retain_graph=True, allow_unused=True)
        d_w = torch.autograd.grad(val_loss, weights, allow_unused=True)
        with torch.no_grad():
            for w, b in zip(weights, backup, strict=True):
                w.copy_(b)
        norm = torch.sqrt(sum((g * g).sum() for g in d_w if g is not None))
        eps = 0.01 / max(float(norm), 1e-12)

        def alpha_grad(sign: float) -> Sequence[torch.Tensor | None]:
            with torch.no_grad():
                for w, g in zip(weights, d_w, strict=True):
                    if g is not None:
                        w.add_(sign * eps * g)
            loss = F.cross_entropy(model(xt, mode, tau), yt)
            out = torch.autograd.grad(loss, alphas, allow_unused=True)
            with torch.no_grad():
                for w, b in zip(weights, backup, strict=True):
                    w.copy_(b)
            return out

        plus, minus = alpha_grad(1.0), alpha_grad(-1.0)
        for alpha, da, gp, gm in zip(alphas, d_alpha, plus, minus, strict=True):
            grad = torch.zeros_like(alpha) if da is None else da.clone()
            if gp is not None and gm is not None:
                grad -= xi * (gp - gm) / (2 * eps)
            alpha.grad = grad if alpha.grad is None else alpha.grad + grad


class DartsSearcher(PickingSearcher):
    """Searches with a supernet, then enqueues the derived architectures into the study; the
    run's standard pipeline retrains, profiles and records each (``evaluate``)."""

    name = "darts"

    def __init__(
        self,
        space: SearchSpace,
        data: Dataset,
        device: torch.device,
        config: DartsConfig,
        log: Callable[[str], None] | None = None,
        run_dir: Path | None = None,
    ) -> None:
        self.space = space
        self.data = data
        self.device = device
        self.config = config
        self.log = log or (lambda _message: None)
        self.run_dir = run_dir  # where the supernet's checkpoint is kept
        self.seed = config.seed
        self.result: DartsResult | None = None

    def planned_trials(self, requested: int) -> int:
        return 1 + self.config.derive_top

    def search(
        self,
        study: optuna.Study,
        evaluate: Callable[[optuna.Trial], Sequence[float]],
        budget: Budget,
        callbacks: Sequence[TrialCallback] = (),
    ) -> None:
        wanted = 1 + self.config.derive_top
        if len(completed(study)) >= wanted:
            return
        started = time.monotonic()
        plan = plan_supernet(self.space, self.data)
        sizes = [len(p.ops) for p in plan.positions]
        self.log(
            f"DARTS ({self.config.mode}, {self.config.order}-order): {len(plan.positions)}"
            f" positions, {min(sizes)}-{max(sizes)} candidate ops each"
        )

        def on_epoch(epoch: int, result: DartsResult) -> None:
            self.log(
                f"  search epoch {epoch + 1}/{self.config.epochs}: entropy"
                f" {result.entropy[-1]:.3f}, skips {result.skips[-1]}"
            )

        checkpoint = None if self.run_dir is None else self.run_dir / CHECKPOINT
        result = DartsSearch(
            plan,
            self.data,
            self.device,
            self.config,
            on_epoch,
            timeout=budget.timeout,
            checkpoint=checkpoint,
        ).run()
        self.result = result
        if result.resumed_from:
            self.log(f"  resumed the supernet from its epoch {result.resumed_from} checkpoint")
        if result.stopped:
            self.log("  " + result.stopped)
        memory = (
            f", peak memory {result.peak_memory_bytes / 2**20:,.0f} MiB"
            if result.peak_memory_bytes
            else ""
        )
        self.log(f"  search: {result.seconds:.0f} s, {result.images_per_s:,.0f} images/s{memory}")
        hp = default_hyperparameters(self.space)
        history = {
            "positions": [p.name for p in plan.positions],
            "ops": [[op.name for op in p.ops] for p in plan.positions],
            "epochs": result.history,
        }
        summary = {
            "mode": self.config.mode,
            "order": self.config.order,
            "cost": self.config.cost,
            "cost_weight": self.config.cost_weight,
            "search_seconds": round(result.seconds, 3),
            "entropy": result.entropy,
            "skips": result.skips,
            "stopped": result.stopped,
            "peak_memory_bytes": result.peak_memory_bytes,
            "images_per_s": round(result.images_per_s, 1),
        }
        # read (and calibrated) once: each call re-times the stem and head
        table = (
            latency_table(plan, self.device, backend=self.config.latency_backend)
            if self.config.cost == "latency" and result.costs
            else None
        )
        for rank, (choice, probability) in enumerate(result.derive(wanted)):
            arch = plan.architecture(choice)
            attrs = {
                QUEUED_ARCHITECTURE: arch.to_json(),
                "alpha_history": history,
                "darts": {**summary, "rank": rank, "probability": probability},
            }
            if table is not None:
                attrs["darts"]["latency_table_ms"] = round(table.predict_ms(choice), 4)
            study.enqueue_trial(hp, user_attrs=attrs, skip_if_exists=False)

        # the derived networks get what is left of the budget
        remaining = (
            None if budget.timeout is None else budget.timeout - (time.monotonic() - started)
        )
        self.train_queued(study, evaluate, wanted, remaining, callbacks)
