"""A candidate's static totals — params, flops, mac — for the search loop, counted block by
block with a per-process cache.

A search profiles hundreds of candidates drawn from one space, and they share most of their
blocks: the same block type, options and input shape recur from candidate to candidate (about
half of the blocks of a TPE search of the mobile space were seen before). Each
``(block, input shape)`` is counted once with the same operator table as :func:`profile_model`,
and every later candidate that holds it adds the cached figures. The totals equal
``profile_model``'s to the unit (tests); the per-layer table, peak memory and the guideline
findings need the whole network and stay with ``profile_model``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..architecture import BlockSpec, Head
from .counter import count
from .formulas import ELEMENTWISE_KINDS


@dataclass(frozen=True)
class StaticCosts:
    """``flops`` in multiply-adds of conv and linear layers; ``mac`` in elements read and
    written (ShuffleNetV2's memory access cost); ``unsupported``: operators not counted."""

    params: int = 0
    flops: int = 0
    mac: int = 0
    elementwise_mac: int = 0
    unsupported: tuple[str, ...] = ()

    def __add__(self, other: StaticCosts) -> StaticCosts:
        return StaticCosts(
            self.params + other.params,
            self.flops + other.flops,
            self.mac + other.mac,
            self.elementwise_mac + other.elementwise_mac,
            tuple(sorted({*self.unsupported, *other.unsupported})),
        )

    @property
    def elementwise_mac_share(self) -> float:
        """Share of the mac spent in element-wise operators (guideline G4)."""
        return self.elementwise_mac / max(self.mac, 1)


def static_costs(model: nn.Module, input_shape: tuple[int, int, int, int]) -> StaticCosts:
    """Params, flops and mac of ``model`` at ``input_shape`` (N, C, H, W), on meta stand-ins.

    A network from :func:`~archsearch.build_model` is counted block by block through the
    cache; any other module is counted whole.
    """
    arch = getattr(model, "arch", None)
    if arch is None:
        return _count(model, input_shape)
    batch, channels, height, width = input_shape
    total = StaticCosts()
    shapes = arch.infer_shapes(channels, (height, width))
    for shape in shapes:
        module = model.get_submodule(shape.location)
        total += _block_costs(shape.block, (batch, *shape.in_shape), module)
    head = model.get_submodule("head")
    return total + _head_costs(arch.head, (batch, *shapes[-1].out_shape), head)


#: (block or head, input shape, classes) → costs. A block's costs depend on its spec and input
#: shape alone, so the module itself is counted only the first time.
_CACHE: dict[tuple[BlockSpec | Head, tuple[int, ...], int], StaticCosts] = {}
_CACHE_LIMIT = 16384


def _block_costs(block: BlockSpec, shape: tuple[int, ...], module: nn.Module) -> StaticCosts:
    return _cached((block, shape, 0), module, shape)


def _head_costs(head: Head, shape: tuple[int, ...], module: nn.Module) -> StaticCosts:
    classes = int(module.get_submodule("fc").out_features)
    return _cached((head, shape, classes), module, shape)


def _cached(
    key: tuple[BlockSpec | Head, tuple[int, ...], int], module: nn.Module, shape: tuple[int, ...]
) -> StaticCosts:
    costs = _CACHE.get(key)
    if costs is None:
        if len(_CACHE) >= _CACHE_LIMIT:
            _CACHE.clear()
        costs = _CACHE[key] = _count(module, shape)
    return costs


def _count(module: nn.Module, shape: tuple[int, ...]) -> StaticCosts:
    counted = count(module, torch.empty(shape, device="meta"))
    mac = elementwise = flops = 0
    for record in counted.records:
        cost = record.cost
        flops += cost.flops
        mac += cost.reads + cost.writes
        if cost.kind in ELEMENTWISE_KINDS:
            elementwise += cost.reads + cost.writes
    params = sum(p.numel() for p in {id(p): p for p in module.parameters()}.values())
    return StaticCosts(params, flops, mac, elementwise, tuple(sorted(counted.unsupported)))
