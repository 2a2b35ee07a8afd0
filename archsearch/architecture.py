"""A concrete network as frozen, plain data: stem blocks, stages of blocks, and a head.

An :class:`Architecture` is what a searcher samples and what :func:`archsearch.build_model`
builds. It round-trips exactly through JSON, has a stable short :attr:`~Architecture.id` (a hash
of its canonical JSON), a compact one-line ``str`` form, and :meth:`~Architecture.infer_shapes`,
which checks channels, strides and input-size feasibility from shapes alone, before any tensor
is allocated, naming the stage, block and field of the first problem.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .blocks.registry import OptionValue, get_block, is_int, is_number, validate_block_args
from .errors import ArchitectureError, ArchsearchError

HEAD_POOLS = ("avg", "max")


@dataclass(frozen=True)
class BlockSpec:
    """One block: its registered type, output width, stride and keyword options.

    ``out_channels=None`` keeps the input width (pooling, ``se``, ``skip``). Options are stored
    sorted, so equal blocks compare and hash equal whatever order they were written in.
    """

    type: str
    out_channels: int | None = None
    stride: int = 1
    options: tuple[tuple[str, OptionValue], ...] = ()

    @classmethod
    def make(
        cls, type: str, out_channels: int | None = None, stride: int = 1, **options: OptionValue
    ) -> BlockSpec:
        return cls(type, out_channels, stride, tuple(sorted(options.items())))

    @property
    def kwargs(self) -> dict[str, OptionValue]:
        return dict(self.options)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type}
        if self.out_channels is not None:
            out["out_channels"] = self.out_channels
        out["stride"] = self.stride
        out.update(self.options)
        return out

    @classmethod
    def from_dict(cls, data: Any, where: str = "block") -> BlockSpec:
        if not isinstance(data, Mapping):
            raise ArchitectureError(where, "", f"expected an object, got {_kind(data)}")
        data = dict(data)
        kind = data.pop("type", None)
        if not isinstance(kind, str):
            raise ArchitectureError(where, "type", f"expected a block name, got {kind!r}")
        out_channels = data.pop("out_channels", None)
        stride = data.pop("stride", 1)
        for name, value in data.items():
            if not isinstance(name, str) or not (value is None or _is_scalar(value)):
                raise ArchitectureError(
                    where,
                    str(name),
                    f"an option must be a number, string, bool or null, got {_kind(value)}",
                )
        return cls.make(kind, out_channels, stride, **data)

    def __str__(self) -> str:
        opts = self.kwargs
        parts = [get_block(self.type).abbrev if _known(self.type) else self.type]
        if "kernel_size" in opts:
            parts.append(f"k{opts['kernel_size']}")
        if self.type == "mbconv" or (self.type == "bottleneck" and "expansion" in opts):
            parts.append(f"e{_fmt(opts.get('expansion', 6))}")
        if self.type == "plain" and opts.get("padding") is not None:  # not 'same' padding
            parts.append(f"p{opts['padding']}")
        if (opts.get("groups") or 1) > 1:  # type: ignore[operator]
            parts.append(f"g{opts['groups']}")
        if self.out_channels is not None:
            parts.append(f"c{self.out_channels}")
        if self.stride != 1:
            parts.append(f"s{self.stride}")
        if opts.get("se"):
            parts.append("se")
        return "_".join(parts)


@dataclass(frozen=True)
class Head:
    """Classifier: optional 1x1 conv, adaptive pooling, hidden linear layers, final linear.

    ``conv_channels`` > 0 adds a 1x1 conv → BN → activation before pooling (MobileNetV2's 1280,
    ShuffleNetV2's conv5). ``pool_size`` is the adaptive pooling's output side (1 = global;
    VGG keeps 7x7 before its fully connected layers). Each hidden layer is linear → activation
    → dropout; without hidden layers, dropout comes just before the final linear layer.
    """

    conv_channels: int = 0
    pool: str = "avg"
    pool_size: int = 1
    hidden: tuple[int, ...] = ()
    dropout: float = 0.0
    activation: str = "relu"

    def to_dict(self) -> dict[str, Any]:
        return {
            "conv_channels": self.conv_channels,
            "pool": self.pool,
            "pool_size": self.pool_size,
            "hidden": list(self.hidden),
            "dropout": self.dropout,
            "activation": self.activation,
        }

    @classmethod
    def from_dict(cls, data: Any) -> Head:
        if not isinstance(data, Mapping):
            raise ArchitectureError("head", "", f"expected an object, got {_kind(data)}")
        unknown = set(data) - {f.name for f in cls.__dataclass_fields__.values()}
        if unknown:
            raise ArchitectureError("head", sorted(map(str, unknown))[0], "unknown field")
        hidden = data.get("hidden", [])
        if not isinstance(hidden, (list, tuple)):
            raise ArchitectureError("head", "hidden", f"expected a list, got {_kind(hidden)}")
        head = cls(**{**data, "hidden": tuple(hidden)})
        head.validate()
        return head

    def validate(self) -> None:
        checks = [
            (
                "conv_channels",
                is_int(self.conv_channels) and self.conv_channels >= 0,
                "an integer >= 0",
            ),
            ("pool", self.pool in HEAD_POOLS, f"one of {', '.join(HEAD_POOLS)}"),
            ("pool_size", is_int(self.pool_size) and self.pool_size >= 1, "an integer >= 1"),
            ("hidden", all(is_int(h) and h >= 1 for h in self.hidden), "a list of integers >= 1"),
            ("dropout", is_number(self.dropout) and 0 <= self.dropout < 1, "a number in [0, 1)"),
        ]
        for name, ok, expected in checks:
            if not ok:
                raise ArchitectureError(
                    "head", name, f"expected {expected}, got {getattr(self, name)!r}"
                )
        from .blocks.helpers import ACTIVATIONS

        if self.activation not in ACTIVATIONS:
            raise ArchitectureError(
                "head",
                "activation",
                f"expected one of {', '.join(ACTIVATIONS)}, got {self.activation!r}",
            )


@dataclass(frozen=True)
class LayerShape:
    """Where a block sits and the shapes it maps between (channels, height, width)."""

    location: str  # "stem.0" or "stages.2.1": the module path in the built network
    block: BlockSpec
    in_shape: tuple[int, int, int]
    out_shape: tuple[int, int, int]


@dataclass(frozen=True)
class Architecture:
    """A concrete CNN: ``stem`` blocks, then ``stages`` (tuples of blocks), then ``head``."""

    stem: tuple[BlockSpec, ...]
    stages: tuple[tuple[BlockSpec, ...], ...]
    head: Head = field(default_factory=Head)

    # --- serialisation -------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "stem": [b.to_dict() for b in self.stem],
            "stages": [[b.to_dict() for b in stage] for stage in self.stages],
            "head": self.head.to_dict(),
        }

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent, sort_keys=indent is None)

    @classmethod
    def from_dict(cls, data: Any) -> Architecture:
        """Parse and check the structure; raises :class:`ArchitectureError` naming the field."""
        if not isinstance(data, Mapping):
            raise ArchitectureError("architecture", "", f"expected an object, got {_kind(data)}")
        unknown = set(data) - {"stem", "stages", "head"}
        if unknown:
            raise ArchitectureError("architecture", sorted(map(str, unknown))[0], "unknown field")
        stem, stages = data.get("stem", []), data.get("stages")
        if not isinstance(stem, list):
            raise ArchitectureError("architecture", "stem", "expected a list of blocks")
        if not isinstance(stages, list) or not all(isinstance(s, list) for s in stages):
            raise ArchitectureError("architecture", "stages", "expected a list of lists of blocks")
        arch = cls(
            stem=tuple(BlockSpec.from_dict(b, f"stem block {i + 1}") for i, b in enumerate(stem)),
            stages=tuple(
                tuple(
                    BlockSpec.from_dict(b, f"stage {s + 1}, block {i + 1}")
                    for i, b in enumerate(stage)
                )
                for s, stage in enumerate(stages)
            ),
            head=Head.from_dict(data.get("head", {})),
        )
        arch.check_structure()
        return arch

    @classmethod
    def from_json(cls, text: str) -> Architecture:
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, RecursionError) as err:
            raise ArchitectureError("architecture JSON", "", f"not valid JSON: {err}") from None
        return cls.from_dict(data)

    # --- identity ------------------------------------------------------------------------
    @property
    def id(self) -> str:
        """Stable short id: the first 10 hex digits of the SHA-256 of the canonical JSON."""
        return hashlib.sha256(self.to_json().encode()).hexdigest()[:10]

    def __str__(self) -> str:
        """One line: ``stem | stage | stage | head``; repeated blocks collapse to ``block*n``."""
        sections = [_collapse(self.stem)] + [_collapse(stage) for stage in self.stages]
        h = self.head
        head = "+".join(
            ([f"conv{h.conv_channels}"] if h.conv_channels else [])
            + [f"{h.pool}pool{h.pool_size if h.pool_size > 1 else ''}"]
            + [f"fc{n}" for n in h.hidden]
            + ["fc"]
        )
        return " | ".join([*sections, head])

    # --- structure -----------------------------------------------------------------------
    def blocks(self) -> Iterator[tuple[str, str, BlockSpec]]:
        """Every block as ``(human location, module path, spec)``, in network order."""
        for i, block in enumerate(self.stem):
            yield f"stem block {i + 1} ({block.type})", f"stem.{i}", block
        for s, stage in enumerate(self.stages):
            for i, block in enumerate(stage):
                yield f"stage {s + 1}, block {i + 1} ({block.type})", f"stages.{s}.{i}", block

    @property
    def num_blocks(self) -> int:
        return len(self.stem) + sum(len(stage) for stage in self.stages)

    def check_structure(self) -> None:
        """Names, fields and options valid for each block type (no channel arithmetic)."""
        if not self.stages or not any(self.stages):
            raise ArchitectureError("architecture", "stages", "needs at least one block")
        for location, _, block in self.blocks():
            try:
                info = get_block(block.type)
            except ArchsearchError:
                raise ArchitectureError(
                    location, "type", f"unknown block '{block.type}'"
                ) from None
            if block.out_channels is None and not info.cls.keeps_channels:
                raise ArchitectureError(location, "out_channels", "is required for this block")
        self.head.validate()

    def infer_shapes(
        self, in_channels: int = 3, input_size: tuple[int, int] | int | None = None
    ) -> list[LayerShape]:
        """Shapes block by block, validating every block's arguments on the way.

        Without ``input_size`` only channels and arguments are checked (spatial sizes are then
        reported as 0). Raises :class:`ArchitectureError` naming the block and field.
        """
        self.check_structure()
        if isinstance(input_size, int):
            input_size = (input_size, input_size)
        height, width = input_size if input_size is not None else (0, 0)
        channels = in_channels
        shapes: list[LayerShape] = []
        for location, path, block in self.blocks():
            info = get_block(block.type)
            out_channels = channels if block.out_channels is None else block.out_channels
            try:
                validate_block_args(block.type, channels, out_channels, block.stride, block.kwargs)
            except ArchsearchError as err:
                field_name = getattr(err, "argument", "")
                message = getattr(err, "reason", str(err))
                if field_name == "in_channels":
                    message = f"input width {channels} from the previous block: {message}"
                raise ArchitectureError(location, field_name, message) from None
            out_h, out_w = height, width
            if input_size is not None:
                options = {**info.defaults, **block.kwargs}
                out_h = info.cls.output_size(height, block.stride, **options)
                out_w = info.cls.output_size(width, block.stride, **options)
                if out_h < 1 or out_w < 1:
                    raise ArchitectureError(
                        location,
                        "stride" if block.stride > 1 else "kernel_size",
                        f"the {height}x{width} feature map would shrink to {out_h}x{out_w};"
                        " the input is too small for this architecture",
                    )
            shapes.append(
                LayerShape(
                    location=path,
                    block=block,
                    in_shape=(channels, height, width),
                    out_shape=(out_channels, out_h, out_w),
                )
            )
            channels, height, width = out_channels, out_h, out_w
        return shapes

    def output_channels(self, in_channels: int = 3) -> int:
        return self.infer_shapes(in_channels)[-1].out_shape[0]


def _collapse(blocks: tuple[BlockSpec, ...]) -> str:
    names = [str(b) for b in blocks]
    out: list[str] = []
    i = 0
    while i < len(names):
        j = i
        while j + 1 < len(names) and names[j + 1] == names[i]:
            j += 1
        count = j - i + 1
        out.append(names[i] if count == 1 else f"{names[i]}*{count}")
        i = j + 1
    return " ".join(out) if out else "-"


def _fmt(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _known(name: str) -> bool:
    try:
        get_block(name)
    except ArchsearchError:
        return False
    return True


def _is_scalar(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, (bool, int, str))


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def load_architecture(path: str | Path) -> Architecture:
    """An architecture JSON file (as ``archsearch export`` writes); errors name the file."""
    file = Path(path)
    if not file.is_file():
        raise ArchsearchError(f"{path}: file not found")
    try:
        return Architecture.from_json(file.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ArchsearchError(f"{path}: not a text file (JSON expected)") from None
    except ArchsearchError as error:
        raise ArchsearchError(f"{path}: {error}") from None
