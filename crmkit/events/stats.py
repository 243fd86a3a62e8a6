"""Refreshes the per-consumer queue gauges (lag and dead letters) every few seconds."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

from crmkit import metrics
from crmkit.events.transport import Bus

log = logging.getLogger(__name__)


class QueueStatsReporter:
    def __init__(self, bus: Bus, consumers: Sequence[str], interval_seconds: float = 5.0) -> None:
        self.bus = bus
        self.consumers = list(consumers)
        self.interval = interval_seconds

    def report_once(self) -> None:
        for consumer in self.consumers:
            try:
                stats = self.bus.stats(consumer)
            except Exception as exc:  # the broker being away is visible elsewhere; keep the last values
                log.debug("queue stats of %s unavailable: %s", consumer, type(exc).__name__)
                continue
            metrics.CONSUMER_QUEUE_DEPTH.labels(consumer).set(stats.ready)
            metrics.CONSUMER_DEAD_LETTERS.labels(consumer).set(stats.dead_letters)

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            self.report_once()
            stop.wait(self.interval)
