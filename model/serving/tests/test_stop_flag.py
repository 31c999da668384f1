"""The entry point's stop signal handling takes no lock, acts once, and survives a signal inside its action.

A gRPC worker gets SIGTERM from a process-group kill and again from its parent's forward; with the old
`threading.Event.set` handler the second landed inside the first's lock and the worker hung.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator

import pytest

from model.serving.entrypoint import StopFlag


@pytest.fixture
def restore_handlers() -> Iterator[None]:
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


def test_a_second_signal_inside_the_action_neither_reenters_nor_hangs(restore_handlers: None) -> None:
    calls: list[str] = []

    def action() -> None:
        calls.append("forward")
        os.kill(os.getpid(), signal.SIGTERM)  # arrives while the first handler is still running
        time.sleep(0.01)

    flag = StopFlag(action).install()
    assert not flag and flag.wait(0.05) is False  # not set: the timeout passes
    os.kill(os.getpid(), signal.SIGINT)
    start = time.monotonic()
    assert flag.wait(5) is True
    assert time.monotonic() - start < 1
    assert calls == ["forward"] and bool(flag)
    assert flag._fired == [signal.SIGINT, signal.SIGTERM]
