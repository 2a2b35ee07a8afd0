"""DARTS-style differentiable search over the same space files as the Optuna searchers.

Liu et al., "DARTS: Differentiable Architecture Search" (ICLR 2019): at every searchable
position a mixed operation Σ softmax(α/τ)·op(x) over the space's candidate blocks (block types
× kernel sizes × expansion ratios × SE, plus ``skip`` where the shape allows, which searches
depth), with the weights w and the architecture parameters α trained in alternation on the
training and validation splits (first-order by default, second-order "unrolled" as an option).

- ``gumbel`` mode samples one path per position and step with the hard Gumbel-softmax
  (Dong & Yang, GDAS, CVPR 2019; Wu et al., FBNet, CVPR 2019): memory close to one network.
- Cost-aware loss as in FBNet / ProxylessNAS: ``cost_weight`` × the expected cost
  Σ softmax(α)·cost(op), normalised by the largest network's cost; the cost is ``flops``,
  ``mac`` (static profile of each op at its input shape) or ``latency`` (a lookup table of each
  op measured at its input shape on the device in use, cached per device and torch version).
- Collapse guard, DARTS+ style (Liang et al., 2019): the number of positions whose strongest
  choice is the parameter-free ``skip`` and the entropy of softmax(α) are tracked per epoch;
  the search stops early once skips take more than ``max_skip`` positions.
- Derivation: argmax per position → an :class:`~archsearch.Architecture`, plus the next most
  likely ones (``derive_top``); each is enqueued into the run's study and retrained from scratch
  by the standard pipeline, with the α history as trial data.

Widths and strides follow the space: each stage at its largest listed width (width multiplier
1.0 where allowed, else its largest) and the sampler's stride rule; stem, activation and head
take the first listed choice.
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
import json
import math
import os
import random
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
import torch
import torch.nn.functional as F
from torch import nn

from ..architecture import Architecture, BlockSpec, Head
from ..blocks import create_block, get_block, make_divisible
from ..build import ClassifierHead, build_model, init_weights
from ..data import Dataset
from ..errors import ArchsearchError
from ..space import Distribution, Fixed, SearchSpace
from ..space.distributions import Categorical, FloatRange, IntRange, grid_values
from ..space.spec import AUTO_POOL_MIN_SIZE, AUTO_STRIDE_MIN_SIZE
from ..study import QUEUED_ARCHITECTURE, completed
from ..train import augment, lr_factor, seed_everything
from ._base import BaseSearcher, Budget, TrialCallback
from ._optuna import guarded

SKIP = "skip"


@dataclass(frozen=True)
class CandidateOp:
    block: str
    options: tuple[tuple[str, Any], ...] = ()

    @property
    def name(self) -> str:
        if self.block == SKIP:
            return SKIP
        spec = BlockSpec(self.block, None, 1, self.options)
        return str(spec)


@dataclass(frozen=True)
class Position:
    name: str  # "stage2.block1"
    stage: int
    in_channels: int
    out_channels: int
    stride: int
    in_size: tuple[int, int]
    ops: tuple[CandidateOp, ...]


@dataclass(frozen=True)
class SupernetPlan:
    stem: tuple[BlockSpec, ...]
    positions: tuple[Position, ...]
    head: Head
    in_channels: int
    num_classes: int
    input_size: tuple[int, int]

    def architecture(self, choice: Sequence[int]) -> Architecture:
        """The network that takes op ``choice[i]`` at position i (skips leave the stage)."""
        stages: dict[int, list[BlockSpec]] = {}
        for position, index in zip(self.positions, choice, strict=True):
            op = position.ops[index]
            stages.setdefault(position.stage, [])
            if op.block == SKIP:
                continue
            stages[position.stage].append(
                BlockSpec.make(
                    op.block, position.out_channels, position.stride, **dict(op.options)
                )
            )
        return Architecture(
            self.stem, tuple(tuple(s) for _, s in sorted(stages.items())), self.head
        )


def _first(dist: Distribution | None, default: Any = None) -> Any:
    if dist is None:
        return default
    values = dist.values()
    return values[0] if values else getattr(dist, "low", default)


def _largest(dist: Distribution) -> Any:
    values = dist.values()
    return max(values) if values else dist.high  # type: ignore[union-attr]


def _op_choices(
    kind: str, options: dict[str, Distribution], own: dict[str, Distribution], activation: str
) -> list[CandidateOp]:
    accepted = get_block(kind).options
    grids: dict[str, list[Any]] = {}
    for name, dist in options.items():
        if name in accepted:
            grids[name] = grid_values(dist)
    for name, dist in own.items():
        grids[name] = grid_values(dist)
    if "activation" in accepted:
        grids.setdefault("activation", [activation])
    names = sorted(grids)
    return [
        CandidateOp(kind, tuple(zip(names, values, strict=True)))
        for values in itertools.product(*(grids[n] for n in names))
    ]


def plan_supernet(space: SearchSpace, data: Dataset, max_ops: int = 64) -> SupernetPlan:
    """The supernet's fixed skeleton and the candidate ops at every position."""
    height, width = data.input_size
    side = min(height, width)
    multiplier_values = space.width_multiplier.values() or [1.0]
    multiplier = 1.0 if 1.0 in multiplier_values else max(multiplier_values)
    activation = _first(space.activation, "relu")

    def scaled(channels: int) -> int:
        return channels if multiplier == 1 else make_divisible(channels * multiplier)

    size = [height, width]

    def downsample(stride: int) -> int:
        if stride > 1 and math.ceil(min(size) / stride) < space.min_feature_size:
            stride = 1
        size[0], size[1] = math.ceil(size[0] / stride), math.ceil(size[1] / stride)
        return stride

    stem_block = _first(space.stem.block, "plain")
    stem_stride = (
        _first(space.stem.stride)
        if space.stem.stride is not None
        else (2 if side >= AUTO_STRIDE_MIN_SIZE else 1)
    )
    stem_options: dict[str, Any] = {"kernel_size": _first(space.stem.kernel_size, 3)}
    if "activation" in get_block(stem_block).options:
        stem_options["activation"] = activation
    channels = scaled(_first(space.stem.out_channels, 32))
    stem = [BlockSpec.make(stem_block, channels, downsample(stem_stride), **stem_options)]
    pool = _first(space.stem.pool) if space.stem.pool is not None else (side >= AUTO_POOL_MIN_SIZE)
    if pool:
        stem.append(BlockSpec.make("maxpool", None, downsample(2), kernel_size=3, padding=1))

    positions = []
    for index, spec in enumerate(space.stages, start=1):
        out = scaled(_largest(spec.out_channels))
        before = (size[0], size[1])
        stride = downsample(_largest(spec.stride))
        kinds = spec.block.values() or []
        ops = [
            op
            for kind in kinds
            for op in _op_choices(kind, spec.options, spec.block_options.get(kind, {}), activation)
        ]
        for depth in range(1, _largest(spec.depth) + 1):
            first = depth == 1
            in_channels = channels if first else out
            block_stride = stride if first else 1
            valid = []
            for op in ops:
                try:
                    from ..blocks import validate_block_args

                    validate_block_args(op.block, in_channels, out, block_stride, dict(op.options))
                except ArchsearchError:
                    continue
                valid.append(op)
            if not first:  # identity keeps the shape: choosing it drops the block (depth)
                valid.append(CandidateOp(SKIP))
            if not valid:
                raise ArchsearchError(f"DARTS: no candidate op fits stage {index}, block {depth}")
            if len(valid) > max_ops:
                raise ArchsearchError(
                    f"DARTS: {len(valid)} candidate ops at stage {index}, block {depth}, more"
                    f" than {max_ops}: fix some options in the space file"
                )
            in_size = before if first else (size[0], size[1])
            positions.append(
                Position(
                    f"stage{index}.block{depth}",
                    index,
                    in_channels,
                    out,
                    block_stride,
                    in_size,
                    tuple(valid),
                )
            )
            channels = out
    head = Head(
        conv_channels=_first(space.head.conv_channels, 0),
        pool=_first(space.head.pool, "avg"),
        hidden=space.head.hidden,
        dropout=_first(space.head.dropout, 0.0),
        activation=activation,
    )
    return SupernetPlan(
        tuple(stem), tuple(positions), head, data.in_channels, data.num_classes, data.input_size
    )


