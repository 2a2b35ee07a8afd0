"""The block registry: one name → constructor table shared by space files, architectures and
the DARTS supernet's candidate operations (the role of timm's ``@register_model``).

A block is an ``nn.Module`` subclass of :class:`Block`. Its constructor takes
``(in_channels, out_channels, stride, *, option=default, ...)``; the keyword options and their
type hints are the block's whole public interface, so a new block's options become searchable
from YAML with no further code. Blocks validate every argument before allocating a tensor, and
report their output spatial size from shapes alone, so architectures can be checked for free.
"""

from __future__ import annotations

import fnmatch
import functools
import inspect
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, TypeVar

from torch import nn

from ..errors import BlockArgumentError
from .helpers import ACTIVATIONS, GATES, NORMS

OptionValue = int | float | bool | str | None


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


OptionRule = tuple[Callable[[Any], bool], str]  # (check, what a valid value is)


def int_at_least(minimum: int) -> OptionRule:
    return (lambda v: is_int(v) and v >= minimum), f"an integer >= {minimum}"


# Value rules shared by every block that takes an option of this name, so an option means the
# same thing everywhere (a block may override one in ``Block.option_rules``).
OPTION_RULES: dict[str, OptionRule] = {
    "kernel_size": (lambda v: is_int(v) and v >= 1 and v % 2 == 1, "an odd integer >= 1"),
    "expansion": (lambda v: is_number(v) and v >= 1, "a number >= 1"),
    "groups": int_at_least(1),
    "se_ratio": (lambda v: is_number(v) and 0 < v <= 1, "a number in (0, 1]"),
    "activation": (lambda v: v in ACTIVATIONS, f"one of {', '.join(ACTIVATIONS)}"),
    "se_gate": (lambda v: v in GATES, f"one of {', '.join(GATES)}"),
    "norm": (lambda v: v in NORMS, f"one of {', '.join(NORMS)}"),
}


class Block(nn.Module):
    """Base class of registered blocks.

    Subclasses implement ``__init__(in_channels, out_channels, stride=1, *, ...)`` and, where
    the generic rules are not enough, :meth:`check` (cross-argument constraints) and
    :meth:`output_size` (spatial size after the block).
    """

    name: ClassVar[str] = ""
    abbrev: ClassVar[str] = ""
    #: True for blocks that cannot change the channel count (pooling, SE, skip).
    keeps_channels: ClassVar[bool] = False
    option_rules: ClassVar[dict[str, OptionRule]] = {}

    @classmethod
    def check(cls, in_channels: int, out_channels: int, stride: int, **options: Any) -> None:
        """Raise :class:`BlockArgumentError` on arguments that are invalid together."""

    @classmethod
    def output_size(cls, size: int, stride: int, **options: Any) -> int:
        """Spatial size after the block; the default is a 'same'-padded odd-kernel conv."""
        return (size - 1) // stride + 1


@dataclass(frozen=True)
class BlockInfo:
    """What the registry knows of a block: its class and its keyword options with defaults."""

    name: str
    cls: type[Block]
    abbrev: str
    options: Mapping[str, inspect.Parameter]

    @property
    def defaults(self) -> dict[str, Any]:
        return {name: p.default for name, p in self.options.items()}

    def rule(self, option: str) -> OptionRule | None:
        return self.cls.option_rules.get(option) or OPTION_RULES.get(option)


_REGISTRY: dict[str, BlockInfo] = {}
_B = TypeVar("_B", bound=type[Block])


