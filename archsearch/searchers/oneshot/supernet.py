"""The weight-sharing supernet of a plan: a mixed operation at every position (Liu et al.,
DARTS, ICLR 2019: Σ softmax(α/τ)·op(x)), or, given an index, one path through it (GDAS,
FBNet), or a whole :class:`~.plan.SupernetPath` (single-path one-shot, Guo et al., ECCV 2020),
whose narrower widths are run by channel masking (Wan et al., FBNetV2, CVPR 2020): each
block computes at the supernet's width and every channel past the path's width is zeroed, so
the next block's weights on those inputs see nothing — the weights a narrower network of the
space would have are the first channels of the widest (weight sharing across widths, as in
SPOS's channel search). The blocks' inner widths (an inverted residual's expansion, an SE's
squeeze) stay at the widest: an approximation, which ``bench one-shot`` measures."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ...blocks import create_block
from ...blocks.helpers import channel_shuffle
from ...build import ClassifierHead, init_weights
from .plan import SKIP, Position, SupernetPath, SupernetPlan

#: a supernet's checkpoint in a run's folder (SPOS, DARTS: :mod:`archsearch.checkpoint`)
CHECKPOINT = "supernet.pt"


class MixedOp(nn.Module):
    """Σ w_i·op_i(x) over a position's candidates; with ``index``, only op ``index`` runs.

    ``entangled``: the candidates of one block type share their weights (weight
    entanglement: Chen et al., AutoFormer, ICCV 2021; OFA's elastic kernel and expansion, Cai
    et al., ICLR 2020, without its kernel transforms). For each block type and parameter name
    one tensor of the largest shape any variant needs is kept, and each variant's parameter
    is a slice of it: the centre of a convolution's kernel, the leading channels elsewhere —
    a 3x3 depthwise kernel is the middle of the 5x5 one, an expansion-3 block the first half
    of the expansion-6 one's channels, SE on or off the same convolutions. Without it a
    position of the mobile space holds 21 independent ops, each trained on a twenty-first of
    the steps, and a short supernet training never leaves chance level (benchmarks/RESULTS.md).
    """

    def __init__(
        self, position: Position, entangled: bool = False, partial_channels: int = 1
    ) -> None:
        super().__init__()
        # PC-DARTS (Xu et al., ICLR 2020): at a shape-keeping position only the first 1/K of
        # the channels pass through the candidates, the rest bypass them, and a channel
        # shuffle mixes the two for the next position; memory and time fall about K-fold.
        # Where the shape changes (or an op does not fit 1/K of the width) all channels go.
        self.partial = partial_channels if _partial_fits(position, partial_channels) else 1
        width = position.in_channels // self.partial
        self.candidates = nn.ModuleList(
            nn.Identity()
            if op.block == SKIP
            else create_block(
                op.block,
                width if self.partial > 1 else position.in_channels,
                width if self.partial > 1 else position.out_channels,
                position.stride,
                **dict(op.options),
            )
            for op in position.ops
        )
        self.banks = nn.ParameterDict()
        # per candidate: (owning module, attribute, bank key, slices) of each shared weight
        self._shared: list[list[tuple[nn.Module, str, str, tuple[slice, ...]]]] = [
            [] for _ in position.ops
        ]
        if entangled:
            self._entangle([op.block for op in position.ops])

    def _entangle(self, kinds: list[str]) -> None:
        shapes: dict[str, list[int]] = {}
        owners: list[list[tuple[nn.Module, str, str, torch.Size]]] = []
        for kind, candidate in zip(kinds, self.candidates, strict=True):
            found = []
            for name, param in candidate.named_parameters():
                key = f"{kind}.{name}".replace(".", "__")
                module_name, _, attribute = name.rpartition(".")
                owner = candidate.get_submodule(module_name)
                shape = shapes.setdefault(key, list(param.shape))
                if len(shape) != param.ndim:  # no slice of one fits the other: keep it own
                    continue
                shapes[key] = [max(a, b) for a, b in zip(shape, param.shape, strict=True)]
                found.append((owner, attribute, key, param.shape))
            owners.append(found)
        for key, shape in shapes.items():
            self.banks[key] = nn.Parameter(torch.zeros(shape))
        for index, found in enumerate(owners):
            for owner, attribute, key, shape in found:
                bank = self.banks[key]
                slices = tuple(
                    _centred(size, full) if conv_kernel else slice(0, size)
                    for dim, (size, full) in enumerate(zip(shape, bank.shape, strict=True))
                    for conv_kernel in [isinstance(owner, nn.Conv2d) and dim >= 2]
                )
                own = owner._parameters.pop(attribute)
                with torch.no_grad():  # the variant's own initial values, where they land
                    bank[slices].copy_(own)
                setattr(owner, attribute, bank[slices])
                self._shared[index].append((owner, attribute, key, slices))

    def run(self, index: int, x: torch.Tensor) -> torch.Tensor:
        """Candidate ``index`` alone (its shared weights taken fresh from the banks)."""
        for owner, attribute, key, slices in self._shared[index]:
            setattr(owner, attribute, self.banks[key][slices])
        return self.candidates[index](x)

    def forward(
        self, x: torch.Tensor, weights: torch.Tensor, index: int | None = None
    ) -> torch.Tensor:
        if self.partial > 1:
            part = x.shape[1] // self.partial
            mixed = self._mix(x[:, :part], weights, index)
            return channel_shuffle(torch.cat([mixed, x[:, part:]], dim=1), self.partial)
        return self._mix(x, weights, index)

    def _mix(self, x: torch.Tensor, weights: torch.Tensor, index: int | None) -> torch.Tensor:
        if index is not None:
            return weights[index] * self.run(index, x)
        return sum(w * self.run(i, x) for i, w in enumerate(weights))


def _partial_fits(position: Position, k: int) -> bool:
    """Whether PC-DARTS's 1/k of the channels can run this position's candidates."""
    from ...blocks import validate_block_args
    from ...errors import ArchsearchError

    if k <= 1 or position.stride != 1 or position.in_channels != position.out_channels:
        return False
    width = position.in_channels // k
    if width < 1 or position.in_channels % k:
        return False
    for op in position.ops:
        if op.block == SKIP:
            continue
        try:
            validate_block_args(op.block, width, width, 1, dict(op.options))
        except ArchsearchError:
            return False
    return True


def _centred(size: int, full: int) -> slice:
    start = (full - size) // 2
    return slice(start, start + size)


class Supernet(nn.Module):
    """``entangled``: see :class:`MixedOp` (the single-path searchers share weights across a
    block type's variants; DARTS, which weighs every op against the others, keeps them
    apart)."""

    def __init__(
        self, plan: SupernetPlan, entangled: bool = False, partial_channels: int = 1
    ) -> None:
        super().__init__()
        channels = plan.in_channels
        stem = []
        for block in plan.stem:
            out = channels if block.out_channels is None else block.out_channels
            stem.append(create_block(block.type, channels, out, block.stride, **block.kwargs))
            channels = out
        self.stem = nn.Sequential(*stem)
        self.mixed = nn.ModuleList(MixedOp(p, entangled, partial_channels) for p in plan.positions)
        last = plan.positions[-1].out_channels if plan.positions else channels
        self.head = ClassifierHead(plan.head, last, plan.num_classes)
        self.alphas = nn.ParameterList(
            nn.Parameter(1e-3 * torch.randn(len(p.ops))) for p in plan.positions
        )
        # DARTS-: positions whose input and output shapes agree carry an auxiliary skip of
        # this weight (0: none); the search sets it per step
        self.aux_weight = 0.0
        self.keeps_shape = [
            p.stride == 1 and p.in_channels == p.out_channels for p in plan.positions
        ]
        init_weights(self)  # a shared weight: each variant initialises its own slice of it

    def weight_parameters(self) -> list[nn.Parameter]:
        return [p for name, p in self.named_parameters() if not name.startswith("alphas")]

    def probabilities(self, tau: float = 1.0) -> list[torch.Tensor]:
        return [F.softmax(a / tau, dim=0) for a in self.alphas]

    def forward_path(self, x: torch.Tensor, path: SupernetPath) -> torch.Tensor:
        """The network of ``path`` alone, with the supernet's (shared) weights."""
        x = _masked(self.stem(x), path.stem_width)
        for mixed, index, width in zip(self.mixed, path.choice, path.widths, strict=True):
            x = _masked(mixed.run(index, x), width)
        return self.head(x)

    def forward(self, x: torch.Tensor, mode: str = "full", tau: float = 1.0) -> torch.Tensor:
        x = self.stem(x)
        for mixed, alpha, keeps in zip(self.mixed, self.alphas, self.keeps_shape, strict=True):
            if mode == "gumbel":
                hard = F.gumbel_softmax(alpha, tau=tau, hard=True)
                out = mixed(x, hard, int(hard.argmax()))
            else:
                out = mixed(x, F.softmax(alpha / tau, dim=0))
            x = out + self.aux_weight * x if keeps and self.aux_weight else out
        return self.head(x)


class PathNetwork(nn.Module):
    """One path of a supernet as a network of its own (``forward(x)``), for the trainer's
    BatchNorm recalibration and evaluation. It holds the path's modules only (the
    supernet's, not copies), so switching modes and finding norms visits the path, not every
    candidate of the supernet."""

    def __init__(self, supernet: Supernet, path: SupernetPath) -> None:
        super().__init__()
        self.stem = supernet.stem
        self.ops = nn.ModuleList(
            mixed.candidates[index]
            for mixed, index in zip(supernet.mixed, path.choice, strict=True)
        )
        self.head = supernet.head
        self._run = (supernet.forward_path, path)  # a tuple: not registered as a submodule

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        forward_path, path = self._run
        return forward_path(x, path)


def _masked(x: torch.Tensor, width: int) -> torch.Tensor:
    """``x`` with the channels from ``width`` on zeroed (no copy when it keeps them all)."""
    channels = x.shape[1]
    if width >= channels:
        return x
    keep = torch.arange(channels, device=x.device) < width
    return x * keep.to(x.dtype).view(1, channels, 1, 1)
