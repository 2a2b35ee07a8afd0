"""The ``archsearch`` command line: one thin, typed function per command over the library.

Each command parses its flags, makes one library call and prints the result (through
:mod:`._console`). Every command catches :class:`~archsearch.ArchsearchError` (bad input) in
one place (:func:`._app.user_errors`), prints its message — naming the flag where the library
names a :class:`~archsearch.runs.RunConfig` field — and exits with status 2, never a
traceback. The commands live by what they work on: :mod:`._inspect` (spaces, networks),
:mod:`._search` (run, tune, train, workers), :mod:`._results` (export, report) and
:mod:`._bench`; :mod:`._options` declares the flags several commands share.
"""

from __future__ import annotations

import sys

from . import _bench, _inspect, _results, _search  # noqa: F401  (each registers its commands)
from ._app import app


def main() -> None:
    """Console-script entry point."""
    import optuna

    # the commands print their own progress and failures; Optuna's log would repeat them
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    app(prog_name="archsearch")


__all__ = ["app", "main"]

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
