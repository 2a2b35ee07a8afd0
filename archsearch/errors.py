"""Errors that carry one clear message for the user.

Every error a user can cause with bad input (a space file, an architecture, block arguments)
derives from :class:`ArchsearchError`; the CLI prints its message and exits with status 2
instead of showing a traceback.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar, cast

Choice = TypeVar("Choice", bound=str)


class ArchsearchError(ValueError):
    """Base of user-facing errors: the message alone says what is wrong and where."""


class BlockArgumentError(ArchsearchError):
    """A block was given an argument it does not accept, or a value outside its range."""

    def __init__(self, block: str, argument: str, message: str) -> None:
        self.block = block
        self.argument = argument
        self.reason = message
        super().__init__(f"block '{block}', argument '{argument}': {message}")


class ArchitectureError(ArchsearchError):
    """An architecture is malformed or impossible (channels, strides, input size)."""

    def __init__(self, location: str, field: str, message: str) -> None:
        self.location = location
        self.field = field
        self.reason = message
        where = f"{location}, field '{field}'" if field else location
        super().__init__(f"{where}: {message}")


class SpaceError(ArchsearchError):
    """A search-space file is malformed: names the file, the line when known, and the field."""

    def __init__(self, source: str, field: str, message: str, line: int | None = None) -> None:
        self.source = source
        self.field = field
        self.line = line
        self.reason = message
        where = f"{source}:{line}" if line is not None else source
        what = f" {field}:" if field else ""
        super().__init__(f"{where}:{what} {message}")

    def __reduce__(self) -> tuple[Any, ...]:  # across processes (parallel benchmarks, workers)
        return type(self), (self.source, self.field, self.reason, self.line)


class ConfigError(ArchsearchError):
    """A run's option is wrong: names the :class:`~archsearch.runs.RunConfig` field, which the
    command line shows as its flag (``field`` ``latency_threads`` → ``--threads``)."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.reason = message
        super().__init__(self.labelled(field))

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (self.field, self.reason)

    def labelled(self, label: str) -> str:
        """The message with ``label`` (a field or a flag) in front."""
        separator = " " if self.reason.startswith("'") else ": "
        return f"{label}{separator}{self.reason}"


def choice(
    field: str,
    value: str,
    known: Sequence[Choice],
    wording: str = "unknown '{value}' (choose from {choices})",
) -> Choice:
    """``value`` as one of ``known`` (a Literal's ``get_args``), typed as that Literal; else a
    :class:`ConfigError` naming ``field`` and the choices (in ``wording``)."""
    if value not in known:
        raise ConfigError(field, wording.format(value=value, choices=", ".join(known)))
    return cast(Choice, value)
