"""Export a trained candidate: architecture JSON, weights, a ``torch.export`` program, and a
re-profile that confirms the numbers stored in the study.

The program (``model.pt2``, ``torch.export.save``) replaces TorchScript, which PyTorch 2.13
deprecates; load it with ``torch.export.load(path).module()``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import optuna
import torch
from optuna.trial import FrozenTrial

from .build import build_model
from .errors import ArchsearchError
from .profiler import profile_model
from .study import (
    OBJECTIVES,
    architecture_of,
    completed,
    objective_names,
    record_of,
    weights_file,
)


@dataclass(frozen=True)
class ExportResult:
    trial: int
    files: dict[str, str]
    profile_matches: bool
    params: int
    flops: int
    mac: int


def pick_trial(study: optuna.Study, number: int | None, objective: str) -> FrozenTrial:
    done = completed(study)
    if not done:
        raise ArchsearchError("the run has no completed trial to export")
    if number is not None:
        match = [t for t in done if t.number == number]
        if not match:
            raise ArchsearchError(f"trial {number} is not a completed trial of this run")
        return match[0]
    names = objective_names(study)
    if objective not in names:
        raise ArchsearchError(
            f"--objective '{objective}' is not one of the run's objectives ({', '.join(names)})"
        )
    index = names.index(objective)
    sign = 1 if OBJECTIVES[objective] == "maximize" else -1
    return max(done, key=lambda t: sign * t.values[index])


def export_trial(
    study: optuna.Study, trial: FrozenTrial, out_dir: str | Path, weights_dir: Path
) -> ExportResult:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    arch = architecture_of(trial)
    dataset = study.user_attrs.get("dataset", "")
    config = study.user_attrs.get("config", {})
    weights = weights_file(weights_dir, trial.number)
    if not weights.is_file():
        raise ArchsearchError(
            f"{weights}: the trained weights of trial {trial.number} are missing"
        )
    state = torch.load(weights, map_location="cpu", weights_only=True)
    in_channels, *size = study.user_attrs["input_shape"]
    model = build_model(arch, int(study.user_attrs["num_classes"]), in_channels)
    model.load_state_dict(state)
    model.eval()
    example = torch.randn(2, in_channels, *size)  # batch 2: a size-1 dim would be specialised
    batch = torch.export.Dim("batch", min=1, max=65536)
    program = torch.export.export(model, (example,), dynamic_shapes={"x": {0: batch}})
    with torch.inference_mode():
        reproduced = torch.allclose(program.module()(example), model(example), atol=1e-5)
    if not reproduced:
        raise ArchsearchError("the exported program does not reproduce the model")
    files = {
        "architecture": str(out / "architecture.json"),
        "weights": str(out / "weights.pt"),
        "program": str(out / "model.pt2"),
        "profile": str(out / "profile.json"),
    }
    Path(files["architecture"]).write_text(arch.to_json(indent=2) + "\n")
    torch.save(model.state_dict(), files["weights"])
    torch.export.save(program, files["program"])
    profile = profile_model(model, (1, in_channels, *size))
    recorded = record_of(trial)
    matches = (profile.params, profile.flops, profile.mac) == (
        recorded.get("params"),
        recorded.get("flops"),
        recorded.get("mac"),
    )
    Path(files["profile"]).write_text(
        json.dumps(
            {
                "trial": trial.number,
                "dataset": dataset,
                "run_config": config,
                "validation_accuracy": recorded.get("val_accuracy"),
                "profile": profile.to_dict(),
                "matches_study": matches,
            },
            indent=2,
            default=str,
        )
        + "\n"
    )
    return ExportResult(trial.number, files, matches, profile.params, profile.flops, profile.mac)
