"""Opening a run's Optuna storage.

SQLite (the default for one machine) is opened in write-ahead-log mode with
``synchronous=NORMAL``: every committed transaction survives a crash or ``kill -9`` of the
process (only a power loss could lose the last ones), commits cost a fraction of the default
full fsync, and readers (optuna-dashboard, ``archsearch report``) do not block the writer.
"""

from __future__ import annotations

from typing import Any

import optuna

from .errors import ArchsearchError


def open_storage(url: str) -> optuna.storages.BaseStorage:
    """An Optuna storage for ``url``; a clear :class:`ArchsearchError` if it cannot be opened."""
    try:
        if url.startswith("sqlite:///"):
            return _sqlite(url)
        return optuna.storages.RDBStorage(url)
    except ImportError:
        hint = (
            " (for PostgreSQL: pip install 'archsearch[postgres]')"
            if url.startswith("postgres")
            else ""
        )
        raise ArchsearchError(
            f"storage '{url}': its database driver is not installed{hint}"
        ) from None
    except Exception as err:
        raise ArchsearchError(
            f"storage '{url}': cannot open ({type(err).__name__}: {str(err).splitlines()[0]})"
        ) from None


def _sqlite(url: str) -> optuna.storages.RDBStorage:
    from sqlalchemy import event

    storage = optuna.storages.RDBStorage(url, engine_kwargs={"connect_args": {"timeout": 60}})

    @event.listens_for(storage.engine, "connect")
    def _pragmas(connection: Any, _record: Any) -> None:
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    storage.engine.dispose()  # connections opened before the listener: reopen with it
    return storage
