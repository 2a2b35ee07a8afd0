"""The ``archsearch`` command line: one thin, typed function per command over the library.

Every command catches :class:`~archsearch.ArchsearchError` (bad input) in one place, prints its
message and exits with status 2, never a traceback.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from . import __version__
from .errors import ArchsearchError

app = typer.Typer(
    name="archsearch",
    help="Neural architecture search and CNN benchmarking.\n\n"
    "Example: archsearch show --space mobile --sample 5 --seed 0",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console(highlight=False)
err = Console(stderr=True, highlight=False)
F = TypeVar("F", bound=Callable[..., Any])

SpaceOpt = Annotated[
    str,
    typer.Option(
        "--space",
        help="A built-in space name (see `archsearch spaces`) or a path to a space YAML file.",
    ),
]
SeedOpt = Annotated[int, typer.Option(help="Random seed (Optuna's RandomSampler).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
ClassesOpt = Annotated[int, typer.Option("--classes", min=1, help="Number of output classes.")]
ChannelsOpt = Annotated[int, typer.Option("--channels", min=1, help="Input channels.")]


def user_errors(command: F) -> F:
    """Turn bad input into one message on stderr and exit status 2."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except ArchsearchError as error:
            err.print(f"[bold red]error:[/] {error}", soft_wrap=True, markup=True)
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


def _version(value: bool) -> None:
    if value:
        out.print(f"archsearch {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Neural architecture search and CNN benchmarking.

    Example: archsearch show --space mobile --sample 5 --seed 0
    """


@app.command()
@user_errors
def spaces(as_json: JsonOpt = False) -> None:
    """List the built-in search spaces.

    Example: archsearch spaces
    """
    from .space import list_spaces, load_space

    rows = [(name, load_space(name, check=False).description) for name in list_spaces()]
    if as_json:
        out.print_json(json.dumps([{"name": n, "description": d} for n, d in rows]))
        return
    table = Table("space", "description", title="Built-in search spaces")
    for name, description in rows:
        table.add_row(name, description)
    out.print(table)


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
    from .space import load_space

    rows = describe_samples(load_space(space), sample, seed, input_size, classes, channels)
    if as_json:
        out.print_json(json.dumps(rows))
        return
    table = Table(
        "id",
        "architecture",
        "params",
        title=f"{sample} samples of '{space}' at {input_size}x{input_size}, seed {seed}",
    )
    for row in rows:
        table.add_row(row["id"], row["summary"], f"{row['params']:,}")
    out.print(table)


def describe_samples(
    space: Any, n: int, seed: int, input_size: int, classes: int, channels: int
) -> list[dict[str, Any]]:
    from .build import count_parameters

    rows = []
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


@app.command()
@user_errors
def zoo(
    classes: ClassesOpt = 1000,
    channels: ChannelsOpt = 3,
    as_json: JsonOpt = False,
) -> None:
    """List the reference networks with their parameter counts.

    Example: archsearch zoo --classes 10
    """
    from . import zoo as model_zoo
    from .build import count_parameters

    rows = [
        {
            "name": name,
            "params": count_parameters(model_zoo.get(name), classes, channels),
            "paper": model_zoo.info(name).paper,
        }
        for name in model_zoo.names()
    ]
    if as_json:
        out.print_json(json.dumps(rows))
        return
    table = Table("model", "params", "reference", title=f"Reference networks ({classes} classes)")
    for row in rows:
        table.add_row(row["name"], f"{row['params']:,}", row["paper"])
    out.print(table)


def main() -> None:
    """Console-script entry point."""
    app(prog_name="archsearch")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