class MixedOp(nn.Module):
    """Σ w_i·op_i(x) over a position's candidates; with ``index``, only op ``index`` runs."""

    def __init__(self, position: Position) -> None:
        super().__init__()
        self.candidates = nn.ModuleList(
            nn.Identity()
            if op.block == SKIP
            else create_block(
                op.block,
                position.in_channels,
                position.out_channels,
                position.stride,
                **dict(op.options),
            )
            for op in position.ops
        )

    def forward(
        self, x: torch.Tensor, weights: torch.Tensor, index: int | None = None
    ) -> torch.Tensor:
        if index is not None:
            return weights[index] * self.candidates[index](x)
        return sum(w * op(x) for w, op in zip(weights, self.candidates, strict=True))


class Supernet(nn.Module):
    def __init__(self, plan: SupernetPlan) -> None:
        super().__init__()
        channels = plan.in_channels
        stem = []
        for block in plan.stem:
            out = channels if block.out_channels is None else block.out_channels
            stem.append(create_block(block.type, channels, out, block.stride, **block.kwargs))
            channels = out
        self.stem = nn.Sequential(*stem)
        self.mixed = nn.ModuleList(MixedOp(p) for p in plan.positions)
        last = plan.positions[-1].out_channels if plan.positions else channels
        self.head = ClassifierHead(plan.head, last, plan.num_classes)
        self.alphas = nn.ParameterList(
            nn.Parameter(1e-3 * torch.randn(len(p.ops))) for p in plan.positions
        )
        init_weights(self)

    def weight_parameters(self) -> list[nn.Parameter]:
        return [p for name, p in self.named_parameters() if not name.startswith("alphas")]

    def probabilities(self, tau: float = 1.0) -> list[torch.Tensor]:
        return [F.softmax(a / tau, dim=0) for a in self.alphas]

    def forward(self, x: torch.Tensor, mode: str = "full", tau: float = 1.0) -> torch.Tensor:
        x = self.stem(x)
        for mixed, alpha in zip(self.mixed, self.alphas, strict=True):
            if mode == "gumbel":
                hard = F.gumbel_softmax(alpha, tau=tau, hard=True)
                x = mixed(x, hard, int(hard.argmax()))
            else:
                x = mixed(x, F.softmax(alpha / tau, dim=0))
        return self.head(x)


