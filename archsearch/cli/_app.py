"""The application object, its ``bench`` group and the one place bad input becomes a message
and exit status 2."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Annotated, Any, cast

import typer
from rich.markup import escape

from .. import __version__
from ..errors import ArchsearchError, ConfigError, as_disk_full
from ._console import err, out
from ._options import FLAGS, F

app = typer.Typer(
    name="archsearch",
    help="Neural architecture search and CNN benchmarking.\n\n"
    "Example: archsearch show --space mobile --sample 5 --seed 0",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
bench_app = typer.Typer(
    help="Benchmarks on this machine.\n\nExample: archsearch bench guidelines",
    no_args_is_help=True,
)
app.add_typer(bench_app, name="bench")


def user_errors(command: F) -> F:
    """Turn bad input into one message on stderr and exit status 2."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except ConfigError as error:
            message = error.labelled(FLAGS.get(error.field, "--" + error.field.replace("_", "-")))
            err.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True, markup=True)
            raise typer.Exit(2) from None
        except ArchsearchError as error:
            err.print(f"[bold red]error:[/] {escape(str(error))}", soft_wrap=True, markup=True)
            raise typer.Exit(2) from None
        except Exception as error:
            # a full disk met where no run knew the file (an export, a report): one message
            full = as_disk_full(error, Path.cwd())
            if full is None:
                raise
            err.print(f"[bold red]error:[/] {escape(str(full))}", soft_wrap=True, markup=True)
            raise typer.Exit(2) from None

    return cast(F, wrapper)


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
