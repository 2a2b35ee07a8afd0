"""Search spaces: YAML files → :class:`SearchSpace` → sampled :class:`~archsearch.Architecture`.

Built-in spaces are the YAML files of the repository's ``search_spaces/`` folder, shipped in
the package as ``archsearch.search_spaces``; any other file is loaded by its path.
"""

from __future__ import annotations

import math
from importlib import resources
from pathlib import Path

from ..errors import SpaceError
from ._parse import parse_hyperparameter, parse_space
from ._yaml import load_yaml
from .distributions import Categorical, Distribution, Fixed, FloatRange, IntRange
from .sample import (
    AUTO_POOL_MIN_SIZE,
    AUTO_STRIDE_MIN_SIZE,
    Layout,
    StageLayout,
    default_hyperparameters,
    fit_to_input,
    scale_width,
)
from .spec import DEFAULT_HYPERPARAMETERS, HYPERPARAMETERS, SearchSpace

_BUILTIN_PACKAGE = "archsearch.search_spaces"


def list_spaces() -> list[str]:
    """Names of the built-in spaces (``mobile``, ``resnet``, ``inception``, ``mixed`` ...)."""
    folder = resources.files(_BUILTIN_PACKAGE)
    return sorted(
        entry.name.removesuffix(".yaml")
        for entry in folder.iterdir()
        if entry.name.endswith(".yaml")
    )


def load_space(name_or_path: str | Path, check: bool = True) -> SearchSpace:
    """Load a built-in space by name, or a space file by path, and validate it.

    With ``check`` (the default), a few architectures are sampled for each of the space's
    ``input_sizes`` and checked, so a space that yields impossible networks fails here.
    Raises :class:`~archsearch.SpaceError` naming the file, line and field of any problem.
    """
    return space_from_text(*read_space_text(name_or_path), check=check)


def describe_samples(
    space: SearchSpace, n: int, seed: int, input_size: int, classes: int, channels: int
) -> list[dict[str, object]]:
    """``n`` sampled architectures with their id, one-line form, parameter count and JSON."""
    from ..build import count_parameters

    rows: list[dict[str, object]] = []
    for arch in space.sample(n, seed=seed, input_size=input_size):
        arch.infer_shapes(channels, input_size)
        rows.append(
            {
                "id": arch.id,
                "summary": str(arch),
                "params": count_parameters(arch, classes, channels),
                "architecture": arch.to_dict(),
            }
        )
    return rows


def continuous_fields(space: SearchSpace) -> list[str]:
    """The searched fields that are continuous ranges (no step): what keeps a space from
    being finite."""
    return [name for name, d in space.distributions().items() if d.values() is None]


def space_size(space: SearchSpace) -> int | None:
    """Points of the space's grid — every value of every searched field, hyperparameters
    included — or ``None`` when a field is a continuous range (the space is not finite). A
    field that applies to some choices only (an inverted residual's expansion) counts in every
    point, so several points may be one network."""
    if continuous_fields(space):
        return None
    return math.prod(len(d.values() or ()) for d in space.distributions().values())


def space_from_text(text: str, source: str, check: bool = True) -> SearchSpace:
    """Parse and validate a space file's ``text``; errors name ``source`` (a file, or where
    the text came from, e.g. a stored run)."""
    data, lines = load_yaml(text, source)
    space = parse_space(data, source, lines)
    if check:
        space.check_feasible()
    return space


def read_space_text(name_or_path: str | Path) -> tuple[str, str]:
    """The text of a built-in space (by name) or of a space file (by path), and its source
    name for error messages."""
    text_name = str(name_or_path)
    path = Path(text_name)
    is_path = path.suffix in (".yaml", ".yml") or path.exists() or "/" in text_name
    if not is_path:
        resource = resources.files(_BUILTIN_PACKAGE) / f"{text_name}.yaml"
        if not resource.is_file():
            raise SpaceError(
                text_name,
                "",
                f"no built-in space of this name (built-in: {', '.join(list_spaces())});"
                " or give the path of a .yaml file",
            )
        return resource.read_text(encoding="utf-8"), f"{text_name} (built-in)"
    if not path.is_file():
        raise SpaceError(text_name, "", "file not found" if not path.exists() else "not a file")
    try:
        return path.read_text(encoding="utf-8"), text_name
    except UnicodeDecodeError:
        raise SpaceError(text_name, "", "not a text file (UTF-8 expected)") from None
    except OSError as err:
        raise SpaceError(text_name, "", f"cannot read: {err.strerror}") from None


__all__ = [
    "AUTO_POOL_MIN_SIZE",
    "AUTO_STRIDE_MIN_SIZE",
    "DEFAULT_HYPERPARAMETERS",
    "HYPERPARAMETERS",
    "Categorical",
    "Distribution",
    "Fixed",
    "FloatRange",
    "IntRange",
    "Layout",
    "SearchSpace",
    "StageLayout",
    "continuous_fields",
    "default_hyperparameters",
    "describe_samples",
    "fit_to_input",
    "list_spaces",
    "load_space",
    "parse_hyperparameter",
    "parse_space",
    "read_space_text",
    "scale_width",
    "space_from_text",
    "space_size",
]
