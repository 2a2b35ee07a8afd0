"""Errors that carry one clear message for the user.

Every error a user can cause with bad input (a space file, an architecture, block arguments)
derives from :class:`ArchsearchError`; the CLI prints its message and exits with status 2
instead of showing a traceback.
"""

from __future__ import annotations

import errno
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path
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


class DiskFull(ArchsearchError):
    """A write failed because the disk holding ``path`` is full. The run stops (it does not
    go on failing every candidate); what it had recorded stays, and the same command resumes
    it once there is space."""

    WORDS = "the disk is full"

    def __init__(self, path: str | Path, free: int | None = None) -> None:
        self.path = Path(path)
        self.free = _free_bytes(self.path) if free is None else free
        room = "" if self.free is None else f" ({self.free / 2**20:,.1f} MiB free)"
        super().__init__(
            f"{self.path}: {self.WORDS}{room}; free some space and run the same command"
            " again: it goes on from where it stopped"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (self.path, self.free)


#: errno values of a full disk (out of space; out of the user's quota)
_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)
SQLITE_FULL = 13  # sqlite3's result code "database or disk is full"


def disk_full_cause(error: BaseException) -> BaseException | None:
    """The full disk behind ``error``, if that is what it is: an ``OSError`` of a full disk or
    SQLite's "database or disk is full", found anywhere in its chain of causes (torch.save and
    Optuna's storage wrap them in errors of their own)."""
    for cause in _chain(error):
        if isinstance(cause, DiskFull):
            return cause
        if isinstance(cause, OSError) and cause.errno in _FULL_ERRNOS:
            return cause
        if getattr(cause, "sqlite_errorcode", None) == SQLITE_FULL:
            return cause
    return None


def _chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    stack: list[BaseException | None] = [error]
    while stack:
        cause = stack.pop()
        if cause is None or id(cause) in seen:
            continue
        seen.add(id(cause))
        yield cause
        stack += [cause.__cause__, cause.__context__, getattr(cause, "orig", None)]


def as_disk_full(error: BaseException, path: str | Path) -> DiskFull | None:
    """``error`` as a :class:`DiskFull` naming the file it failed to write (or ``path``, the
    one being written), or ``None`` when the disk is not what failed."""
    cause = disk_full_cause(error)
    if cause is None:
        return None
    if isinstance(cause, DiskFull):
        return cause
    return DiskFull(getattr(cause, "filename", None) or path)


#: free space under which a disk counts as full (a write of a few pages fails)
NEARLY_FULL_BYTES = 1 << 20


def nearly_full(path: str | Path) -> bool:
    """Whether the disk holding ``path`` has under :data:`NEARLY_FULL_BYTES` free."""
    free = _free_bytes(Path(path))
    return free is not None and free < NEARLY_FULL_BYTES


def _free_bytes(path: Path) -> int | None:
    """Free bytes on the disk holding ``path`` (its nearest existing folder)."""
    for folder in (path, *path.parents):
        if folder.exists():
            try:
                return shutil.disk_usage(folder).free
            except OSError:
                return None
    return None


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
