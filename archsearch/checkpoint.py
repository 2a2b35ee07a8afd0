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
