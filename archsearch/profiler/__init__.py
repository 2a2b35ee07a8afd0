"""The profiler: params, FLOPs, memory access cost (MAC), peak activation memory, measured
latency, and ShuffleNetV2 guideline diagnostics, per layer and in total.

Two entry points over the same operator table (``formulas.py``), both on the meta device (no
weights, no data, nothing allocated):

- :func:`profile_model`: the whole profile (per layer, per operator kind, peak memory,
  guideline findings, optionally latency), for ``archsearch profile``, export and reports;
- :func:`static_costs`: the totals only (params, flops, mac), cached block by block, for the
  search loop, which profiles hundreds of candidates, and :func:`architecture_costs`, the
  same totals straight from an Architecture (no network built) for the one-shot searchers,
  which cost thousands. Their totals equal ``profile_model``'s.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import pandas as pd
import torch
from torch import nn

from ..architecture import Architecture
from ..build import build_model
from .counter import count
from .formulas import ELEMENTWISE_KINDS, KINDS, OP_TABLE, OpCost
from .guidelines import Finding, Thresholds, diagnose, fragments_by_block
from .latency import (
    DTYPES,
    LATENCY_BACKENDS,
    QUICK_LATENCY,
    QUICK_OP_LATENCY,
    LatencyBackend,
    LatencyPreset,
    LatencyResult,
    measure_latency,
    parse_batches,
    parse_latency_backends,
    resolve_device,
    time_by_kind,
)
from .result import LAYER_COLUMNS, UNITS, ProfileResult
from .static import StaticCosts, architecture_costs, static_costs


def profile_model(
    model_or_architecture: nn.Module | Architecture,
    input_shape: tuple[int, ...] = (1, 3, 224, 224),
    *,
    num_classes: int = 1000,
    dtype: str = "float32",
    latency: bool = False,
    device: str = "auto",
    threads: int | None = None,
    train: bool = False,
    thresholds: Thresholds | None = None,
    latency_backends: Sequence[LatencyBackend] = ("torch",),
    batches: Sequence[int] | None = None,
) -> ProfileResult:
    """Profile a network at ``input_shape`` (N, C, H, W).

    Args:
        model_or_architecture: an ``nn.Module`` (its weights are never touched: meta
            stand-ins are used) or an :class:`~archsearch.Architecture` (built on the meta
            device with ``num_classes`` outputs).
        input_shape: batch, channels, height, width.
        latency: also measure latency on ``device`` (``auto``: CUDA when present), with
            ``threads`` CPU threads, in inference (or ``train``) mode; this builds real weights.
            Each of ``latency_backends`` (``torch``, ``onnxruntime``) at each of ``batches``
            (default: the input's N) goes into ``latency_sweep``; ``latency`` is the first.
        thresholds: when a guideline finding fires.

    Returns:
        A :class:`ProfileResult`: ``flops`` in multiply-adds, ``mac`` in elements.

    Example:
        >>> import archsearch
        >>> from archsearch.profiler import profile_model
        >>> result = profile_model(archsearch.zoo.get("resnet50"), (1, 3, 224, 224))
        >>> result.flops
        4089184256
    """
    from ..errors import ArchsearchError

    if len(input_shape) != 4 or any(int(s) < 1 for s in input_shape):
        raise ArchsearchError(
            f"input shape {input_shape}: expected 4 positive sizes N x C x H x W"
        )
    if dtype not in DTYPES:
        raise ArchsearchError(f"dtype '{dtype}': expected one of {', '.join(DTYPES)}")
    arch = model_or_architecture if isinstance(model_or_architecture, Architecture) else None
    if arch is not None:
        arch.infer_shapes(input_shape[1], (input_shape[2], input_shape[3]))
        with torch.device("meta"):
            model = build_model(arch, num_classes, input_shape[1])
    else:
        model = model_or_architecture  # type: ignore[assignment]
    example = torch.empty(input_shape, dtype=DTYPES[dtype], device="meta")
    counted = count(model, example)
    if counted.unsupported:
        warnings.warn(
            "operators not counted (their cost is missing from the totals): "
            + ", ".join(f"{op} x{n}" for op, n in counted.unsupported.items()),
            stacklevel=2,
        )
    layers = pd.DataFrame(
        [
            {
                "module": r.module,
                "module_type": r.module_type,
                "block": r.block,
                "op": r.op,
                "kind": r.cost.kind,
                "flops": r.cost.flops,
                "flops_other": r.cost.flops_other,
                "mac": r.cost.reads + r.cost.writes,
                "reads": r.cost.reads,
                "writes": r.cost.writes,
                "in_shape": r.in_shape,
                "out_shape": r.out_shape,
                "detail": r.cost.detail,
            }
            for r in counted.records
        ],
        columns=LAYER_COLUMNS,
    )
    params = list({id(p): p for p in model.parameters()}.values())
    element_bytes = torch.empty((), dtype=DTYPES[dtype]).element_size()
    mac = int(layers["mac"].sum())
    block_types = {name: type(m).__name__ for name, m in model.named_modules()}
    blocks = fragments_by_block(counted.records, block_types)
    elementwise = float(layers.loc[layers["kind"].isin(ELEMENTWISE_KINDS), "mac"].sum())
    result = ProfileResult(
        input_shape=tuple(int(s) for s in input_shape),
        dtype=dtype,
        params=sum(p.numel() for p in params),
        trainable_params=sum(p.numel() for p in params if p.requires_grad),
        flops=int(layers["flops"].sum()),
        flops_other=int(layers["flops_other"].sum()),
        mac=mac,
        mac_bytes=mac * element_bytes,
        peak_activation_bytes=counted.peak_activation_bytes,
        layers=layers,
        unsupported_ops=counted.unsupported,
        blocks=blocks,
        findings=diagnose(counted.records, blocks, elementwise / max(mac, 1), thresholds),
    )
    if latency:
        real = build_model(arch, num_classes, input_shape[1]) if arch is not None else model
        for batch in batches or (input_shape[0],):
            for backend in latency_backends:
                result.latency_sweep.append(
                    measure_latency(
                        real,
                        (int(batch), *input_shape[1:]),
                        device=device,
                        dtype=dtype,
                        threads=threads,
                        train=train,
                        backend=backend,
                    )
                )
        result.latency = result.latency_sweep[0]
        if "torch" in latency_backends:
            result.time_shares = time_by_kind(real, input_shape, device, threads)
    return result


def parse_input_shape(text: str) -> tuple[int, int, int, int]:
    """``1x3x224x224`` → (1, 3, 224, 224)."""
    from ..errors import ConfigError

    try:
        shape = tuple(int(part) for part in text.lower().split("x"))
    except ValueError:
        shape = ()
    if len(shape) != 4 or min(shape) < 1:
        raise ConfigError("input", f"'{text}': expected N x C x H x W, e.g. 1x3x224x224")
    return shape  # type: ignore[return-value]


__all__ = [
    "DTYPES",
    "ELEMENTWISE_KINDS",
    "KINDS",
    "LATENCY_BACKENDS",
    "OP_TABLE",
    "QUICK_LATENCY",
    "QUICK_OP_LATENCY",
    "UNITS",
    "Finding",
    "LatencyBackend",
    "LatencyPreset",
    "LatencyResult",
    "OpCost",
    "ProfileResult",
    "StaticCosts",
    "Thresholds",
    "architecture_costs",
    "measure_latency",
    "parse_batches",
    "parse_input_shape",
    "parse_latency_backends",
    "profile_model",
    "resolve_device",
    "static_costs",
    "time_by_kind",
]
