"""The proxy registry: one name → zero-cost proxy table (the role of the block and formula
registries), and the one function that scores a candidate with any of them.

A proxy is a function ``(model, batch) -> float``: it gets its own copy of the candidate at
initialisation (so it may change it: synflow takes the weights' absolute values), in training
mode, and one batch of training images (labels only for the proxies that need them). Higher
is better for every proxy registered here, as in the papers. A proxy that raises or gives
inf/NaN is recorded as missing with the reason; it never stops the caller.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import torch
from torch import nn

from ..data import Dataset
from ..errors import ConfigError

DEFAULT_BATCH_SIZE = 64


@dataclass(frozen=True)
class ProxyBatch:
    """The images (N, C, H, W) a proxy looks at, and their labels."""

    inputs: torch.Tensor
    targets: torch.Tensor

    @property
    def input_shape(self) -> tuple[int, int, int, int]:
        n, c, h, w = self.inputs.shape
        return int(n), int(c), int(h), int(w)


ProxyFunction = Callable[[nn.Module, ProxyBatch], float]


@dataclass(frozen=True)
class Proxy:
    name: str
    compute: ProxyFunction
    needs_labels: bool
    reference: str  # the paper the definition follows
    baseline: bool = False  # params and flops: what every proxy must rank better than


PROXIES: dict[str, Proxy] = {}


def register_proxy(
    name: str, *, needs_labels: bool, reference: str, baseline: bool = False
) -> Callable[[ProxyFunction], ProxyFunction]:
    def register(compute: ProxyFunction) -> ProxyFunction:
        if name in PROXIES:
            raise ValueError(f"proxy '{name}' is registered twice")
        PROXIES[name] = Proxy(name, compute, needs_labels, reference, baseline)
        return compute

    return register


def proxy_names(*, baselines: bool = True) -> list[str]:
    """The registered proxies, the baselines (params, flops) last."""
    proxies = [name for name, proxy in PROXIES.items() if not proxy.baseline]
    return proxies + ([name for name, p in PROXIES.items() if p.baseline] if baselines else [])


def check_proxy_names(names: Iterable[str], field_name: str = "proxies") -> tuple[str, ...]:
    """The names, checked against the registry (a clear message naming the field otherwise)."""
    names = tuple(names)
    unknown = [name for name in names if name not in PROXIES]
    if unknown:
        raise ConfigError(
            field_name,
            f"unknown proxy {', '.join(map(repr, unknown))} (known: {', '.join(proxy_names())})",
        )
    if len(set(names)) != len(names):
        raise ConfigError(field_name, "a proxy is listed twice")
    return names


def proxy_batch(data: Dataset, size: int = DEFAULT_BATCH_SIZE, seed: int = 0) -> ProxyBatch:
    """``size`` training images drawn without replacement with ``seed``: the same batch for
    every candidate of a run, so their scores compare."""
    generator = torch.Generator().manual_seed(seed)
    count = len(data.y_train)
    index = torch.randperm(count, generator=generator)[: min(size, count)]
    return ProxyBatch(data.x_train[index].clone(), data.y_train[index].clone())


@dataclass
class ProxyScores:
    """Each proxy's value, or why it is missing, and what it cost."""

    values: dict[str, float] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)
    ms: dict[str, float] = field(default_factory=dict)

    def as_record(self) -> dict[str, dict[str, float] | dict[str, str]]:
        return {"values": self.values, "missing": self.missing, "ms": self.ms}


def score_candidate(
    model: nn.Module,
    batch: ProxyBatch,
    names: Iterable[str],
    seed: int = 0,
    device: torch.device | None = None,
) -> ProxyScores:
    """Every named proxy of ``model`` at initialisation, each on its own copy, seeded.

    ``model`` itself and torch's global random state are left as they were: a run with
    proxies trains exactly the networks a run without them trains.
    """
    device = device or torch.device("cpu")
    scores = ProxyScores()
    inputs, targets = batch.inputs.to(device), batch.targets.to(device)
    devices = [device] if device.type == "cuda" else []
    for name in names:
        proxy = PROXIES[name]
        started = time.perf_counter()
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            try:
                # the baselines only count; every other proxy runs (and may change) a copy
                candidate = model if proxy.baseline else copy.deepcopy(model).to(device).train()
                value = float(proxy.compute(candidate, ProxyBatch(inputs, targets)))
            except Exception as error:  # a proxy must never stop a search
                first = (str(error).strip().splitlines() or [""])[0]
                scores.missing[name] = f"{type(error).__name__}: {first}"[:300]
            else:
                if math.isfinite(value):
                    scores.values[name] = value
                else:
                    scores.missing[name] = f"not finite ({value})"
        scores.ms[name] = round((time.perf_counter() - started) * 1000, 3)
    return scores
