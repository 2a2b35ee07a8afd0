"""Measured latency: eval-mode inference under ``torch.inference_mode`` (or a training step),
timed with care on the device in use.

CPU: a fixed, reported thread count; warm-up; repeats of several iterations each, timed with
``time.perf_counter``; the process's CPU time is read beside the wall time so contention from
other processes shows as a CPU share below 100%. CUDA: warm-up, synchronisation and CUDA
events around each repeat. Reported: median, p90 and coefficient of variation over repeats, with
the device, threads, batch, dtype and torch version (the fields of timm's benchmark, plus the
median). Two backends: ``torch`` (eager PyTorch) and ``onnxruntime`` (the network exported to
ONNX and run by an ONNX Runtime CPU session with the same thread count: what deployed CPU
models run in; :mod:`archsearch.deploy`).
"""

from __future__ import annotations

import contextlib
import platform
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import Any, Literal, get_args

import torch
from torch import nn

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
LatencyBackend = Literal["torch", "onnxruntime"]
LATENCY_BACKENDS: tuple[LatencyBackend, ...] = get_args(LatencyBackend)


@dataclass(frozen=True)
class LatencyResult:
    median_ms: float  # per batch
    p90_ms: float
    mean_ms: float
    cv: float  # standard deviation / mean over repeats
    repeats: int
    iterations: int  # per repeat
    mode: str  # "inference" or "train"
    device: str
    device_name: str
    threads: int
    batch: int
    dtype: str
    input_shape: tuple[int, ...]
    torch_version: str
    cpu_share: float | None  # process CPU time / (wall time x threads); CPU only
    backend: LatencyBackend = "torch"
    runtime_version: str = ""  # the backend's own: torch's, or onnxruntime's

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def resolve_device(device: str = "auto") -> torch.device:
    """``auto`` picks CUDA when present; ``cuda``/``cuda:N``/``cpu`` are taken as given."""
    from ..errors import ArchsearchError

    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError:
        resolved = torch.device("meta")  # refused below with the accepted forms
    if resolved.type not in ("cpu", "cuda"):
        raise ArchsearchError(f"device '{device}': expected auto, cpu, cuda or cuda:N")
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise ArchsearchError(f"device '{device}': CUDA is not available on this machine")
        count = torch.cuda.device_count()
        if resolved.index is not None and resolved.index >= count:
            raise ArchsearchError(
                f"device '{device}': this machine has {count} CUDA device(s),"
                f" cuda:0 to cuda:{count - 1}"
            )
    return resolved


@contextlib.contextmanager
def cpu_threads(threads: int | None) -> Iterator[int]:
    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield torch.get_num_threads()
    finally:
        torch.set_num_threads(previous)


def _step(model: nn.Module, x: torch.Tensor, train: bool) -> Callable[[], None]:
    if not train:

        def infer() -> None:
            with torch.inference_mode():
                model(x)

        return infer
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3)

    def train_step() -> None:
        optimizer.zero_grad(set_to_none=True)
        model(x).float().logsumexp(dim=1).mean().backward()
        optimizer.step()

    return train_step


@dataclass(frozen=True)
class LatencyPreset:
    """How long to time: ``repeats`` medians of at least ``min_repeat_s`` each, after
    ``warmup_s`` of warm-up. The defaults of :func:`measure_latency` suit a profile; searches
    time hundreds of candidates and use the quick presets below."""

    repeats: int
    min_repeat_s: float
    warmup_s: float

    def as_kwargs(self) -> dict[str, Any]:
        return {
            "repeats": self.repeats,
            "min_repeat_s": self.min_repeat_s,
            "warmup_s": self.warmup_s,
        }


#: a candidate network timed inside a search (objective, constraint, report ranking)
QUICK_LATENCY = LatencyPreset(repeats=5, min_repeat_s=0.01, warmup_s=0.02)
#: one op (or the stem / head) of a DARTS latency lookup table: smaller, so shorter windows
QUICK_OP_LATENCY = LatencyPreset(repeats=5, min_repeat_s=0.005, warmup_s=0.01)


