"""Counting pass: run a model once under a dispatch mode and cost every ATen operator.

Runs on PyTorch's meta device, so no weight or activation memory is allocated: a user's module
is called through ``torch.func.functional_call`` with meta stand-ins for its parameters and
buffers. Each operator is attributed to the innermost module running it (forward hooks), and
to the nearest enclosing registered block; a dataflow id per tensor lets the guideline
diagnostics count parallel branches.
"""

from __future__ import annotations

import dataclasses
import time
import weakref
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

from ..blocks.helpers import ChannelShuffle
from ..blocks.registry import Block
from .formulas import ALIASING, OpCost, _tensors, aten, formula_for


@dataclass
class OpRecord:
    """One operator call: where it ran, what it cost, and which dataflow nodes it joined."""

    index: int
    module: str
    module_type: str
    block: str
    op: str
    cost: OpCost
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    seconds: float = 0.0  # measured own time (timed runs only)


@dataclass
class CountResult:
    records: list[OpRecord] = field(default_factory=list)
    unsupported: Counter[str] = field(default_factory=Counter)
    peak_activation_bytes: int = 0
    input_node: int = 0


class _Counter(TorchDispatchMode):
    def __init__(
        self,
        module_types: dict[str, str],
        blocks: set[str],
        timed: bool = False,
        device: torch.device | None = None,
    ) -> None:
        super().__init__()
        self.timed = timed
        self.meta = device is not None and device.type == "meta"
        self.sync = timed and device is not None and device.type == "cuda"
        self.stack: list[str] = [""]
        self.module_types = module_types
        self.blocks = blocks
        self.result = CountResult()
        # dataflow node of each live tensor, by id (tensors compare element-wise, so they
        # cannot be dictionary keys); an entry leaves with its tensor
        self.node_of: dict[int, int] = {}
        self.param_ids: set[int] = set()
        self.next_node = 1
        self.live_bytes = 0

    # --- dataflow and memory ------------------------------------------------------------
    def node(self, tensor: torch.Tensor) -> int:
        if id(tensor) not in self.node_of:
            self.set_node(tensor, self.fresh())
        return self.node_of[id(tensor)]

    def set_node(self, tensor: torch.Tensor, node: int) -> None:
        if id(tensor) not in self.node_of:
            weakref.finalize(tensor, self.node_of.pop, id(tensor), None)
        self.node_of[id(tensor)] = node

    def mark_param(self, tensor: torch.Tensor) -> None:
        self.param_ids.add(id(tensor))
        weakref.finalize(tensor, self.param_ids.discard, id(tensor))

    def fresh(self) -> int:
        self.next_node += 1
        return self.next_node - 1

    def allocate(self, tensor: torch.Tensor) -> None:
        size = tensor.numel() * tensor.element_size()
        self.live_bytes += size
        self.result.peak_activation_bytes = max(self.result.peak_activation_bytes, self.live_bytes)
        weakref.finalize(tensor, self.release, size)

    def release(self, size: int) -> None:
        self.live_bytes -= size

    # --- dispatch ----------------------------------------------------------------------
    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        if self.timed:
            if self.sync:
                torch.cuda.synchronize()
            start = time.perf_counter()
            out = func(*args, **kwargs)
            if self.sync:
                torch.cuda.synchronize()
            seconds = time.perf_counter() - start
        else:
            shortcut = _META_SHORTCUTS.get(func.overloadpacket) if self.meta else None
            out = shortcut(args) if shortcut is not None else None
            if out is None:
                out = func(*args, **kwargs)
            seconds = 0.0
        formula = formula_for(func)
        name = str(func.overloadpacket.__name__)
        if formula is None:
            self.result.unsupported[f"aten::{name}"] += 1
            return out
        cost = formula(args, kwargs, out)
        arg_tensors = _tensors(list(args))
        inputs = tuple(self.node(t) for t in arg_tensors if id(t) not in self.param_ids)
        aliasing = func.overloadpacket in ALIASING
        if aliasing and arg_tensors and id(arg_tensors[0]) in self.param_ids:
            for tensor in _tensors(out):  # a view of a weight (the transpose in linear)
                self.mark_param(tensor)
            return out
        outputs = []
        for tensor in _tensors(out):
            if aliasing and inputs:
                self.set_node(tensor, inputs[0])
            else:
                self.set_node(tensor, self.fresh())
                self.allocate(tensor)
            outputs.append(self.node_of[id(tensor)])
        if cost.kind == "reshape/copy" and not cost.reads:
            return out  # a pure view: metadata only, nothing to report
        module = self.stack[-1]
        if self.module_types.get(module) == ChannelShuffle.__name__:
            cost = dataclasses.replace(cost, kind="channel shuffle")
        block = next((m for m in reversed(self.stack) if m in self.blocks), "")
        self.result.records.append(
            OpRecord(
                index=len(self.result.records),
                module=module,
                module_type=self.module_types.get(module, ""),
                block=block,
                op=f"aten::{name}",
                cost=cost,
                in_shape=tuple(arg_tensors[0].shape) if arg_tensors else (),
                out_shape=tuple(_first_shape(out)),
                inputs=inputs,
                outputs=tuple(outputs),
                seconds=seconds,
            )
        )
        return out


