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

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from ..architecture import Architecture, BlockSpec, Head
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
    classes = int(model.get_submodule("head.fc").out_features)
    return _totals(arch, input_shape, classes, model.get_submodule)


def architecture_costs(
    arch: Architecture, input_shape: tuple[int, int, int, int], num_classes: int
) -> StaticCosts:
    """The totals of :func:`static_costs` straight from an Architecture, without building the
    network: shapes propagate block by block (:meth:`Architecture.infer_shapes`, which also
    validates) and each (block, input shape) not in the cache is built alone on the meta
    device and counted once. For the one-shot searchers, which cost thousands of candidates
    (about 3,000 a second once their blocks are cached: benchmarks/RESULTS.md)."""
    from ..blocks import create_block
    from ..build import ClassifierHead

    def build(location: str) -> nn.Module:
        with torch.device("meta"):
            if location == "head":
                return ClassifierHead(arch.head, last_channels, num_classes)
            shape = by_location[location]
            block = shape.block
            return create_block(
                block.type, shape.in_shape[0], shape.out_shape[0], block.stride, **block.kwargs
            )

    shapes = arch.infer_shapes(input_shape[1], (input_shape[2], input_shape[3]))
    by_location = {shape.location: shape for shape in shapes}
    last_channels = shapes[-1].out_shape[0]
    return _totals(arch, input_shape, num_classes, build, shapes)


def _totals(
    arch: Architecture,
    input_shape: tuple[int, int, int, int],
    num_classes: int,
    module_at: Callable[[str], nn.Module],
    shapes: list | None = None,
) -> StaticCosts:
    """Sum the cached costs of ``arch``'s blocks and head; ``module_at(location)`` gives the
    module to count on a cache miss (``head`` for the head)."""
    batch, channels, height, width = input_shape
    if shapes is None:
        shapes = arch.infer_shapes(channels, (height, width))
    params = flops = mac = elementwise = 0
    unsupported: set[str] = set()
    keys: list[tuple[BlockSpec | Head, tuple[int, ...], int, str]] = [
        (shape.block, (batch, *shape.in_shape), 0, shape.location) for shape in shapes
    ]
    keys.append((arch.head, (batch, *shapes[-1].out_shape), num_classes, "head"))
    for block, shape, classes, location in keys:
        key = (block, shape, classes)
        costs = _CACHE.get(key)
        if costs is None:
            if len(_CACHE) >= _CACHE_LIMIT:
                _CACHE.clear()
            costs = _CACHE[key] = _count(module_at(location), shape)
        params += costs.params
        flops += costs.flops
        mac += costs.mac
        elementwise += costs.elementwise_mac
        unsupported.update(costs.unsupported)
    return StaticCosts(params, flops, mac, elementwise, tuple(sorted(unsupported)))


#: (block or head, input shape, classes) → costs. A block's costs depend on its spec and input
#: shape alone, so the module itself is counted only the first time.
_CACHE: dict[tuple[BlockSpec | Head, tuple[int, ...], int], StaticCosts] = {}
_CACHE_LIMIT = 16384


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
