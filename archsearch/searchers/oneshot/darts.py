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
  likely ones (``derive_top``); in a run with a cost objective, a front: the most likely
  network in each of ``front`` equal bins of the log cost (:func:`derive_front`), so that the
  run answers the question it asks (with cost weight 0, the argmax alone is the largest
  network). Each is enqueued into the run's study and retrained from scratch by the standard
  pipeline, with the α history as trial data.
"""

from __future__ import annotations

import heapq
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

import optuna
import torch
import torch.nn.functional as F
from torch import nn

from ...checkpoint import signature
from ...data import Dataset
from ...errors import ArchsearchError
from ...profiler import architecture_costs
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
from .costs import additive_costs, latency_table, op_costs
from .paths import RandomSuggester, sample_network
from .plan import (
    SKIP,
    SupernetPath,
    SupernetPlan,
    per_stage,
    plan_supernet,
    positions_of,
    stage_choices,
)
from .supernet import CHECKPOINT, Supernet

DartsMode = Literal["full", "gumbel"]
DartsOrder = Literal["first", "second"]
Cost = Literal["flops", "mac", "latency"]
#: networks of the space's own walk, at any width, scored for a derived front
FRONT_POOL = 1000


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
    # in a run with a cost objective: the most likely network in each of this many log-cost
    # bins is retrained too (0: the most likely networks only)
    front: int = 5
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
        """The ``k`` most likely networks of the space (joint probability; a stage's blocks
        share their op, :func:`~.plan.stage_choices`), as an op index per position, best
        first."""
        choices = stage_choices(self.plan)
        rows = per_stage(choices, self.probabilities, math.prod)
        return [(positions_of(choices, picked), p) for picked, p in most_likely(rows, k)]


def most_likely(
    probabilities: Sequence[Sequence[float]], k: int = 1
) -> list[tuple[list[int], float]]:
    """The ``k`` most likely choices under per-position ``probabilities`` (joint probability,
    a beam search: exact, as the positions are independent), best first."""
    logs = [[math.log(max(p, 1e-12)) for p in probs] for probs in probabilities]
    beams: list[tuple[float, list[int]]] = [(0.0, [])]
    for row in logs:
        grown = [
            (score + value, [*choice, index])
            for score, choice in beams
            for index, value in enumerate(row)
        ]
        beams = heapq.nlargest(k, grown, key=lambda item: item[0])
    return [(choice, math.exp(score)) for score, choice in beams]


def derive_front(
    probabilities: Sequence[Sequence[float]],
    costs: Sequence[Sequence[float]],
    shared: float,
    bins: int,
    resolution: int = 512,
) -> list[tuple[list[int], float, float]]:
    """The most likely choice (joint probability under softmax(α)) in each of ``bins`` equal
    bins of the log cost between the cheapest and the dearest network, as ``(choice,
    probability, cost)``, cheapest first; empty bins give nothing. A network costs ``shared +
    Σ costs[i][choice[i]]``.

    A dynamic programme over the positions that keeps, per ``resolution`` fine bins of a
    partial network's cheapest completion, the most likely partial network: exact when no two
    partial networks that end in the same final bin share a fine bin, which fine bins make
    rare; ``bins`` x positions x ops x ``resolution`` steps, milliseconds."""
    logs = [[math.log(max(p, 1e-12)) for p in row] for row in probabilities]
    cheapest = [min(row) for row in costs]
    low = shared + sum(cheapest)
    high = shared + sum(max(row) for row in costs)
    if low <= 0 or high <= low * (1 + 1e-9):
        ((choice, probability),) = most_likely(probabilities)
        total = shared + sum(row[i] for row, i in zip(costs, choice, strict=True))
        return [(choice, probability, total)]
    span = math.log(high / low)

    def fine(total: float) -> int:
        return min(resolution - 1, int(math.log(total / low) / span * resolution))

    rest = [sum(cheapest[i:]) for i in range(len(costs) + 1)]
    states: dict[int, tuple[float, list[int], float]] = {0: (0.0, [], 0.0)}
    for index, (row_logs, row_costs) in enumerate(zip(logs, costs, strict=True)):
        grown: dict[int, tuple[float, list[int], float]] = {}
        for score, choice, spent in states.values():
            for op, (log_p, cost) in enumerate(zip(row_logs, row_costs, strict=True)):
                state = (score + log_p, [*choice, op], spent + cost)
                key = fine(shared + state[2] + rest[index + 1])
                if key not in grown or state[0] > grown[key][0]:
                    grown[key] = state
        states = grown
    finals = [(score, shared + spent, choice) for score, choice, spent in states.values()]
    return [
        (choice, math.exp(score), total)
        for score, total, choice in best_per_bin(finals, bins, low, high)
    ]


Item = TypeVar("Item")


def best_per_bin(
    items: Sequence[tuple[float, float, Item]],
    bins: int,
    low: float | None = None,
    high: float | None = None,
) -> list[tuple[float, float, Item]]:
    """Of ``(score, cost, item)`` (cost > 0), the highest score in each of ``bins`` equal bins
    of the log cost from ``low`` to ``high`` (default: the items' own range), cheapest bin
    first; on a tie, the dearer item (more of the network for the same likelihood)."""
    low = min(cost for _, cost, _ in items) if low is None else low
    high = max(cost for _, cost, _ in items) if high is None else high
    span = math.log(high / low) if high > low else 1.0
    best: dict[int, tuple[float, float, Item]] = {}
    for score, cost, item in items:
        key = max(0, min(bins - 1, int(math.log(cost / low) / span * bins)))
        if key not in best or (score, cost) > best[key][:2]:
            best[key] = (score, cost, item)
    return [best[key] for key in sorted(best)]


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
        objectives: Sequence[str] = ("accuracy",),
    ) -> None:
        self.space = space
        self.data = data
        self.device = device
        self.config = config
        # the run's cost (its first objective besides accuracy): what a derived front spans
        self.front_cost = next((o for o in objectives if o != "accuracy"), None)
        self.log = log or (lambda _message: None)
        self.run_dir = run_dir  # where the supernet's checkpoint is kept
        self.seed = config.seed
        self.result: DartsResult | None = None

    def planned_trials(self, requested: int) -> int:
        """At most: the most likely networks, and one per cost bin (some bins may be empty,
        or hold one of the most likely)."""
        return 1 + self.config.derive_top + self._front_bins()

    def _front_bins(self) -> int:
        return self.config.front if self.front_cost is not None else 0

    def search(
        self,
        study: optuna.Study,
        evaluate: Callable[[optuna.Trial], Sequence[float]],
        budget: Budget,
        callbacks: Sequence[TrialCallback] = (),
    ) -> None:
        if len(completed(study)) >= self.planned_trials(budget.trials):
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
        # a resumed run has some derived networks already: each is trained once
        present = {
            t.user_attrs.get(QUEUED_ARCHITECTURE)
            for t in study.get_trials(deepcopy=False)
            if t.state != optuna.trial.TrialState.FAIL
        }
        for path, how in self._derived(result, plan):
            arch = plan.architecture(path)
            if arch.to_json() in present:
                continue
            present.add(arch.to_json())
            attrs = {
                QUEUED_ARCHITECTURE: arch.to_json(),
                "alpha_history": history,
                "darts": {**summary, **how},
            }
            if table is not None and path == plan.full_path(path.choice):  # ops at full width
                attrs["darts"]["latency_table_ms"] = round(table.predict_ms(path.choice), 4)
            study.enqueue_trial(hp, user_attrs=attrs, skip_if_exists=False)

        # the derived networks get what is left of the budget
        remaining = (
            None if budget.timeout is None else budget.timeout - (time.monotonic() - started)
        )
        waiting = len(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.WAITING,)))
        self.train_queued(study, evaluate, waiting, remaining, callbacks)

    def _derived(
        self, result: DartsResult, plan: SupernetPlan
    ) -> list[tuple[SupernetPath, dict[str, Any]]]:
        """The networks to retrain, in the order they train: the most likely first (what DARTS
        answers), the next most likely, then the front's from the cheapest (a cut budget
        keeps the cheap end of the front, where a log-cost hypervolume is decided)."""
        derived = [
            (plan.full_path(choice), {"rank": rank, "probability": probability})
            for rank, (choice, probability) in enumerate(result.derive(1 + self.config.derive_top))
        ]
        bins = self._front_bins()
        if bins and self.front_cost is not None:
            front = self._front(result, plan, self.front_cost, bins)
            self.log(
                f"  derived front: the most likely network in {len(front)} of {bins}"
                f" {self.front_cost} bins"
            )
            derived += [
                (path, {"front_rank": rank, "probability": math.exp(score), self.front_cost: cost})
                for rank, (score, cost, path) in enumerate(front)
            ]
        return derived

    def _front(
        self, result: DartsResult, plan: SupernetPlan, cost: str, bins: int
    ) -> list[tuple[float, float, SupernetPath]]:
        """The most likely network per log-cost bin, as (log probability, cost, path).

        At the supernet's widths, exactly (:func:`derive_front` over the space's stage
        choices). The supernet holds every stage at its widest, which keeps the narrow, cheap
        networks of the space out of that reach; so the space's own walk also draws
        :data:`FRONT_POOL` networks at any width it allows, each scored by softmax(α) of its ops
        (α says nothing of widths: on a tie in likelihood the wider network wins its bin).
        With latency as the cost, the full-width networks only: the lookup table times ops at
        the supernet's widths."""
        choices = stage_choices(plan)
        costs, shared = additive_costs(plan, cost, self.device, self.config.latency_backend)
        items = [
            (math.log(max(p, 1e-300)), total, plan.full_path(positions_of(choices, picked)))
            for picked, p, total in derive_front(
                per_stage(choices, result.probabilities, math.prod),
                per_stage(choices, costs, sum),
                shared,
                bins,
            )
        ]
        if cost == "latency":
            return items
        logs = [[math.log(max(p, 1e-12)) for p in row] for row in result.probabilities]
        suggester = RandomSuggester(random.Random(self.seed))
        shape = (1, plan.in_channels, *plan.input_size)
        for _ in range(FRONT_POOL):
            try:
                arch, path = sample_network(self.space, plan, suggester, plan.input_size)
                counted = architecture_costs(arch, shape, plan.num_classes)
            except ArchsearchError:
                continue  # a network outside the supernet
            score = sum(row[op] for row, op in zip(logs, path.choice, strict=True))
            items.append((score, float(getattr(counted, cost)), path))
        return best_per_bin(items, bins)
