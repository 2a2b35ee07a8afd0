"""A Ctrl-C swallowed where Python cannot raise it (a finaliser) is raised again later."""

from __future__ import annotations

import signal
from collections.abc import Iterator

import pytest

from archsearch.interrupt import CtrlC


@pytest.fixture
def python_sigint() -> Iterator[None]:
    """Python's own SIGINT handler, as in a terminal (a shell that starts pytest in the
    background hands it SIGINT ignored)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


class RaisesInFinaliser:
    def __del__(self) -> None:
        # in this thread, handled before raise_signal returns (os.kill may be delivered to
        # another thread and handled later): its KeyboardInterrupt is printed and ignored
        signal.raise_signal(signal.SIGINT)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_swallowed_ctrl_c_is_raised_at_the_next_check(python_sigint: None) -> None:
    with CtrlC() as ctrl_c:
        ctrl_c.check()  # not pressed: nothing happens
        RaisesInFinaliser()  # deleted at once: its KeyboardInterrupt is lost in __del__
        assert ctrl_c.pressed
        with pytest.raises(KeyboardInterrupt):
            ctrl_c.check()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_handler_of_the_caller_is_kept(python_sigint: None) -> None:
    def own(number: int, frame: object) -> None:
        pass

    previous = signal.signal(signal.SIGINT, own)
    try:
        with CtrlC():
            assert signal.getsignal(signal.SIGINT) is own
    finally:
        signal.signal(signal.SIGINT, previous)