def measure_latency(
    model: nn.Module,
    input_shape: tuple[int, ...],
    *,
    device: str | torch.device = "auto",
    dtype: str = "float32",
    threads: int | None = None,
    train: bool = False,
    repeats: int = 15,
    min_repeat_s: float = 0.05,
    warmup_s: float = 0.2,
    channels_last: bool | None = None,
    backend: LatencyBackend = "torch",
) -> LatencyResult:
    """Time ``model`` on a batch of ``input_shape`` (N, C, H, W); the model is moved there.

    ``channels_last`` defaults to True on CUDA (what the trainer uses there). ``backend``
    ``onnxruntime`` exports the model to ONNX at this batch (a few seconds) and times an ONNX
    Runtime CPU session: float32 inference on the CPU only.
    """
    target = resolve_device(device) if isinstance(device, str) else device
    torch_dtype = DTYPES[dtype]
    cuda = target.type == "cuda"
    if backend not in LATENCY_BACKENDS:
        raise _error(f"latency backend '{backend}': expected one of {', '.join(LATENCY_BACKENDS)}")
    if backend == "onnxruntime":
        if cuda or train or dtype != "float32":
            raise _error(
                "latency backend onnxruntime: float32 inference on the CPU only (ONNX"
                " Runtime's CPU package); use --device cpu"
            )
        step, runtime = _onnxruntime_step(model, input_shape, threads)
    else:
        memory_format = (
            torch.channels_last
            if (channels_last if channels_last is not None else cuda)
            else torch.contiguous_format
        )
        model = model.to(device=target, dtype=torch_dtype, memory_format=memory_format)
        model.train(train)
        x = torch.randn(input_shape, device=target, dtype=torch_dtype)
        step = _step(model, x.to(memory_format=memory_format), train)
        runtime = torch.__version__

    def sync() -> None:
        if cuda:
            torch.cuda.synchronize(target)

    with cpu_threads(threads if not cuda else None) as used_threads:
        # warm-up, then size a repeat so it lasts at least min_repeat_s
        start = time.perf_counter()
        count = 0
        while time.perf_counter() - start < warmup_s or count < 3:
            step()
            sync()
            count += 1
        per_step = (time.perf_counter() - start) / count
        iterations = max(1, round(min_repeat_s / max(per_step, 1e-9)))
        times: list[float] = []
        cpu_time = wall_time = 0.0
        for _ in range(repeats):
            if cuda:
                begin, end = (
                    torch.cuda.Event(enable_timing=True),
                    torch.cuda.Event(enable_timing=True),
                )
                sync()
                begin.record()
                for _ in range(iterations):
                    step()
                end.record()
                end.synchronize()
                times.append(begin.elapsed_time(end) / iterations)
            else:
                cpu0, wall0 = time.process_time(), time.perf_counter()
                for _ in range(iterations):
                    step()
                wall = time.perf_counter() - wall0
                cpu_time += time.process_time() - cpu0
                wall_time += wall
                times.append(1000 * wall / iterations)
    times.sort()
    mean = statistics.fmean(times)
    return LatencyResult(
        median_ms=statistics.median(times),
        p90_ms=times[min(len(times) - 1, round(0.9 * (len(times) - 1)))],
        mean_ms=mean,
        cv=statistics.pstdev(times) / mean if mean > 0 else 0.0,
        repeats=repeats,
        iterations=iterations,
        mode="train" if train else "inference",
        device=str(target),
        device_name=torch.cuda.get_device_name(target)
        if cuda
        else (platform.processor() or platform.machine()),
        threads=used_threads,
        batch=input_shape[0],
        dtype=dtype,
        input_shape=tuple(input_shape),
        torch_version=torch.__version__,
        cpu_share=None if cuda else min(1.0, cpu_time / max(wall_time * used_threads, 1e-9)),
        backend=backend,
        runtime_version=runtime,
    )


def parse_latency_backends(text: str) -> tuple[LatencyBackend, ...]:
    """``torch,onnxruntime`` → the backends, each checked (the ``latency_backend`` option)."""
    from ..errors import ConfigError, choice

    backends = []
    for backend in (b.strip() for b in text.split(",") if b.strip()):
        if backend not in LATENCY_BACKENDS:
            known = ", ".join(LATENCY_BACKENDS)
            raise ConfigError("latency_backend", f"'{backend}' is not one of {known}")
        backends.append(choice("latency_backend", backend, LATENCY_BACKENDS))
    return tuple(backends)


def parse_batches(text: str | None) -> list[int] | None:
    """``1,8,32`` → batch sizes (the ``batch`` option; several: a latency sweep)."""
    from ..errors import ConfigError

    if not text:
        return None
    try:
        batches = [int(b) for b in text.split(",")]
    except ValueError:
        batches = [0]
    if min(batches) < 1:
        raise ConfigError("batch", f"'{text}': expected batch sizes >= 1, e.g. 1,8,32")
    return batches


def _error(message: str) -> Exception:
    from ..errors import ArchsearchError

    return ArchsearchError(message)


def _onnxruntime_step(
    model: nn.Module, input_shape: tuple[int, ...], threads: int | None
) -> tuple[Callable[[], None], str]:
    """One inference of ``model`` exported to ONNX, in an ONNX Runtime session with the
    thread count the torch backend would use."""
    import numpy as np

    from ..deploy import onnx_bytes, run_session, runtime_version, session

    example = torch.randn(input_shape)
    runtime = session(
        onnx_bytes(model, example, dynamic_batch=False), threads or torch.get_num_threads()
    )
    x = example.numpy().astype(np.float32)

    def infer() -> None:
        run_session(runtime, x)

    return infer, runtime_version()


def time_by_kind(
    model: nn.Module,
    input_shape: tuple[int, ...],
    device: str | torch.device = "cpu",
    threads: int | None = None,
    runs: int = 3,
) -> dict[str, float]:
    """Share of measured operator time per operator kind, summing to 1.

    Each ATen operator is timed on its own (the counter's timed mode), and its kind comes
    from the same formula table as the static costs, so the two breakdowns line up.
    """
    from .counter import count

    target = resolve_device(device) if isinstance(device, str) else device
    model = model.to(target)
    with cpu_threads(threads):
        records = count(model, torch.randn(input_shape, device=target), timed_runs=runs).records
    totals: dict[str, float] = {}
    for record in records:
        totals[record.cost.kind] = totals.get(record.cost.kind, 0.0) + record.seconds
    grand = sum(totals.values()) or 1.0
    return {kind: value / grand for kind, value in totals.items()}
