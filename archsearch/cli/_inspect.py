"""Commands that look at spaces and networks: ``spaces``, ``show``, ``zoo``, ``profile``."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from ._app import app, user_errors
from ._console import out
from ._options import ChannelsOpt, ClassesOpt, DeviceOpt, JsonOpt, SeedOpt, SpaceOpt


@app.command()
@user_errors
def spaces(as_json: JsonOpt = False) -> None:
    """List the built-in search spaces.

    Example: archsearch spaces
    """
    from ..space import list_spaces, load_space
    from ._console import print_rows

    rows = [
        {"name": name, "description": load_space(name, check=False).description}
        for name in list_spaces()
    ]
    if as_json:
        out.print_json(json.dumps(rows))
        return
    print_rows("Built-in search spaces", {"space": "name", "description": "description"}, rows)


@app.command()
@user_errors
def show(
    space: SpaceOpt = "mobile",
    sample: Annotated[int, typer.Option(min=1, help="How many architectures to sample.")] = 5,
    seed: SeedOpt = 0,
    input_size: Annotated[
        int, typer.Option("--input-size", min=1, help="Input height and width in pixels.")
    ] = 32,
    classes: ClassesOpt = 10,
    channels: ChannelsOpt = 3,
    as_json: JsonOpt = False,
) -> None:
    """Sample architectures from a search space and show them.

    Example: archsearch show --space mobile --sample 5 --seed 0 --input-size 28
    """
    from ..runs._loop import describe_size
    from ..space import describe_samples, load_space
    from ._console import print_rows

    loaded = load_space(space)
    rows = describe_samples(loaded, sample, seed, input_size, classes, channels)
    if as_json:
        out.print_json(json.dumps(rows))
        return
    title = f"{sample} samples of '{space}' at {input_size}x{input_size}, seed {seed}"
    print_rows(title, {"id": "id", "architecture": "summary", "params": "params"}, rows)
    out.print(describe_size(loaded, input_size))


@app.command()
@user_errors
def zoo(classes: ClassesOpt = 1000, channels: ChannelsOpt = 3, as_json: JsonOpt = False) -> None:
    """List the reference networks with their parameter counts.

    Example: archsearch zoo --classes 10
    """
    from .. import zoo as model_zoo
    from ._console import print_rows

    rows = model_zoo.catalogue(classes, channels)
    if as_json:
        out.print_json(json.dumps(rows))
        return
    columns = {"model": "name", "params": "params", "reference": "paper"}
    print_rows(f"Reference networks ({classes} classes)", columns, rows)


@app.command()
@user_errors
def profile(
    model: Annotated[
        str | None, typer.Option("--model", help="A zoo network (see `archsearch zoo`).")
    ] = None,
    arch: Annotated[str | None, typer.Option("--arch", help="An architecture JSON file.")] = None,
    space: Annotated[
        str | None,
        typer.Option("--space", help="Sample the architecture from this space (with --seed)."),
    ] = None,
    seed: SeedOpt = 0,
    input_shape: Annotated[str, typer.Option("--input", help="N x C x H x W.")] = "1x3x224x224",
    batch: Annotated[
        str | None,
        typer.Option(
            "--batch",
            help="Batch size (overrides N of --input); several (1,8,32): a latency sweep.",
        ),
    ] = None,
    classes: Annotated[
        int | None,
        typer.Option(
            "--classes", min=1, help="Output classes (default: 1000 for --model, else 10)."
        ),
    ] = None,
    latency: Annotated[bool, typer.Option("--latency", help="Also measure latency.")] = False,
    latency_backend: Annotated[
        str,
        typer.Option(
            help="torch (eager), onnxruntime (exported to ONNX, the extra 'onnx'), or both:"
            " torch,onnxruntime."
        ),
    ] = "torch",
    device: DeviceOpt = "auto",
    threads: Annotated[int | None, typer.Option(min=1, help="CPU threads for latency.")] = None,
    dtype: Annotated[str, typer.Option(help="float32, bfloat16 or float16.")] = "float32",
    train: Annotated[
        bool, typer.Option("--train", help="Time a training step, not inference.")
    ] = False,
    per_layer: Annotated[bool, typer.Option("--per-layer", help="Show every layer.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Profile a network: params, FLOPs (multiply-adds), memory access cost, latency, and
    ShuffleNetV2 guideline findings.

    Example: archsearch profile --model resnet50 --input 1x3x224x224 --latency
    --latency-backend torch,onnxruntime --batch 1,8,32
    """
    from ..networks import profile_network
    from ..profiler import parse_batches, parse_latency_backends
    from ._console import print_profile

    name, architecture, result = profile_network(
        model=model,
        arch=arch,
        space=space,
        seed=seed,
        input_shape=input_shape,
        batch=parse_batches(batch),
        classes=classes,
        dtype=dtype,
        latency=latency,
        latency_backends=parse_latency_backends(latency_backend),
        device=device,
        threads=threads,
        train=train,
    )
    if as_json:
        data = {"model": name, "id": architecture.id, **result.to_dict(per_layer=per_layer)}
        out.print_json(json.dumps(data, default=str))
        return
    print_profile(name, architecture, result, per_layer)
