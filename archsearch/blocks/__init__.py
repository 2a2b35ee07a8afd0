"""Block library: every block type, registered by name (see :mod:`.registry`).

Importing this package registers all built-in blocks.
"""

from __future__ import annotations

from . import conv, inception, mobilenet, resnet, shufflenet, squeeze_excite  # noqa: F401
from .helpers import ConvBnAct, SqueezeExcite, channel_shuffle, create_act, make_divisible
from .registry import (
    Block,
    BlockInfo,
    check_option,
    create_block,
    get_block,
    list_blocks,
    register_block,
    validate_block_args,
)

__all__ = [
    "Block",
    "BlockInfo",
    "ConvBnAct",
    "SqueezeExcite",
    "channel_shuffle",
    "check_option",
    "create_act",
    "create_block",
    "get_block",
    "list_blocks",
    "make_divisible",
    "register_block",
    "validate_block_args",
]
