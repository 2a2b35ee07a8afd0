"""What deployed models run: ONNX, exported by PyTorch's own exporter (``torch.onnx.export``
with ``dynamo=True``, the TorchExport-based one; the TorchScript one is deprecated), and ONNX
Runtime sessions, for the export's check and for latency in that runtime.

The packages are the optional extra ``onnx`` (``pip install 'archsearch[onnx]'``: onnx,
onnxscript, onnxruntime); without them every entry point says so in one message.
"""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch import nn

from .errors import ArchsearchError

INSTALL = "pip install 'archsearch[onnx]'  (or: pip install onnx onnxscript onnxruntime)"
#: the ONNX opset the exporter writes (ONNX Runtime 1.20+ runs it)
OPSET = 18


def require_onnx(purpose: str = "ONNX export") -> Any:
    """The ``onnxruntime`` module, or one clear error naming the pip command."""
    missing = []
    for name in ("onnx", "onnxscript", "onnxruntime"):
        try:
            __import__(name)
        except ImportError:
            missing.append(name)
    if missing:
        raise ArchsearchError(
            f"{purpose} needs the optional packages {', '.join(missing)}: {INSTALL}"
        )
    import onnxruntime

    return onnxruntime


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """The exporter reports each stage on stdout and warns about torchvision, absent here."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with (
            warnings.catch_warnings(),
            contextlib.redirect_stdout(io.StringIO()),
        ):
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def onnx_bytes(model: nn.Module, example: torch.Tensor, dynamic_batch: bool = True) -> bytes:
    """``model`` (eval mode, on the CPU) as a serialised ONNX model, input ``x`` and output
    ``logits``; with ``dynamic_batch`` the batch dimension is free (1 to 65,536)."""
    require_onnx()
    model = model.eval().cpu()
    shapes = {"x": {0: torch.export.Dim("batch", min=1, max=65536)}} if dynamic_batch else None
    try:
        with _quiet():
            program = torch.onnx.export(
                model,
                (example.cpu(),),
                dynamo=True,
                dynamic_shapes=shapes,
                input_names=["x"],
                output_names=["logits"],
                opset_version=OPSET,
                verbose=False,
            )
    except Exception as err:  # the exporter raises many kinds; name the model's failure
        raise ArchsearchError(f"ONNX export failed: {type(err).__name__}: {err}") from None
    if program is None:  # only without dynamo; kept for the type checker
        raise ArchsearchError("ONNX export returned no program")
    return program.model_proto.SerializeToString()


def session(model_bytes: bytes, threads: int | None = None) -> Any:
    """An ONNX Runtime CPU session with every graph optimisation and ``threads`` intra-op
    threads (one inter-op thread: the graph of a CNN is a chain)."""
    ort = require_onnx("ONNX Runtime")
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.inter_op_num_threads = 1
    if threads is not None:
        options.intra_op_num_threads = threads
    options.log_severity_level = 3  # errors only
    return ort.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])


def run_session(runtime: Any, x: np.ndarray) -> np.ndarray:
    return runtime.run(None, {runtime.get_inputs()[0].name: x})[0]


@torch.inference_mode()
def max_abs_difference(model_bytes: bytes, model: nn.Module, inputs: torch.Tensor) -> float:
    """Largest absolute difference of the logits of ONNX Runtime and PyTorch on ``inputs``."""
    expected = model.eval().cpu()(inputs.cpu()).float().numpy()
    got = run_session(session(model_bytes), inputs.cpu().numpy().astype(np.float32))
    if got.shape != expected.shape:
        raise ArchsearchError(f"ONNX Runtime gave shape {got.shape}, PyTorch {expected.shape}")
    return float(np.abs(got - expected).max())


def runtime_version() -> str:
    return str(require_onnx("ONNX Runtime").__version__)
