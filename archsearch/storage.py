"""Opening a run's Optuna storage.

SQLite (the default for one machine) is opened in write-ahead-log mode with
``synchronous=NORMAL``: every committed transaction survives a crash or ``kill -9`` of the
process (only a power loss could lose the last ones), commits cost a fraction of the default
full fsync, and readers (optuna-dashboard, ``archsearch report``) do not block the writer.
"""

from __future__ import annotations

import warnings
from typing import Any

import optuna

from .errors import ArchsearchError


def open_storage(url: str, heartbeat: int | None = None) -> optuna.storages.BaseStorage:
    """An Optuna storage for ``url``; a clear :class:`ArchsearchError` if it cannot be opened.

    With ``heartbeat`` (seconds), running trials send heartbeats; a trial whose worker died
    (no heartbeat for 3 intervals) is marked failed and re-queued by Optuna's
    ``RetryHeartbeatStaleTrialCallback`` when another worker starts its next trial.
    """
    options: dict[str, Any] = {}
    if heartbeat is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            retry = optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=3)
        options = {
            "heartbeat_interval": heartbeat,
            "grace_period": 3 * heartbeat,
            "heartbeat_stale_trial_callback": retry,
        }
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            if url.startswith("sqlite:///"):
                return _sqlite(url, options)
            return optuna.storages.RDBStorage(url, **options)
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
        raise ArchsearchError(f"storage '{url}': cannot open ({_explain(url, err)})") from None


def _explain(url: str, err: Exception) -> str:
    scheme = url.split("://", 1)[0] if "://" in url else ""
    if scheme == "postgres":
        return "write postgresql:// (SQLAlchemy's name for PostgreSQL), e.g. postgresql://USER@HOST/DB"
    if type(err).__name__ in ("NoSuchModuleError", "ArgumentError"):
        return (
            f"unknown database type '{scheme or url}'; expected sqlite:///FILE or"
            " postgresql://USER@HOST/DB (any SQLAlchemy URL that Optuna supports)"
        )
    return f"{type(err).__name__}: {str(err).splitlines()[0]}"


def require_study(backend: optuna.storages.BaseStorage, url: str, name: str) -> None:
    """A clear error when ``name`` is not a study in the storage, listing those that are."""
    known = optuna.get_all_study_names(backend)
    if name not in known:
        raise ArchsearchError(
            f"--study '{name}': no such study in {url} (it has:"
            f" {', '.join(sorted(known)) or 'none'})"
        )


def _sqlite(url: str, options: dict[str, Any]) -> optuna.storages.RDBStorage:
    from sqlalchemy import event

    storage = optuna.storages.RDBStorage(
        url, engine_kwargs={"connect_args": {"timeout": 60}}, **options
    )

    @event.listens_for(storage.engine, "connect")
    def _pragmas(connection: Any, _record: Any) -> None:
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    storage.engine.dispose()  # connections opened before the listener: reopen with it
    return storage
