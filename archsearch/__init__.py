"""archsearch: neural architecture search and CNN benchmarking.

The pipeline, one stage per module::

    load_space(name)                                  space spec (YAML)    archsearch.space
      → space.sample_architecture(trial, input_size)  → Architecture (frozen, JSON)
      → build_model(arch, num_classes, in_channels)   → nn.Module          archsearch.build
      → profile_model(arch_or_model, input_shape)     → ProfileResult      archsearch.profiler
      → train → the trial record in an Optuna study   archsearch.train, archsearch.study
      → report                                        archsearch.report

A whole search run (create or resume its study, search, finish) is ``archsearch.runs``;
``archsearch.search(space, data=...)`` is the same from Python, on data as you hold it.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Any

from . import zoo
from .architecture import Architecture, BlockSpec, Head, LayerShape
from .blocks import create_block, list_blocks, register_block
from .build import build_model
from .errors import (
    ArchitectureError,
    ArchsearchError,
    BlockArgumentError,
    ConfigError,
    SpaceError,
)
from .profiler import ProfileResult, profile_model
from .space import SearchSpace, list_spaces, load_space

try:
    __version__ = version("archsearch")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"


def __getattr__(name: str) -> Any:
    # the Python API imports a run's whole machinery (Optuna, the searchers): only when used
    if name in ("search", "tune", "train_final"):
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'archsearch' has no attribute {name!r}")


__all__ = [
    "Architecture",
    "ArchitectureError",
    "ArchsearchError",
    "BlockArgumentError",
    "BlockSpec",
    "ConfigError",
    "Head",
    "LayerShape",
    "ProfileResult",
    "SearchSpace",
    "SpaceError",
    "__version__",
    "build_model",
    "create_block",
    "list_blocks",
    "list_spaces",
    "load_space",
    "profile_model",
    "register_block",
    "search",
    "train_final",
    "tune",
    "zoo",
]
