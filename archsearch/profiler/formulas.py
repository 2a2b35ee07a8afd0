"""THE operator table of the profiler: each ATen operator → its kind and its cost formula.

One table, one source of truth (the role of ``torch.utils.flop_counter``'s registry and
fvcore's handles). A formula sees only shapes and arguments, so it works on the meta device.

Units, for every formula:

- ``flops``: multiply-adds of convolution and linear layers; one multiply-add counts once
  (the ResNet/MobileNet/ShuffleNet papers' convention and fvcore's; torch's FlopCounterMode
  counts 2). A bias add is not counted, as in fvcore.
- ``flops_other``: the arithmetic of every other operator: one per output element for
  activations and element-wise ops; two per element for an inference batch norm (scale and
  shift); one per window element for pooling; one per input element for a global mean.
- ``reads`` / ``writes``: memory access cost (MAC) in elements as ShuffleNetV2 (Ma et al.,
  ECCV 2018, Sec. 2) defines it: every element an operator reads (inputs and weights) and
  writes, with no fusion assumed. A 1x1 conv reads hw·c1 + c1·c2 and writes hw·c2.
  Views (reshape, transpose, split) move no data and cost nothing; copies cost in + out.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

aten = torch.ops.aten

# operator kinds, in the order reports show them
KINDS = (
    "conv",
    "depthwise conv",
    "group conv",
    "linear",
    "norm",
    "activation",
    "elementwise add",
    "elementwise mul",
    "concat",
    "channel shuffle",
    "pooling",
    "reshape/copy",
)
ELEMENTWISE_KINDS = ("norm", "activation", "elementwise add", "elementwise mul")


@dataclass(frozen=True)
class OpCost:
    kind: str
    flops: int = 0
    flops_other: int = 0
    reads: int = 0
    writes: int = 0
    kernel: tuple[int, ...] = ()  # conv and pooling window
    groups: int = 1

    @property
    def detail(self) -> str:
        window = f"k={'x'.join(map(str, self.kernel))}" if self.kernel else ""
        return f"{window} g={self.groups}" if self.groups > 1 else window


Formula = Callable[[Sequence[Any], dict[str, Any], Any], OpCost]


def _numel(x: Any) -> int:
    return x.numel() if isinstance(x, torch.Tensor) else 0


def _tensors(values: Any) -> list[torch.Tensor]:
    if isinstance(values, torch.Tensor):
        return [values]
    if isinstance(values, (list, tuple)):
        return [t for v in values for t in _tensors(v)]
    return []


def _first(out: Any) -> torch.Tensor:
    return out if isinstance(out, torch.Tensor) else _tensors(out)[0]


def conv_cost(args: Sequence[Any], kwargs: dict[str, Any], out: Any) -> OpCost:
    x, weight, bias = args[0], args[1], args[2]
    groups = args[8] if len(args) > 8 else kwargs.get("groups", 1)
    y = _first(out)
    in_per_group, kernel_area = weight.shape[1], math.prod(weight.shape[2:])
    # each output element: (c_in / groups) * kh * kw multiply-adds
    flops = y.numel() * in_per_group * kernel_area
    in_channels = x.shape[1]
    if groups > 1 and groups == in_channels:
        kind = "depthwise conv"
    elif groups > 1:
        kind = "group conv"
    else:
        kind = "conv"
    reads = x.numel() + weight.numel() + _numel(bias)
    return OpCost(kind, flops, 0, reads, y.numel(), tuple(weight.shape[2:]), groups)


def addmm_cost(args: Sequence[Any], kwargs: dict[str, Any], out: Any) -> OpCost:
    bias, a, b = args[0], args[1], args[2]
    # (n, k) @ (k, m): n*k*m multiply-adds
    flops = a.shape[0] * a.shape[1] * b.shape[1]
    return OpCost("linear", flops, 0, _numel(bias) + a.numel() + b.numel(), _first(out).numel())


def mm_cost(args: Sequence[Any], kwargs: dict[str, Any], out: Any) -> OpCost:
    a, b = args[0], args[1]
    y = _first(out)
    flops = y.numel() * a.shape[-1]
    return OpCost("linear", flops, 0, a.numel() + b.numel(), y.numel())


def batch_norm_cost(args: Sequence[Any], kwargs: dict[str, Any], out: Any) -> OpCost:
    x = args[0]
    stats = sum(_numel(t) for t in args[1:5])  # weight, bias, running mean, running var
    return OpCost("norm", 0, 2 * x.numel(), x.numel() + stats, _first(out).numel())


def elementwise(kind: str) -> Formula:
    """One op per output element; reads every tensor input (broadcast inputs read once)."""

    def cost(args: Sequence[Any], kwargs: dict[str, Any], out: Any) -> OpCost:
        y = _first(out)
        reads = sum(t.numel() for t in _tensors(list(args)))
        return OpCost(kind, 0, y.numel(), reads, y.numel())

    return cost


def concat_cost(args: Sequence[Any], kwargs: dict[str, Any], out: Any) -> OpCost:
    y = _first(out)
    return OpCost("concat", 0, 0, sum(t.numel() for t in _tensors(args[0])), y.numel())


def copy_cost(args: Sequence[Any], kwargs: dict[str, Any], out: Any) -> OpCost:
    x, y = args[0], _first(out)
    return OpCost("reshape/copy", 0, 0, _numel(x), y.numel())


def pool_cost(args: Sequence[Any], kwargs: dict[str, Any], out: Any) -> OpCost:
    x, y = args[0], _first(out)
    kernel = args[1] if len(args) > 1 else kwargs["kernel_size"]
    sizes = list(kernel) if isinstance(kernel, (list, tuple)) else [kernel]
    window = tuple(sizes * 2 if len(sizes) == 1 else sizes)
    # one compare (max) or add (average) per window element of every output
    return OpCost("pooling", 0, y.numel() * math.prod(window), x.numel(), y.numel(), window)


def adaptive_pool_cost(args: Sequence[Any], kwargs: dict[str, Any], out: Any) -> OpCost:
    x, y = args[0], _first(out)
    # every input element is summed (or compared) into exactly one output window
    return OpCost("pooling", 0, x.numel(), x.numel(), y.numel())


def view_cost(args: Sequence[Any], kwargs: dict[str, Any], out: Any) -> OpCost:
    return OpCost("reshape/copy")


_ACTIVATIONS = (
    "relu",
    "relu_",
    "hardtanh",
    "hardtanh_",
    "hardswish",
    "hardswish_",
    "silu",
    "silu_",
    "gelu",
    "gelu_",
    "sigmoid",
    "sigmoid_",
    "hardsigmoid",
    "hardsigmoid_",
    "leaky_relu",
    "leaky_relu_",
    "tanh",
    "tanh_",
    "clamp",
    "clamp_",
    "clamp_min",
    "clamp_min_",
    "elu",
    "elu_",
)
_ADDS = ("add", "add_", "sub", "sub_")
_MULS = ("mul", "mul_", "div", "div_")
_VIEWS = (
    "view",
    "_unsafe_view",
    "reshape",
    "t",
    "transpose",
    "permute",
    "expand",
    "split",
    "split_with_sizes",
    "chunk",
    "slice",
    "select",
    "squeeze",
    "unsqueeze",
    "flatten",
    "alias",
    "detach",
    "unbind",
    "as_strided",
    "narrow",
    "unflatten",
    "empty",
    "empty_like",
    "_reshape_alias",
)

OP_TABLE: dict[Any, Formula] = {
    aten.convolution: conv_cost,
    aten._convolution: conv_cost,
    aten.addmm: addmm_cost,
    aten.mm: mm_cost,
    aten.bmm: mm_cost,
    aten.native_batch_norm: batch_norm_cost,
    aten._native_batch_norm_legit_no_training: batch_norm_cost,
    aten.cat: concat_cost,
    aten.clone: copy_cost,
    aten._to_copy: copy_cost,
    aten.max_pool2d_with_indices: pool_cost,
    aten.max_pool2d: pool_cost,
    aten.avg_pool2d: pool_cost,
    aten._adaptive_avg_pool2d: adaptive_pool_cost,
    aten.adaptive_max_pool2d: adaptive_pool_cost,
    aten.mean: adaptive_pool_cost,
    **{getattr(aten, name): elementwise("activation") for name in _ACTIVATIONS},
    **{getattr(aten, name): elementwise("elementwise add") for name in _ADDS},
    **{getattr(aten, name): elementwise("elementwise mul") for name in _MULS},
    **{getattr(aten, name): view_cost for name in _VIEWS},
}
#: ops whose outputs alias their inputs (no new memory): views and in-place ops
ALIASING = frozenset(
    [getattr(aten, name) for name in _VIEWS if not name.startswith("empty")]
    + [getattr(aten, name) for name in (*_ACTIVATIONS, *_ADDS, *_MULS) if name.endswith("_")]
)


def formula_for(func: Any) -> Formula | None:
    """The formula for an ATen overload (looked up by its overload packet), or None."""
    return OP_TABLE.get(getattr(func, "overloadpacket", func))
