"""Ctrl-C that a search cannot lose.

Python turns SIGINT into a KeyboardInterrupt in whatever Python code runs at that moment. When
that is a finaliser or a garbage-collector callback (SQLAlchemy and torch both run some), the
interpreter prints "Exception ignored" and carries on: the search would go on as if the key had
never been pressed. :class:`CtrlC` remembers the press, and ``check()``, called between trials
and epochs, raises it again.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType, TracebackType


class CtrlC:
    """Within ``with CtrlC() as ctrl_c:``, a Ctrl-C raises KeyboardInterrupt at once and again
    at the next ``ctrl_c.check()``, in case the first one was swallowed."""

    def __init__(self) -> None:
        self.pressed = False
        self._previous: object = None

    def __enter__(self) -> CtrlC:
        # only the main thread may set handlers; a handler the caller installed is kept
        if (
            threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGINT) is signal.default_int_handler
        ):
            self._previous = signal.signal(signal.SIGINT, self._on_sigint)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)  # type: ignore[arg-type]
            self._previous = None

    def _on_sigint(self, number: int, frame: FrameType | None) -> None:
        self.pressed = True
        raise KeyboardInterrupt

    def check(self) -> None:
        """Raise KeyboardInterrupt if Ctrl-C was pressed (its first raise may have been lost)."""
        if self.pressed:
            raise KeyboardInterrupt