# --- op costs and the latency lookup table ---------------------------------------------------
def _cache_file(device: torch.device) -> Path:
    root = Path(os.environ.get("ARCHSEARCH_CACHE", Path.home() / ".cache" / "archsearch"))
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    safe = "".join(c if c.isalnum() else "-" for c in f"{name}-torch{torch.__version__}")
    return root / f"latency-{safe}-{torch.get_num_threads()}threads.json"


def op_costs(plan: SupernetPlan, cost: str, device: torch.device) -> list[list[float]]:
    """Cost of every candidate op at its position's input shape (skip costs nothing)."""
    from ..profiler import measure_latency, profile_model

    table: dict[str, float] = {}
    cache = _cache_file(device) if cost == "latency" else None
    if cache is not None and cache.is_file():
        table = json.loads(cache.read_text())
    out = []
    for position in plan.positions:
        shape = (1, position.in_channels, *position.in_size)
        row = []
        for op in position.ops:
            if op.block == SKIP:
                row.append(0.0)
                continue
            module = create_block(
                op.block,
                position.in_channels,
                position.out_channels,
                position.stride,
                **dict(op.options),
            )
            if cost == "latency":
                key = f"{op.name}|{position.out_channels}|s{position.stride}|{shape}"
                if key not in table:
                    table[key] = measure_latency(
                        module, shape, device=device, repeats=5, min_repeat_s=0.005, warmup_s=0.01
                    ).median_ms
                row.append(table[key])
            else:
                result = profile_model(module, shape)
                row.append(float(result.flops if cost == "flops" else result.mac))
        out.append(row)
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps(table, indent=0, sort_keys=True))
    return out


def fixed_latency_ms(plan: SupernetPlan, device: torch.device) -> float:
    """Stem and head: the parts every derived network shares, measured once."""
    from ..profiler import measure_latency

    model = Supernet(plan).eval()
    shape = (1, plan.in_channels, *plan.input_size)
    with torch.no_grad():
        features = model.stem(torch.zeros(shape))
    stem_ms = measure_latency(
        model.stem, shape, device=device, repeats=5, min_repeat_s=0.005, warmup_s=0.01
    ).median_ms
    last = plan.positions[-1] if plan.positions else None
    channels = last.out_channels if last else features.shape[1]
    head_shape = (1, channels, *_final_size(plan, features.shape[2:]))
    head_ms = measure_latency(
        model.head, head_shape, device=device, repeats=5, min_repeat_s=0.005, warmup_s=0.01
    ).median_ms
    return stem_ms + head_ms


