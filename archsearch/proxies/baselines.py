"""The baselines every proxy is compared with: the parameter count and the flops (multiply-
adds of conv and linear layers) of the static profiler. On NAS-Bench-201 these rank about as
well as most proxies (Abdelfattah et al. 2021; NAS-Bench-Suite-Zero 2022)."""

from __future__ import annotations

from torch import nn

from ..profiler import static_costs
from .registry import ProxyBatch, register_proxy


@register_proxy("params", needs_labels=False, reference="baseline", baseline=True)
def params(model: nn.Module, batch: ProxyBatch) -> float:
    return float(sum(p.numel() for p in model.parameters()))


@register_proxy("flops", needs_labels=False, reference="baseline", baseline=True)
def flops(model: nn.Module, batch: ProxyBatch) -> float:
    _, channels, height, width = batch.input_shape
    return float(static_costs(model, (1, channels, height, width)).flops)
