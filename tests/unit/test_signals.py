import os
import signal
import threading

from crmkit.signals import stop_on_signals


def restoring_handlers(test):
    def wrapped():
        saved = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            test()
        finally:
            for signum, handler in saved.items():
                signal.signal(signum, handler)

    wrapped.__name__ = test.__name__
    return wrapped


@restoring_handlers
def test_a_signal_landing_while_the_main_thread_holds_the_events_lock_still_stops():
    stop = threading.Event()
    stop_on_signals(stop)
    handler = signal.getsignal(signal.SIGTERM)
    # The deadlock this replaces: the signal arriving inside the main thread's own Event.wait(),
    # with the event's condition lock held. A handler calling stop.set() would block forever here.
    done = threading.Event()

    def deliver_while_locked():
        with stop._cond:  # the very lock Event.wait() holds when the signal lands
            handler(signal.SIGTERM, None)
        done.set()

    deliverer = threading.Thread(target=deliver_while_locked, daemon=True)
    deliverer.start()
    assert done.wait(2), "the handler took the event's lock"
    assert stop.wait(2), "the watcher never set the event"


@restoring_handlers
def test_a_real_sigterm_sets_the_event_and_nothing_else_does():
    stop = threading.Event()
    stop_on_signals(stop)
    assert not stop.wait(0.2), "set without a signal"
    os.kill(os.getpid(), signal.SIGTERM)
    assert stop.wait(2)