@dataclass(frozen=True)
class LatencyTable:
    """Latency of a derived network predicted from the lookup table (ProxylessNAS/FBNet).

    Each op is measured alone, with its weights and input hot in cache, which a whole
    network does not enjoy; on a 2-core CPU the plain sum read 9-28% below the measured
    network (varying between sessions), at a nearly constant ratio within one.
    ``calibration`` is that ratio (measured over summed), the median over a few random
    networks of the same supernet measured whole, so the prediction is an absolute figure;
    the search itself only uses the ops' relative costs.
    """

    rows: list[list[float]]  # ms per position and op (skip: 0)
    shared_ms: float  # stem + head, in every derived network
    calibration: float

    def predict_ms(self, choice: Sequence[int]) -> float:
        total = self.shared_ms + sum(row[i] for row, i in zip(self.rows, choice, strict=True))
        return self.calibration * total


def latency_table(
    plan: SupernetPlan, device: torch.device, networks: int = 4, seed: int = 0
) -> LatencyTable:
    """The op table of ``plan`` on ``device``, calibrated on ``networks`` random networks
    (cached with the table, per plan)."""
    from ..profiler import measure_latency

    rows = op_costs(plan, "latency", device)
    shared = fixed_latency_ms(plan, device)
    cache = _cache_file(device)
    stored = json.loads(cache.read_text()) if cache.is_file() else {}
    signature = hashlib.sha256(repr(plan).encode()).hexdigest()[:16]
    key = f"calibration|{signature}|{networks}|{seed}"
    if key not in stored:
        generator = random.Random(seed)
        shape = (1, plan.in_channels, *plan.input_size)
        ratios = []
        for _ in range(networks):
            choice = [generator.randrange(len(p.ops)) for p in plan.positions]
            model = build_model(plan.architecture(choice), plan.num_classes, plan.in_channels)
            measured = measure_latency(
                model, shape, device=device, repeats=5, min_repeat_s=0.01, warmup_s=0.02
            ).median_ms
            ratios.append(measured / LatencyTable(rows, shared, 1.0).predict_ms(choice))
        stored[key] = statistics.median(ratios)
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps(stored, indent=0, sort_keys=True))
    return LatencyTable(rows, shared, float(stored[key]))


def _final_size(plan: SupernetPlan, stem_size: Sequence[int]) -> tuple[int, int]:
    h, w = int(stem_size[0]), int(stem_size[1])
    for position in plan.positions:
        h, w = math.ceil(h / position.stride), math.ceil(w / position.stride)
    return h, w


