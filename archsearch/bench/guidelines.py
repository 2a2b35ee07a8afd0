"""``archsearch bench guidelines``: the four micro-benchmarks of ShuffleNetV2 (Ma et al.,
ECCV 2018, Tables 1–4), re-run on the user's hardware.

Each table compares networks of equal FLOPs (Table 4: equal up to the removed element-wise
ops) and the paper's finding is a trend in speed. We time every variant with
:func:`~archsearch.profiler.latency.measure_latency`, interleaving variants over rounds so that
machine noise hits all of them alike, and say whether the paper's trend holds here.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from ..profiler.latency import measure_latency, resolve_device

# The paper's GPU figures (GTX 1080, batches/s, the "x1" column), Tables 1-3, and the
# Table 4 finding; kept to show the trend beside ours.
PAPER = {
    "G1": [1480, 1296, 876, 748],
    "G2": [2451, 1725, 1026, 634],
    "G3": [2446, 1790, 752, 1537, 691],
}


@dataclass(frozen=True)
class BenchRow:
    table: str
    variant: str
    flops: int
    median_ms: float
    images_per_s: float
    relative: float  # speed relative to the table's first row
    paper_relative: float | None


@dataclass(frozen=True)
class BenchTable:
    guideline: str
    title: str
    rows: list[BenchRow]
    expected: str
    holds: bool


class _TwoPointwise(nn.Module):
    def __init__(self, c1: int, c2: int, groups: int = 1, kernel: int = 1) -> None:
        super().__init__()
        pad = kernel // 2
        self.a = nn.Conv2d(c1, c2, kernel, padding=pad, groups=groups, bias=False)
        self.b = nn.Conv2d(c2, c1, kernel, padding=pad, groups=groups, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.b(self.a(x))


class _Fragments(nn.Module):
    """Appendix Fig. 1 of the paper, at the FLOPs of one c x c 1x1 conv: ``count`` convs of
    width c / sqrt(count) in series, or ``count`` convs c -> c / count in parallel (concat).
    """

    def __init__(self, width: int, count: int, parallel: bool) -> None:
        super().__init__()
        self.parallel = parallel
        out = width // count if parallel else width
        self.convs = nn.ModuleList(nn.Conv2d(width, out, 1, bias=False) for _ in range(count))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.parallel:
            return torch.cat([conv(x) for conv in self.convs], 1)
        for conv in self.convs:
            x = conv(x)
        return x


class _Bottleneck(nn.Module):
    def __init__(self, channels: int, relu: bool, shortcut: bool) -> None:
        super().__init__()
        mid = channels // 4
        self.convs = nn.ModuleList(
            [
                nn.Conv2d(channels, mid, 1, bias=False),
                nn.Conv2d(mid, mid, 3, padding=1, bias=False),
                nn.Conv2d(mid, channels, 1, bias=False),
            ]
        )
        self.relu = relu
        self.shortcut = shortcut

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x
        for conv in self.convs:
            out = conv(out)
            if self.relu:
                out = torch.relu(out)
        return out + x if self.shortcut else out


def _stack(make: Callable[[], nn.Module], depth: int = 10) -> nn.Module:
    return nn.Sequential(*(make() for _ in range(depth)))


def guideline_networks(base: int) -> dict[str, list[tuple[str, nn.Module, int]]]:
    """Each table's variants as (label, network, input channels); ``base`` sets the width."""
    g1 = []
    for ratio in (1, 2, 6, 12):
        c1 = max(1, round(base / math.sqrt(ratio)))
        c2 = c1 * ratio
        g1.append(
            (
                f"c1:c2 = 1:{ratio} ({c1}, {c2})",
                _stack(lambda c1=c1, c2=c2: _TwoPointwise(c1, c2)),
                c1,
            )
        )
    g2 = []
    for groups in (1, 2, 4, 8):
        c = round(base * math.sqrt(groups) / groups) * groups
        g2.append(
            (f"g = {groups} (c = {c})", _stack(lambda c=c, g=groups: _TwoPointwise(c, c, g)), c)
        )
    g3 = []
    for label, count, parallel in (
        ("1 fragment", 1, False),
        ("2 fragments in series", 2, False),
        ("4 fragments in series", 4, False),
        ("2 fragments in parallel", 2, True),
        ("4 fragments in parallel", 4, True),
    ):
        width = base if parallel else max(1, round(base / math.sqrt(count)))
        net = _stack(lambda w=width, n=count, p=parallel: _Fragments(w, n, p))
        g3.append((label, net, width))
    c4 = max(4, base // 4 * 4)
    g4 = [
        ("ReLU and shortcut", _stack(lambda: _Bottleneck(c4, True, True)), c4),
        ("no ReLU", _stack(lambda: _Bottleneck(c4, False, True)), c4),
        ("no shortcut", _stack(lambda: _Bottleneck(c4, True, False)), c4),
        ("neither", _stack(lambda: _Bottleneck(c4, False, False)), c4),
    ]
    return {"G1": g1, "G2": g2, "G3": g3, "G4": g4}


TITLES = {
    "G1": (
        "Table 1: 1x1 conv pairs at equal FLOPs, varying the channel ratio",
        "speed falls as c1:c2 moves away from 1:1",
    ),
    "G2": (
        "Table 2: 1x1 group convs at equal FLOPs, varying the group count",
        "speed falls as the group count grows",
    ),
    "G3": (
        "Table 3: fragments in series and in parallel at equal FLOPs",
        "one fragment is fastest; 4 fragments slower than 2",
    ),
    "G4": (
        "Table 4: ResNet bottleneck with and without ReLU and shortcut",
        "removing ReLU and shortcut is faster (paper: about 20%)",
    ),
}


def run_guideline_benchmarks(
    device: str = "auto",
    threads: int | None = None,
    base: int | None = None,
    size: int = 56,
    batch: int = 1,
    rounds: int = 3,
    repeats: int = 7,
    progress: Callable[[str], None] | None = None,
) -> list[BenchTable]:
    """Time every variant of Tables 1–4; variants are interleaved over ``rounds``."""
    from ..profiler.counter import count

    target = resolve_device(device)
    width = base or (128 if target.type == "cuda" else 64)
    tables = []
    for guideline, variants in guideline_networks(width).items():
        medians: dict[str, list[float]] = {label: [] for label, _, _ in variants}
        for _ in range(rounds):
            for label, net, channels in variants:
                if progress:
                    progress(f"{guideline}: {label}")
                result = measure_latency(
                    net,
                    (batch, channels, size, size),
                    device=target,
                    threads=threads,
                    repeats=repeats,
                    min_repeat_s=0.02,
                    warmup_s=0.05,
                )
                medians[label].append(result.median_ms)
        rows = []
        first = None
        paper = PAPER.get(guideline)
        for index, (label, net, channels) in enumerate(variants):
            flops = sum(
                r.cost.flops for r in count(net, torch.empty(batch, channels, size, size)).records
            )
            ms = statistics.median(medians[label])
            speed = 1000 * batch / ms
            first = first or speed
            rows.append(
                BenchRow(
                    guideline,
                    label,
                    flops,
                    ms,
                    speed,
                    speed / first,
                    paper[index] / paper[0] if paper else None,
                )
            )
        title, expected = TITLES[guideline]
        tables.append(BenchTable(guideline, title, rows, expected, _trend_holds(guideline, rows)))
    return tables


def _trend_holds(guideline: str, rows: list[BenchRow], noise: float = 0.05) -> bool:
    speed = [r.relative for r in rows]
    if guideline in ("G1", "G2"):
        return speed[-1] < 1 - noise and all(b <= a + noise for a, b in itertools.pairwise(speed))
    if guideline == "G3":
        return speed[2] < 1 - noise and speed[4] < speed[3] + noise
    return speed[-1] > 1 + noise
