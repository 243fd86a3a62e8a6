"""Stopping on SIGTERM/SIGINT without taking a lock inside a signal handler.

A handler runs in the main thread between two bytecodes, possibly while that thread holds the
very lock the handler would take: `threading.Event.set()` from a handler deadlocks when the
signal lands inside the main thread's own `Event.wait()` prologue (Python's `signal` docs warn
against locks in handlers). A target stopped right after it started hung there until SIGKILL.
Here the handler only notes the signal, and a watcher thread sets the event in ordinary code.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterable

POLL_SECONDS = 0.05


def stop_on_signals(stop: threading.Event, signums: Iterable[signal.Signals] = (signal.SIGTERM, signal.SIGINT)) -> None:
    """Set `stop` within POLL_SECONDS of any of `signums`. Call from the main thread."""
    received: list[int] = []

    def note(signum: int, _frame: object) -> None:
        received.append(signum)  # no lock: list.append is one bytecode-level operation

    def watch() -> None:
        while not received and not stop.is_set():
            time.sleep(POLL_SECONDS)
        stop.set()

    for signum in signums:
        signal.signal(signum, note)
    threading.Thread(target=watch, name="stop-signals", daemon=True).start()
