"""The machine a benchmark ran on, in one line for benchmarks/RESULTS.md."""

from __future__ import annotations

import os
import platform
from pathlib import Path

import torch


def describe() -> str:
    cpu = platform.processor() or platform.machine()
    info = Path("/proc/cpuinfo")
    if info.exists():
        for line in info.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    gpu = f", GPU {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ""
    return (
        f"{cpu}, {os.cpu_count()} cores{gpu}; Python {platform.python_version()},"
        f" torch {torch.__version__}, {torch.get_num_threads()} threads"
    )
