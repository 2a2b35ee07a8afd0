"""Training checkpoints: what a killed training needs to continue from its last finished
epoch instead of starting over (the trainer's, the SPOS and DARTS supernets').

A checkpoint is one ``torch.save`` file holding a ``signature`` (a digest of everything the
training depends on: network, options, data) beside the state; one of other options is
ignored, never resumed into the wrong training. It holds tensors and plain data only (the
random states included), and is read with ``weights_only=True``: a file that holds anything
else — someone else's pickle, which could run code as it is read — is refused, not run.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import torch

from .errors import ArchsearchError, as_disk_full


def signature(**what: Any) -> str:
    """A short digest of ``what`` (JSON-able, or its ``repr`` is taken)."""
    text = json.dumps(what, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def save_checkpoint(path: Path, digest: str, state: dict[str, Any]) -> None:
    """Write ``state`` so that a kill mid-write leaves the previous checkpoint intact."""
    save_tensors({"signature": digest, **state}, path)


def save_tensors(state: Any, path: Path) -> None:
    """``torch.save`` ``state`` to ``path`` whole or not at all (see :func:`write_whole`)."""
    # through a file object: torch reports a failed write to a path only as "unexpected pos",
    # while a file object's OSError (errno ENOSPC) stays in the error's chain
    write_whole(path, lambda handle: torch.save(state, handle))


def write_whole(path: Path, write: Callable[[BinaryIO], None]) -> None:
    """Write ``path`` whole or not at all: ``write`` fills a file beside it, which is then
    renamed over it, so a kill or a full disk mid-write leaves the previous file intact. A
    full disk raises :class:`~archsearch.errors.DiskFull` naming ``path`` (and removes the
    part written, to give its space back)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    try:
        with partial.open("wb") as handle:
            write(handle)
    except Exception as error:
        partial.unlink(missing_ok=True)
        full = as_disk_full(error, path)
        if full is not None:
            raise full from error
        raise
    partial.replace(path)


def load_checkpoint(path: Path | None, digest: str, device: torch.device) -> dict[str, Any] | None:
    """The state saved at ``path`` for ``digest``; ``None`` when there is none (or it is of
    another training)."""
    if path is None or not path.is_file():
        return None
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError) as refused:
        # torch's words differ by version: "Unsupported global: GLOBAL x.y", "unsupported
        # GLOBAL x.y whose module x is blocked"
        forbidden = re.search(r"(?i)unsupported (?:global: )?GLOBAL ([\w.]+)", str(refused))
        if forbidden:  # torch's restricted unpickler stopped at a callable: nothing ran
            raise ArchsearchError(
                f"{path}: not a checkpoint of this archsearch (it names {forbidden.group(1)},"
                " and a checkpoint holds only tensors and plain data); nothing in it was run."
                " Delete it to train from the start"
            ) from None
        raise ArchsearchError(
            f"{path}: not a readable checkpoint ({type(refused).__name__}); delete it to train"
            " from the start"
        ) from None
    if not isinstance(state, dict):
        raise ArchsearchError(f"{path}: not a checkpoint (delete it to train from the start)")
    return state if state.get("signature") == digest else None


def random_states(generator: torch.Generator) -> dict[str, Any]:
    """Every random generator a training draws from: ``generator`` (order, augmentation), the
    global CPU and CUDA ones (initialisation, dropout), numpy's and Python's."""
    import random

    import numpy as np

    name, keys, position, has_gauss, gauss = np.random.get_state(legacy=True)  # type: ignore[misc]
    return {
        "generator": generator.get_state(),
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
        # numpy's state as a tensor and numbers: a checkpoint holds no numpy objects
        "numpy": [name, torch.from_numpy(keys.astype(np.int64)), position, has_gauss, gauss],
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
    name, keys, position, has_gauss, gauss = states["numpy"]
    np.random.set_state((name, keys.cpu().numpy().astype(np.uint32), position, has_gauss, gauss))
    version, internal, cached = states["python"]
    random.setstate((version, tuple(internal), cached))