def _batch_norm_shape(args: Any) -> Any:
    x = args[0]
    return torch.empty_like(x), x.new_empty((0,)), x.new_empty((0,))


def _broadcast_shape(args: Any) -> Any:
    a, b = args[0], args[1]
    if not (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)):
        return None
    shape = torch.broadcast_shapes(a.shape, b.shape)
    return torch.empty(shape, dtype=torch.result_type(a, b), device="meta")


def _conv_shape(args: Any) -> Any:
    x, weight, _bias, stride, padding, dilation, transposed = args[:7]
    if transposed:
        return None
    spatial = [
        (size + 2 * pad - dil * (k - 1) - 1) // st + 1
        for size, k, st, pad, dil in zip(
            x.shape[2:], weight.shape[2:], stride, padding, dilation, strict=True
        )
    ]
    return x.new_empty((x.shape[0], weight.shape[0], *spatial))


# Output shapes of the most frequent operators, computed directly: PyTorch's meta kernels
# for these run Python decompositions that dominate the counting time. Used on meta only.
_META_SHORTCUTS: dict[Any, Any] = {
    aten.convolution: _conv_shape,
    aten.native_batch_norm: _batch_norm_shape,
    aten._native_batch_norm_legit_no_training: _batch_norm_shape,
    **{
        getattr(aten, name): (lambda args: args[0])
        for name in ("relu_", "hardtanh_", "hardswish_", "silu_", "leaky_relu_", "hardsigmoid_")
    },
    aten.add: _broadcast_shape,
    aten.mul: _broadcast_shape,
    **{
        getattr(aten, name): (lambda args: torch.empty_like(args[0]))
        for name in ("relu", "hardtanh", "hardswish", "silu", "sigmoid", "hardsigmoid", "gelu")
    },
}


def _first_shape(out: Any) -> torch.Size:
    tensors = _tensors(out)
    return tensors[0].shape if tensors else torch.Size()


def count(model: nn.Module, example: torch.Tensor, *, timed_runs: int = 0) -> CountResult:
    """Cost every operator of ``model(example)`` in eval mode.

    By default on the meta device: weights and input are replaced by meta stand-ins, nothing
    is allocated. With ``timed_runs`` > 0 the model runs for real on ``example``'s device
    that many times (after one untimed warm-up), and each operator's own time is recorded
    (``OpRecord.seconds``; CUDA is synchronised around each operator), so measured time can be
    split by operator kind with the same table as the static costs.
    """
    module_types = {name: type(m).__name__ for name, m in model.named_modules()}
    blocks = {name for name, m in model.named_modules() if isinstance(m, Block)}
    state = dict(model.named_parameters()) | dict(model.named_buffers())
    if not timed_runs:
        example = torch.empty_like(example, device="meta")
        if not all(t.is_meta for t in state.values()):
            state = {name: torch.empty_like(t, device="meta") for name, t in state.items()}
    mode = _Counter(module_types, blocks, timed=timed_runs > 0, device=example.device)

    names = {id(module): name for name, module in model.named_modules()}

    # Two global hooks instead of two per module: registering thousands of handles costs more
    # than the whole counting pass.
    def enter(module: nn.Module, _args: Any) -> None:
        mode.stack.append(names.get(id(module), mode.stack[-1]))

    def leave(_module: nn.Module, _args: Any, _out: Any) -> None:
        mode.stack.pop()

    from torch.nn.modules.module import (
        register_module_forward_hook,
        register_module_forward_pre_hook,
    )

    handles = [register_module_forward_pre_hook(enter), register_module_forward_hook(leave)]
    was_training = [m.training for m in model.modules()]
    model.eval()
    for tensor in state.values():
        mode.mark_param(tensor)
    try:
        with torch.no_grad():
            if timed_runs:
                model(example)
            with mode:
                mode.result.input_node = mode.node(example)
                mode.allocate(example)
                for _ in range(max(1, timed_runs)):
                    out = torch.func.functional_call(model, state, (example,))
                    del out
    finally:
        for handle in handles:
            handle.remove()
        for module, training in zip(model.modules(), was_training, strict=True):
            module.training = training
    return mode.result