# --- the search -------------------------------------------------------------------------------
@dataclass(frozen=True)
class DartsConfig:
    mode: str = "full"  # full | gumbel
    order: str = "first"  # first | second (unrolled)
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
    cost: str = "flops"  # flops | mac | latency
    cost_weight: float = 0.0
    max_skip: int | None = None  # collapse guard; default a third of the skippable positions
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
    ) -> None:
        self.plan = plan
        self.data = data
        self.device = device
        self.config = config
        self.on_epoch = on_epoch

    def run(self) -> DartsResult:
        config, device, data = self.config, self.device, self.data
        seed_everything(config.seed)
        generator = torch.Generator(device=device).manual_seed(config.seed)
        started = time.perf_counter()
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        model = Supernet(self.plan).to(device)
        if device.type == "cuda":
            model = model.to(memory_format=torch.channels_last)
        costs = op_costs(self.plan, config.cost, device) if config.cost_weight else []
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
        x_train, y_train = data.x_train.to(device), data.y_train.to(device)
        x_val, y_val = data.x_val.to(device), data.y_val.to(device)
        batch = min(config.batch_size, len(y_train), len(y_val))
        arch_batch = min(config.arch_batch_size or batch, len(y_val))
        steps = max(1, len(y_train) // batch)
        total = steps * config.epochs
        skippable = sum(1 for p in self.plan.positions if p.ops[-1].block == SKIP)
        max_skip = config.max_skip if config.max_skip is not None else max(1, skippable // 3)
        result = DartsResult(self.plan, [])
        cuda = device.type == "cuda"
        step = images = 0
        for epoch in range(config.epochs):
            model.train()
            order = torch.randperm(len(y_train), device=device, generator=generator)
            for i in range(steps):
                progress = step / max(1, total - 1)
                tau = (
                    config.tau_start * (config.tau_end / config.tau_start) ** progress
                    if config.mode == "gumbel"
                    else 1.0
                )
                for group in w_opt.param_groups:
                    group["lr"] = config.weight_lr * lr_factor(step, total, 0)
                val_idx = torch.randint(
                    0, len(y_val), (arch_batch,), device=device, generator=generator
                )
                xv, yv = x_val[val_idx], y_val[val_idx]
                idx = order[i * batch : (i + 1) * batch]
                memory_format = torch.channels_last if cuda else torch.contiguous_format
                xt = augment(x_train[idx], "auto", data.natural, generator).contiguous(
                    memory_format=memory_format
                )
                xv = xv.contiguous(memory_format=memory_format)
                yt = y_train[idx]

                def penalty() -> torch.Tensor:
                    if not cost_tensors:
                        return torch.zeros((), device=device)
                    expected = sum(
                        (p * c).sum()
                        for p, c in zip(model.probabilities(), cost_tensors, strict=True)
                    )
                    return config.cost_weight * expected / scale

                # α step on the validation split
                if epoch >= config.warmup_epochs:
                    a_opt.zero_grad(set_to_none=True)
                    if config.order == "second":
                        self._unrolled_arch_grad(model, weights, xt, yt, xv, yv, tau, w_opt)
                        if cost_tensors:
                            penalty().backward()
                    else:
                        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=cuda):
                            logits = model(xv, config.mode, tau)
                        (F.cross_entropy(logits.float(), yv) + penalty()).backward()
                    a_opt.step()
                # w step on the training split
                w_opt.zero_grad(set_to_none=True)
                with torch.autocast("cuda", dtype=torch.bfloat16, enabled=cuda):
                    logits = model(xt, config.mode, tau)
                loss = F.cross_entropy(logits.float(), yt)
                if not torch.isfinite(loss):
                    raise ArchsearchError(f"DARTS: the supernet's loss became {loss.item()}")
                loss.backward()
                nn.utils.clip_grad_norm_(weights, 5.0)
                w_opt.step()
                step += 1
                images += len(yt) + (len(yv) if epoch >= config.warmup_epochs else 0)
            with torch.no_grad():
                probabilities = model.probabilities()
            result.history.append([[round(float(v), 6) for v in p] for p in probabilities])
            result.entropy.append(round(_entropy(probabilities), 6))
            skips = sum(
                1
                for position, p in zip(self.plan.positions, probabilities, strict=True)
                if position.ops[int(p.argmax())].block == SKIP
            )
            result.skips.append(skips)
            result.probabilities = result.history[-1]
            if self.on_epoch is not None:
                self.on_epoch(epoch, result)
            if skips > max_skip:
                result.stopped = (
                    f"collapse guard (DARTS+): {skips} of {skippable} skippable"
                    f" positions chose skip after epoch {epoch + 1}, more than"
                    f" {max_skip}"
                )
                break
        result.seconds = time.perf_counter() - started
        result.images_per_s = images / max(result.seconds, 1e-9)
        result.costs = costs
        if cuda:
            result.peak_memory_bytes = int(torch.cuda.max_memory_allocated(device))
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


def default_hyperparameters(space: SearchSpace) -> dict[str, Any]:
    """One deterministic value per hyperparameter for retraining derived networks: the first
    choice, the middle of a linear range, the geometric middle of a log range."""
    values: dict[str, Any] = {}
    for name, dist in space.hyperparameters.items():
        if isinstance(dist, Fixed):
            continue
        if isinstance(dist, Categorical):
            values[name] = dist.choices[0]
        elif isinstance(dist, IntRange):
            values[name] = dist.low + ((dist.high - dist.low) // dist.step // 2) * dist.step
        elif isinstance(dist, FloatRange):
            values[name] = (
                math.sqrt(dist.low * dist.high) if dist.log else (dist.low + dist.high) / 2
            )
    return values


class DartsSearcher(BaseSearcher):
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
    ) -> None:
        self.space = space
        self.data = data
        self.device = device
        self.config = config
        self.log = log or (lambda _message: None)
        self.result: DartsResult | None = None

    def create_sampler(self, study_directions: Sequence[str]) -> optuna.samplers.BaseSampler:
        # every parameter of a DARTS trial is enqueued; the sampler only fills nothing
        return optuna.samplers.RandomSampler(seed=self.config.seed)

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

        result = DartsSearch(plan, self.data, self.device, self.config, on_epoch).run()
        self.result = result
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
            latency_table(plan, self.device)
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

        study.optimize(
            guarded(study, evaluate),
            n_trials=wanted,
            catch=(Exception,),
            callbacks=[lambda study, trial: self.after_trial(study, trial, callbacks)],
        )
