"""crmkit.module.every: the one loop behind every periodic worker (tick, log a failure, pause)."""

from __future__ import annotations

import threading

from crmkit.module import every

LONG = 600.0  # a pause no test waits out: if the loop paused when it should not, the test times out


def start(run: object) -> tuple[threading.Event, threading.Thread]:
    stop = threading.Event()
    thread = threading.Thread(target=run, args=(stop,), daemon=True)  # type: ignore[arg-type]
    thread.start()
    return stop, thread


def test_a_failing_tick_is_logged_and_the_loop_goes_on(caplog: object) -> None:
    calls: list[int] = []
    done = threading.Event()

    def tick() -> None:
        calls.append(1)
        if len(calls) == 3:
            done.set()
        raise RuntimeError("database away")

    stop, thread = start(every(0.01, tick, "flaky tick"))
    assert done.wait(10), "the loop died after a failing tick"
    stop.set()
    thread.join(10)
    assert not thread.is_alive()
    assert len(calls) >= 3
    assert "flaky tick failed" in caplog.text  # type: ignore[attr-defined]


def test_work_left_behind_runs_the_next_tick_at_once() -> None:
    results = iter([64, 64, 3])
    done = threading.Event()

    def tick() -> int:
        value = next(results)
        if value == 3:
            done.set()
        return value

    stop, thread = start(every(LONG, tick, "batch tick", again=lambda n: n == 64))
    assert done.wait(10), "a full batch waited for the pause before the next tick"
    stop.set()
    thread.join(10)
    assert not thread.is_alive()


def test_a_wake_ends_the_pause_and_the_loop_stops_on_a_final_wake() -> None:
    wake = threading.Event()
    ticks: list[int] = []
    second = threading.Event()

    def tick() -> None:
        ticks.append(1)
        if len(ticks) == 2:
            second.set()

    stop, thread = start(every(LONG, tick, "woken tick", wake=wake))
    while not ticks:
        threading.Event().wait(0.01)
    wake.set()
    assert second.wait(10), "setting wake did not end the pause"
    stop.set()
    wake.set()
    thread.join(10)
    assert not thread.is_alive()
    assert len(ticks) in (2, 3)