def register_block(name: str, abbrev: str) -> Callable[[_B], _B]:
    """Class decorator adding a :class:`Block` subclass to the registry under ``name``."""

    def decorate(cls: _B) -> _B:
        if name in _REGISTRY:
            raise RuntimeError(f"duplicate registrations for block '{name}'")
        signature = inspect.signature(cls.__init__)
        positional = list(signature.parameters)[1:4]
        if positional != ["in_channels", "out_channels", "stride"]:
            raise TypeError(
                f"{cls.__name__}.__init__ must start (in_channels, out_channels, stride)"
            )
        hints = typing.get_type_hints(cls.__init__)
        options = {
            p.name: p.replace(annotation=hints.get(p.name, Any))
            for p in signature.parameters.values()
            if p.kind is inspect.Parameter.KEYWORD_ONLY
        }
        cls.name = name
        cls.abbrev = abbrev
        _REGISTRY[name] = BlockInfo(name, cls, abbrev, options)
        constructor = cls.__init__

        # Every construction path (create_block, build_model, direct use) validates first.
        @functools.wraps(constructor)
        def validating_init(
            self: Block, in_channels: int, out_channels: int, stride: int = 1, **options: Any
        ) -> None:
            validate_block_args(name, in_channels, out_channels, stride, options)
            constructor(self, in_channels, out_channels, stride, **options)

        cls.__init__ = validating_init  # type: ignore[method-assign]
        return cls

    return decorate


def list_blocks(pattern: str = "*") -> list[str]:
    """Registered block names matching a shell-style pattern, sorted."""
    return sorted(name for name in _REGISTRY if fnmatch.fnmatch(name, pattern))


def get_block(name: str) -> BlockInfo:
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise BlockArgumentError(
            str(name), "type", f"unknown block (known: {', '.join(list_blocks())})"
        ) from None


def _matches_type(value: Any, annotation: Any) -> bool:
    if annotation is Any:
        return True
    origin = typing.get_origin(annotation)
    if origin is Literal:
        return value in typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        return any(_matches_type(value, arg) for arg in typing.get_args(annotation))
    if annotation is type(None):
        return value is None
    if annotation is bool:
        return isinstance(value, bool)
    if annotation is int:
        return is_int(value)
    if annotation is float:
        return is_number(value)
    return isinstance(value, annotation)


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(annotation))
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(annotation))
    if annotation is type(None):
        return "null"
    return getattr(annotation, "__name__", str(annotation))


def check_option(block: str, option: str, value: Any) -> None:
    """Validate one option value for one block type, alone (used on every choice of a space)."""
    info = get_block(block)
    if option not in info.options:
        accepted = ", ".join(info.options) or "none"
        raise BlockArgumentError(block, option, f"unknown option (accepted: {accepted})")
    annotation = info.options[option].annotation
    if not _matches_type(value, annotation):
        raise BlockArgumentError(
            block, option, f"expected {_type_name(annotation)}, got {value!r}"
        )
    rule = info.rule(option)
    if rule is not None and value is not None and not rule[0](value):
        raise BlockArgumentError(block, option, f"expected {rule[1]}, got {value!r}")


def validate_block_args(
    block: str, in_channels: int, out_channels: int, stride: int, options: Mapping[str, Any]
) -> None:
    """Check every argument of a block (each alone, then together) before it is built."""
    info = get_block(block)
    for field, value in (("in_channels", in_channels), ("out_channels", out_channels)):
        if not is_int(value) or value < 1:
            raise BlockArgumentError(block, field, f"expected an integer >= 1, got {value!r}")
    if not is_int(stride) or stride < 1:
        raise BlockArgumentError(block, "stride", f"expected an integer >= 1, got {stride!r}")
    for option, value in options.items():
        check_option(block, option, value)
    if info.cls.keeps_channels and out_channels != in_channels:
        raise BlockArgumentError(
            block,
            "out_channels",
            f"must equal in_channels ({in_channels}): this block keeps the channel count,"
            f" got {out_channels}",
        )
    info.cls.check(in_channels, out_channels, stride, **{**info.defaults, **options})


def create_block(
    name: str, in_channels: int, out_channels: int, stride: int = 1, **options: Any
) -> Block:
    """Build a registered block by name; arguments are validated before any weight exists."""
    return get_block(name).cls(in_channels, out_channels, stride, **options)
