"""``ProfileResult``: totals, the per-layer table and its views, findings, JSON."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from .formulas import ELEMENTWISE_KINDS, KINDS
from .guidelines import BlockFragments, Finding
from .latency import LatencyResult

UNITS = {
    "flops": "multiply-adds of conv and linear layers (1 multiply-add = 1, as fvcore and the"
    " ResNet/MobileNet/ShuffleNet papers)",
    "flops_other": "arithmetic of other operators: 1 per element (activations, element-wise),"
    " 2 per element (inference batch norm), 1 per window element (pooling)",
    "flops_all": "flops + flops_other",
    "mac": "memory access cost in elements (ShuffleNetV2): elements read (inputs and weights)"
    " plus elements written, per operator, no fusion",
    "mac_bytes": "mac x bytes per element of the dtype",
    "peak_activation_bytes": "largest total of live activation tensors during the forward pass",
    "params": "parameters (weights), trainable and not",
}
LAYER_COLUMNS = [
    "module",
    "module_type",
    "block",
    "op",
    "kind",
    "flops",
    "flops_other",
    "mac",
    "reads",
    "writes",
    "in_shape",
    "out_shape",
    "detail",
]


@dataclass
class ProfileResult:
    """Static profile of one network at one input shape (plus latency when measured).

    Units: ``flops`` are multiply-adds of convolution and linear layers (one multiply-add
    counts once: the papers' and fvcore's convention); ``mac`` is ShuffleNetV2's memory access
    cost in elements (``mac_bytes`` in bytes). See :data:`UNITS`.
    """

    input_shape: tuple[int, ...]
    dtype: str
    params: int
    trainable_params: int
    flops: int
    flops_other: int
    mac: int
    mac_bytes: int
    peak_activation_bytes: int
    layers: pd.DataFrame
    unsupported_ops: Counter[str]
    blocks: list[BlockFragments]
    findings: list[Finding]
    latency: LatencyResult | None = None
    latency_sweep: list[LatencyResult] = field(default_factory=list)  # batch x backend
    time_shares: dict[str, float] = field(default_factory=dict)

    @property
    def flops_all(self) -> int:
        return self.flops + self.flops_other

    def by_operator(self) -> pd.DataFrame:
        """Totals per operator kind (conv, depthwise conv, ..., reshape/copy), with shares."""
        table = self.layers.groupby("kind").agg(
            ops=("op", "size"),
            flops=("flops", "sum"),
            flops_other=("flops_other", "sum"),
            mac=("mac", "sum"),
        )
        table = table.reindex([k for k in KINDS if k in table.index])
        table["mac_share"] = table["mac"] / max(self.mac, 1)
        if self.time_shares:
            table["time_share"] = [self.time_shares.get(k, 0.0) for k in table.index]
        return table

    def by_module(self, depth: int | None = None) -> pd.DataFrame:
        """Totals per module path, cut to ``depth`` dotted levels (None: the innermost)."""
        layers = self.layers
        key = (
            layers["module"]
            if depth is None
            else layers["module"].map(lambda m: ".".join(m.split(".")[:depth]))
        )
        table = (
            layers.assign(path=key)
            .groupby("path", sort=False)
            .agg(
                module_type=("module_type", "first"),
                ops=("op", "size"),
                flops=("flops", "sum"),
                flops_other=("flops_other", "sum"),
                mac=("mac", "sum"),
                out_shape=("out_shape", "last"),
            )
        )
        return table

    def summary(self) -> dict[str, float]:
        """Per-network figures usable as search objectives."""
        layers = self.layers
        elementwise = float(layers.loc[layers["kind"].isin(ELEMENTWISE_KINDS), "mac"].sum())
        out = {
            "mac_per_flop": self.mac / max(self.flops, 1),
            "elementwise_mac_share": elementwise / max(self.mac, 1),
            "max_parallel_branches": float(max((b.parallel for b in self.blocks), default=0)),
            "max_serial_fragments": float(max((b.serial for b in self.blocks), default=0)),
            "findings": float(len(self.findings)),
        }
        if self.time_shares:
            out["elementwise_time_share"] = sum(
                self.time_shares.get(k, 0.0) for k in ELEMENTWISE_KINDS
            )
        return out

    def to_dict(self, per_layer: bool = False) -> dict[str, Any]:
        data: dict[str, Any] = {
            "units": UNITS,
            "input_shape": list(self.input_shape),
            "dtype": self.dtype,
            "params": self.params,
            "trainable_params": self.trainable_params,
            "flops": self.flops,
            "flops_other": self.flops_other,
            "flops_all": self.flops_all,
            "mac": self.mac,
            "mac_bytes": self.mac_bytes,
            "peak_activation_bytes": self.peak_activation_bytes,
            "by_operator": {
                kind: {k: (float(v) if k.endswith("share") else int(v)) for k, v in row.items()}
                for kind, row in self.by_operator().iterrows()
            },
            "summary": self.summary(),
            "findings": [f.to_dict() for f in self.findings],
            "unsupported_ops": dict(self.unsupported_ops),
        }
        if self.latency is not None:
            data["latency_ms"] = self.latency.median_ms
            data["latency_p90_ms"] = self.latency.p90_ms
            data["latency_cv"] = self.latency.cv
            data["latency"] = self.latency.to_dict()
            data["latency_sweep"] = [r.to_dict() for r in self.latency_sweep]
        if per_layer:
            data["layers"] = self.layers.astype({"in_shape": str, "out_shape": str}).to_dict(
                orient="records"
            )
        return data

    def to_csv(self, path: str) -> None:
        """The per-layer table; the header row names the units of flops and mac."""
        self.layers.rename(
            columns={
                "flops": "flops (multiply-adds)",
                "mac": "mac (elements)",
            }
        ).to_csv(path, index=False)
