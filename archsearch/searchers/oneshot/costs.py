"""Op costs of a supernet plan: flops and mac from the static profile of each op at its
input shape, and the latency lookup table (ProxylessNAS/FBNet) measured on the device in
use, cached on disk per device, thread count and torch version."""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from ...blocks import create_block
from ...build import build_model
from ...profiler import QUICK_LATENCY, QUICK_OP_LATENCY, LatencyBackend
from .plan import SKIP, SupernetPlan
from .supernet import Supernet


def _cache_file(device: torch.device, backend: LatencyBackend = "torch") -> Path:
    root = Path(os.environ.get("ARCHSEARCH_CACHE", Path.home() / ".cache" / "archsearch"))
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    runtime = f"torch{torch.__version__}"
    if backend == "onnxruntime":
        from ...deploy import runtime_version

        runtime = f"onnxruntime{runtime_version()}"
    safe = "".join(c if c.isalnum() else "-" for c in f"{name}-{runtime}")
    return root / f"latency-{safe}-{torch.get_num_threads()}threads.json"


def op_costs(
    plan: SupernetPlan, cost: str, device: torch.device, backend: LatencyBackend = "torch"
) -> list[list[float]]:
    """Cost of every candidate op at its position's input shape (skip costs nothing): flops,
    mac, params, or latency in ``backend``'s runtime."""
    from ...profiler import measure_latency, static_costs

    table: dict[str, float] = {}
    cache = _cache_file(device, backend) if cost == "latency" else None
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
                        module,
                        shape,
                        device=device,
                        backend=backend,
                        **QUICK_OP_LATENCY.as_kwargs(),
                    ).median_ms
                row.append(table[key])
            else:
                result = static_costs(module, shape)
                row.append(float(getattr(result, cost)))  # flops, mac or params
        out.append(row)
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps(table, indent=0, sort_keys=True))
    return out


def additive_costs(
    plan: SupernetPlan, cost: str, device: torch.device, backend: LatencyBackend = "torch"
) -> tuple[list[list[float]], float]:
    """A network of ``plan`` costs ``shared + Σ rows[i][choice[i]]`` in ``cost`` (flops, mac,
    params: exact, as every position's input shape is fixed; latency: the calibrated lookup
    table's prediction). ``shared`` is the stem and head, counted once on a whole network."""
    if cost == "latency":
        table = latency_table(plan, device, backend=backend)
        rows = [[table.calibration * value for value in row] for row in table.rows]
        return rows, table.calibration * table.shared_ms
    from ...profiler import architecture_costs

    rows = op_costs(plan, cost, device, backend)
    first = [0] * len(plan.positions)
    shape = (1, plan.in_channels, *plan.input_size)
    whole = architecture_costs(plan.architecture(first), shape, plan.num_classes)
    return rows, float(getattr(whole, cost)) - sum(row[0] for row in rows)


def fixed_latency_ms(
    plan: SupernetPlan, device: torch.device, backend: LatencyBackend = "torch"
) -> float:
    """Stem and head: the parts every derived network shares, measured once."""
    from ...profiler import measure_latency

    model = Supernet(plan).eval()
    shape = (1, plan.in_channels, *plan.input_size)
    with torch.no_grad():
        features = model.stem(torch.zeros(shape))
    stem_ms = measure_latency(
        model.stem, shape, device=device, backend=backend, **QUICK_OP_LATENCY.as_kwargs()
    ).median_ms
    last = plan.positions[-1] if plan.positions else None
    channels = last.out_channels if last else features.shape[1]
    head_shape = (1, channels, *_final_size(plan, features.shape[2:]))
    head_ms = measure_latency(
        model.head, head_shape, device=device, backend=backend, **QUICK_OP_LATENCY.as_kwargs()
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
    plan: SupernetPlan,
    device: torch.device,
    networks: int = 4,
    seed: int = 0,
    backend: LatencyBackend = "torch",
) -> LatencyTable:
    """The op table of ``plan`` on ``device`` in ``backend``'s runtime, calibrated on
    ``networks`` random networks (cached with the table, per plan and runtime)."""
    from ...profiler import measure_latency

    rows = op_costs(plan, "latency", device, backend)
    shared = fixed_latency_ms(plan, device, backend)
    cache = _cache_file(device, backend)
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
                model, shape, device=device, backend=backend, **QUICK_LATENCY.as_kwargs()
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
