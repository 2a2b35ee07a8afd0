"""ShuffleNetV2's four guidelines as diagnostics: Ma et al., "ShuffleNet V2: Practical
Guidelines for Efficient CNN Architecture Design", ECCV 2018, Section 2.

- G1: equal channel width minimises MAC. For a 1x1 conv with FLOPs B = hw·c1·c2,
  MAC = hw(c1 + c2) + c1·c2 >= 2·sqrt(hw·B) + B/hw, with equality at c1 = c2.
- G2: excessive group convolution increases MAC. At fixed input (c1, h, w) and FLOPs B,
  MAC = hw·c1 + B·g/c1 + B/hw grows with the group count g.
- G3: network fragmentation (parallel branches, many small operators) reduces parallelism.
- G4: element-wise operators (activations, adds, norms) are cheap in FLOPs, not in MAC.

Each finding names the layer, gives a figure and a one-line suggestion. Thresholds are
arguments, so a search can use the same figures as objectives.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

from .counter import OpRecord
from .formulas import ELEMENTWISE_KINDS


@dataclass(frozen=True)
class Finding:
    guideline: str  # "G1" .. "G4"
    layer: str  # module path ("" for the whole network)
    figure: float
    unit: str
    message: str
    suggestion: str

    def to_dict(self) -> dict[str, object]:
        return {
            "guideline": self.guideline,
            "layer": self.layer,
            "figure": self.figure,
            "unit": self.unit,
            "message": self.message,
            "suggestion": self.suggestion,
        }


@dataclass(frozen=True)
class BlockFragments:
    block: str
    block_type: str
    fragments: int  # convolutions and windowed poolings in the block
    parallel: int  # most fragments reading one tensor (branches)
    serial: int  # fragments on the longest path


@dataclass(frozen=True)
class Thresholds:
    g1_excess_percent: float = 25.0  # 1:6 channel ratio gives ~40% excess, 1:2 about 6%
    g2_increase_percent: float = 25.0
    g3_parallel: int = 3  # Inception's 4 branches fire; ShuffleNetV2's 2 do not
    g3_serial: int = 4
    g4_share_percent: float = 50.0


def g1_excess(hw: int, c1: int, c2: int) -> tuple[float, float]:
    """MAC of a 1x1 conv and its excess over the balanced lower bound, in percent."""
    flops = hw * c1 * c2
    mac = hw * (c1 + c2) + c1 * c2
    bound = 2 * math.sqrt(hw * flops) + flops / hw
    return mac, 100.0 * (mac / bound - 1)


def g2_increase(hw_in: int, hw_out: int, c1: int, c2: int, groups: int, kernel_area: int) -> float:
    """MAC increase (percent) of a grouped conv over a g=1 conv of equal FLOPs and input."""
    weights = c2 * (c1 // groups) * kernel_area  # the same for the g=1 conv with c2/g outputs
    grouped = hw_in * c1 + weights + hw_out * c2
    dense = hw_in * c1 + weights + hw_out * c2 / groups
    return 100.0 * (grouped / dense - 1)


def fragments_by_block(
    records: list[OpRecord], block_types: dict[str, str]
) -> list[BlockFragments]:
    """Count fragments per registered block from the operator dataflow."""
    by_block: dict[str, list[OpRecord]] = defaultdict(list)
    for record in records:
        if record.block:
            by_block[record.block].append(record)
    results = []
    for block, ops in by_block.items():
        depth: dict[int, int] = defaultdict(int)
        readers: dict[int, int] = defaultdict(int)
        fragments = serial = 0
        for op in ops:
            is_fragment = _is_fragment(op)
            start = max((depth[n] for n in op.inputs), default=0)
            for node in op.outputs:
                depth[node] = start + is_fragment
            serial = max(serial, start + is_fragment)
            if is_fragment:
                fragments += 1
                for node in set(op.inputs):
                    readers[node] += 1
        parallel = max(readers.values(), default=0)
        results.append(
            BlockFragments(block, block_types.get(block, ""), fragments, parallel, serial)
        )
    return results


def _is_fragment(op: OpRecord) -> bool:
    kind = op.cost.kind
    return kind.endswith("conv") or (kind == "pooling" and bool(op.cost.kernel))


def diagnose(
    records: list[OpRecord],
    blocks: list[BlockFragments],
    elementwise_share: float,
    thresholds: Thresholds | None = None,
) -> list[Finding]:
    """Findings for G1–G4 over a profiled network."""
    t = thresholds or Thresholds()
    findings: list[Finding] = []
    for op in records:
        if op.cost.kind not in ("conv", "group conv") or len(op.in_shape) != 4:
            continue
        n, c1, h_in, w_in = op.in_shape
        _, c2, h, w = op.out_shape
        groups, kernel = op.cost.groups, op.cost.kernel
        if op.cost.kind == "conv" and kernel == (1, 1) and (h, w) == (h_in, w_in):
            _, excess = g1_excess(n * h * w, c1, c2)
            if excess > t.g1_excess_percent:
                findings.append(
                    Finding(
                        "G1",
                        op.module,
                        round(excess, 1),
                        "% MAC over the c1 = c2 bound",
                        f"1x1 conv {c1} -> {c2} channels (ratio 1:{max(c1, c2) / min(c1, c2):.1f})"
                        f" costs {excess:.0f}% more memory traffic than a balanced one of"
                        " equal FLOPs",
                        "keep input and output widths of 1x1 convs close (G1)",
                    )
                )
        elif op.cost.kind == "group conv":
            area = math.prod(kernel)
            increase = g2_increase(n * h_in * w_in, n * h * w, c1, c2, groups, area)
            if increase > t.g2_increase_percent:
                findings.append(
                    Finding(
                        "G2",
                        op.module,
                        round(increase, 1),
                        "% MAC over g=1 at equal FLOPs",
                        f"group conv with g={groups} moves {increase:.0f}% more memory than a"
                        " dense conv of equal FLOPs",
                        "use fewer groups, or channel split as ShuffleNetV2 does (G2)",
                    )
                )
    for block in blocks:
        if block.parallel >= t.g3_parallel or block.serial >= t.g3_serial:
            findings.append(
                Finding(
                    "G3",
                    block.block,
                    float(max(block.parallel, block.serial)),
                    "fragments",
                    f"{block.block_type or 'block'} has {block.parallel} parallel branches and"
                    f" {block.serial} fragments in series ({block.fragments} in all)",
                    "merge branches or use fewer, larger operators (G3)",
                )
            )
    if 100 * elementwise_share > t.g4_share_percent:
        findings.append(
            Finding(
                "G4",
                "",
                round(100 * elementwise_share, 1),
                "% of MAC",
                f"element-wise operators ({', '.join(ELEMENTWISE_KINDS)}) make"
                f" {100 * elementwise_share:.0f}% of the memory traffic",
                "fold BN into convs for inference, drop activations on narrow layers (G4)",
            )
        )
    return findings
