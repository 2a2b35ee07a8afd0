"""One writer per output folder: a run folder (with its local study) and an ``archsearch
train`` output folder are locked while a process writes them, so that a second process started
on the same folder by mistake stops at once instead of racing the first on its study,
weights or checkpoint.

The lock is an OS file lock (``flock``) on ``.archsearch.lock`` in the folder: the OS releases
it when its process ends, however it ends (``kill -9`` included), so there is no stale lock to
clean up. The file holds the holder's PID, for the message. Where the OS has no ``flock``
(Windows), folders are not locked.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import ArchsearchError

try:
    import fcntl
except ImportError:  # pragma: no cover - not on POSIX
    fcntl = None  # type: ignore[assignment]

LOCK_FILE = ".archsearch.lock"


class FolderInUse(ArchsearchError):
    """Another process holds the folder's lock."""


@contextmanager
def folder_lock(folder: Path, remedy: str) -> Iterator[None]:
    """Hold ``folder``'s lock (made if missing) for the ``with`` block; :class:`FolderInUse`
    naming the folder, the holder's PID and ``remedy`` when another process holds it. A
    folder made for the lock is removed again when nothing else was written in it (bad input
    found before the work began leaves nothing behind)."""
    made = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    if fcntl is None:
        yield
        return
    lock = folder / LOCK_FILE
    handle = lock.open("a+")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            raise FolderInUse(
                f"{folder}: in use by another archsearch process (PID {holder}); wait for it"
                f" to end or stop it, or {remedy}"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        try:
            yield
        finally:
            if made and [p.name for p in folder.iterdir()] == [LOCK_FILE]:
                lock.unlink()  # still held: nobody else can have taken it
                folder.rmdir()
    finally:
        handle.close()  # closing releases the lock
