"""Training checkpoints: what a killed training needs to continue from its last finished
epoch instead of starting over (the trainer's, the SPOS and DARTS supernets').

A checkpoint is one ``torch.save`` file holding a ``signature`` (a digest of everything the
training depends on: network, options, data) beside the state; one of other options is
ignored, never resumed into the wrong training.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch


def signature(**what: Any) -> str:
    """A short digest of ``what`` (JSON-able, or its ``repr`` is taken)."""
    text = json.dumps(what, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def save_checkpoint(path: Path, digest: str, state: dict[str, Any]) -> None:
    """Write ``state`` so that a kill mid-write leaves the previous checkpoint intact."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    torch.save({"signature": digest, **state}, partial)
    partial.replace(path)


def load_checkpoint(path: Path | None, digest: str, device: torch.device) -> dict[str, Any] | None:
    """The state saved at ``path`` for ``digest``; ``None`` when there is none (or it is of
    another training)."""
    if path is None or not path.is_file():
        return None
    state = torch.load(path, map_location=device, weights_only=False)
    return state if state.get("signature") == digest else None


def random_states(generator: torch.Generator) -> dict[str, Any]:
    """Every random generator a training draws from: ``generator`` (order, augmentation), the
    global CPU and CUDA ones (initialisation, dropout), numpy's and Python's."""
    import random

    import numpy as np

    return {
        "generator": generator.get_state(),
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
        "numpy": np.random.get_state(),
        "python": random.getstate(),
    }


def restore_random_states(states: dict[str, Any], generator: torch.Generator) -> None:
    """Put back what :func:`random_states` saved. A checkpoint is loaded onto the training's
    device, but the global generators take their states as CPU byte tensors only (a CUDA
    state saved on a GPU comes back as a CUDA tensor): hence ``.cpu()``; ``generator``'s state
    is likewise a CPU tensor whatever its device."""
    import random

    import numpy as np

    generator.set_state(states["generator"].cpu())
    torch.set_rng_state(states["torch"].cpu())
    if states["cuda"] is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in states["cuda"]])
    np.random.set_state(states["numpy"])
    random.setstate(states["python"])
