"""Export a trained candidate: architecture JSON, weights, a ``torch.export`` program, and a
re-profile that confirms the numbers stored in the study; optionally an ONNX file checked in
ONNX Runtime.

The program (``model.pt2``, ``torch.export.save``) replaces TorchScript, which PyTorch 2.13
deprecates; load it with ``torch.export.load(path).module()``. ``model.onnx`` (input ``x``
with a free batch dimension, output ``logits``) comes from PyTorch's own exporter and is run
in ONNX Runtime against the PyTorch model on the same inputs (batches of 1 and 5) before it is
kept: the largest absolute difference of the logits is reported and must stay within
:data:`ONNX_TOLERANCE`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

import optuna
import torch
from optuna.trial import FrozenTrial
from torch import nn

from .architecture import Architecture
from .build import build_model
from .checkpoint import save_tensors
from .errors import ArchsearchError, ConfigError, choice
from .profiler import profile_model
from .study import (
    OBJECTIVES,
    architecture_of,
    completed,
    objective_names,
    record_of,
    run_record,
    weights_file,
)

#: the largest absolute difference of logits allowed between ONNX Runtime and PyTorch (float32
#: kernels sum in other orders: differences of 1e-6 are usual)
ONNX_TOLERANCE = 1e-4
ExportFormat = Literal["torch", "onnx"]


@dataclass(frozen=True)
class ExportResult:
    trial: int | None  # None: a network trained by `archsearch train`
    files: dict[str, str]
    profile_matches: bool
    params: int
    flops: int
    mac: int
    onnx_max_abs_diff: float | None = None


def export_onnx(model: nn.Module, example: torch.Tensor, path: Path) -> float:
    """Write ``model`` as ONNX at ``path`` after checking it in ONNX Runtime; the largest
    absolute difference of its logits from PyTorch's on batches of 1 and 5."""
    from .deploy import max_abs_difference, onnx_bytes

    model_bytes = onnx_bytes(model, example)
    generator = torch.Generator().manual_seed(0)
    worst = 0.0
    for batch in (1, 5):
        inputs = torch.randn((batch, *example.shape[1:]), generator=generator)
        worst = max(worst, max_abs_difference(model_bytes, model, inputs))
    if not worst <= ONNX_TOLERANCE:
        raise ArchsearchError(
            f"the ONNX export differs from the model in ONNX Runtime by {worst:.3g}"
            f" (more than {ONNX_TOLERANCE:g})"
        )
    path.write_bytes(model_bytes)
    return worst


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
        raise ConfigError(
            "objective",
            f"'{objective}' is not one of the run's objectives ({', '.join(names)})",
        )
    index = names.index(objective)
    sign = 1 if OBJECTIVES[objective] == "maximize" else -1
    return max(done, key=lambda t: sign * t.values[index])


def export_formats(text: str) -> tuple[ExportFormat, ...]:
    """The ``format`` option: ``torch``, or ``onnx`` (the torch.export program and ONNX)."""
    if text == "onnx":
        return ("torch", "onnx")
    return (choice("format", text, get_args(ExportFormat)),)


def export_run(
    run: str,
    out_dir: str | Path,
    *,
    trial: int | None = None,
    objective: str = "accuracy",
    formats: tuple[ExportFormat, ...] = ("torch",),
    runs_dir: str = "runs",
) -> ExportResult:
    """Export from ``run``: an ``archsearch train`` output folder, or a run (folder or name
    under ``runs_dir``) whose trial ``trial`` — or best for ``objective`` — is exported."""
    from .runs import open_run, run_folder

    if (Path(run) / "summary.json").is_file() and not (Path(run) / "study.db").exists():
        return export_trained(run, out_dir, formats)
    study = open_run(run, runs_dir)
    chosen = pick_trial(study, trial, objective)
    return export_trial(study, chosen, out_dir, run_folder(run, runs_dir) / "weights", formats)


def export_trial(
    study: optuna.Study,
    trial: FrozenTrial,
    out_dir: str | Path,
    weights_dir: Path,
    formats: tuple[ExportFormat, ...] = ("torch",),
) -> ExportResult:
    """Export a run's trained trial (``formats``: ``onnx`` adds the checked ONNX file)."""
    weights = weights_file(weights_dir, trial.number)
    if not weights.is_file():
        raise ArchsearchError(
            f"{weights}: the trained weights of trial {trial.number} are missing"
        )
    recorded = record_of(trial)
    run = run_record(study)
    about = {
        "trial": trial.number,
        "dataset": run.dataset,
        "run_config": run.options,
        "validation_accuracy": recorded.get("val_accuracy"),
    }
    return _export(
        architecture_of(trial), weights, run.num_classes,
        run.input_shape, Path(out_dir), formats, about, recorded,
    )  # fmt: skip


def export_trained(
    folder: str | Path, out_dir: str | Path, formats: tuple[ExportFormat, ...] = ("torch",)
) -> ExportResult:
    """Export a network trained by ``archsearch train`` (its output ``folder``)."""
    import json

    from .architecture import load_architecture

    folder = Path(folder)
    summary_file, weights = folder / "summary.json", folder / "weights.pt"
    for needed in (summary_file, weights, folder / "architecture.json"):
        if not needed.is_file():
            raise ArchsearchError(f"{needed}: missing (not a finished `archsearch train` folder)")
    summary = json.loads(summary_file.read_text())
    arch = load_architecture(folder / "architecture.json")
    about = {
        "trained": str(folder),
        "source": summary.get("source"),
        "dataset": summary.get("dataset"),
        "test_accuracy": summary.get("test_accuracy"),
    }
    recorded = {k: summary.get(k) for k in ("params", "flops", "mac")}
    shape = tuple(summary["input_shape"])
    return _export(
        arch, weights, int(summary["num_classes"]), shape, Path(out_dir), formats, about,
        recorded,
    )  # fmt: skip


def _export(
    arch: Architecture,
    weights: Path,
    num_classes: int,
    input_shape: tuple[int, ...],
    out: Path,
    formats: tuple[ExportFormat, ...],
    about: dict[str, Any],
    recorded: dict[str, Any],
) -> ExportResult:
    unknown = [f for f in formats if f not in get_args(ExportFormat)]
    if unknown:
        raise ConfigError("format", f"'{unknown[0]}': expected torch or onnx")
    if "onnx" in formats:
        from .deploy import require_onnx

        require_onnx()  # before any file is written
    out.mkdir(parents=True, exist_ok=True)
    in_channels, *size = input_shape
    state = torch.load(weights, map_location="cpu", weights_only=True)
    model = build_model(arch, num_classes, in_channels)
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
    save_tensors(model.state_dict(), Path(files["weights"]))
    torch.export.save(program, files["program"])
    onnx_diff = None
    if "onnx" in formats:
        files["onnx"] = str(out / "model.onnx")
        onnx_diff = export_onnx(model, example, Path(files["onnx"]))
    profile = profile_model(model, (1, in_channels, *size))
    # the costs recorded with the network (the study's, or the training's summary)
    compared = [k for k in ("params", "flops", "mac") if recorded.get(k) is not None]
    matches = all(getattr(profile, k) == recorded[k] for k in compared)
    Path(files["profile"]).write_text(
        json.dumps(
            {
                **about,
                "profile": profile.to_dict(),
                "matches_study": matches,
                "onnx_max_abs_diff": onnx_diff,
            },
            indent=2,
            default=str,
        )
        + "\n"
    )
    return ExportResult(
        about.get("trial"), files, matches, profile.params, profile.flops, profile.mac, onnx_diff
    )
