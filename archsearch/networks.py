"""One network named by the user — a zoo entry, an architecture JSON file, or a sample of a
space — as ``profile``, ``tune`` and ``train`` take it (``--model`` / ``--arch`` /
``--space``): picked by one function, :func:`pick_network`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from . import zoo
from .architecture import Architecture, load_architecture
from .errors import ConfigError
from .profiler import ProfileResult, parse_input_shape, profile_model
from .space import load_space


@dataclass(frozen=True)
class PickedNetwork:
    name: str  # "resnet50", "arch.json", "mobile seed 3"
    architecture: Architecture
    from_zoo: bool


def pick_network(
    *,
    model: str | None = None,
    arch: str | None = None,
    space: str | None = None,
    seed: int = 0,
    input_size: tuple[int, int] = (32, 32),
) -> PickedNetwork:
    """Exactly one of: a zoo network (``model``), an architecture JSON file (``arch``), or the
    ``seed``-th sample of a space (``space``, at ``input_size``)."""
    given = [flag for flag, value in (("model", model), ("arch", arch), ("space", space)) if value]
    if len(given) != 1:
        raise ConfigError(
            given[1] if given else "model", "give exactly one of model, arch or space"
        )
    if model is not None:
        return PickedNetwork(model, zoo.get(model), True)
    if arch is not None:
        return PickedNetwork(arch, load_architecture(arch), False)
    assert space is not None
    architecture = load_space(space).sample(1, seed=seed, input_size=input_size)[0]
    return PickedNetwork(f"{space} seed {seed}", architecture, False)


def profile_network(
    *,
    model: str | None = None,
    arch: str | None = None,
    space: str | None = None,
    seed: int = 0,
    input_shape: str = "1x3x224x224",
    batch: int | Sequence[int] | None = None,
    classes: int | None = None,
    **options: Any,
) -> tuple[str, Architecture, ProfileResult]:
    """Profile exactly one of: a zoo network (``model``), an architecture JSON file
    (``arch``), or an architecture sampled from a space (``space`` with ``seed``). ``classes``
    defaults to 1000 for a zoo network (ImageNet's), else 10. Returns the network's name, its
    architecture and the profile (``options``: those of :func:`profile_model`). ``batch``
    replaces the input's N; several batches are a latency sweep (the static profile at the
    first)."""
    if sum(s is not None for s in (model, arch, space)) != 1:
        raise ConfigError("model", "give exactly one of --model, --arch or --space")
    shape = parse_input_shape(input_shape)
    batches = [batch] if isinstance(batch, int) else list(batch or [])
    if batches:
        shape = (batches[0], *shape[1:])
        if len(batches) > 1:
            options["batches"] = batches
    picked = pick_network(model=model, arch=arch, space=space, seed=seed, input_size=shape[2:])
    name, architecture = picked.name, picked.architecture
    num_classes = classes or (1000 if model is not None else 10)
    result = profile_model(architecture, shape, num_classes=num_classes, **options)
    return name, architecture, result
