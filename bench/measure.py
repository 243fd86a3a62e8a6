"""Closed-loop load and the statistics every scenario reports."""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Figures:
    count: int
    seconds: float
    p50_ms: float
    p99_ms: float

    @property
    def per_second(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, float]:
        return {
            "count": self.count,
            "seconds": round(self.seconds, 3),
            "per_second": round(self.per_second, 1),
            "p50_ms": round(self.p50_ms, 3),
            "p99_ms": round(self.p99_ms, 3),
        }


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def figures(latencies_s: list[float], seconds: float) -> Figures:
    return Figures(len(latencies_s), seconds, percentile(latencies_s, 0.5) * 1000, percentile(latencies_s, 0.99) * 1000)


def closed_loop(call: Callable[[], None], requests: int, concurrency: int, warmup: int = 20) -> Figures:
    """`concurrency` workers issue `requests` calls in all, each as soon as its previous one returns."""
    for _ in range(warmup):
        call()
    latencies: list[float] = []
    failures: list[BaseException] = []
    lock = threading.Lock()
    remaining = [requests]

    def worker() -> None:
        own: list[float] = []
        try:
            while True:
                with lock:
                    if remaining[0] <= 0 or failures:
                        break
                    remaining[0] -= 1
                started = time.perf_counter()
                call()
                own.append(time.perf_counter() - started)
        except BaseException as exc:  # a failed call makes the figure meaningless: stop and say so
            with lock:
                failures.append(exc)
        with lock:
            latencies.extend(own)

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise RuntimeError(f"a measured call failed, so no figure is reported: {failures[0]}") from failures[0]
    return figures(latencies, time.perf_counter() - started)


def ratio(ours: float, baseline: float) -> float:
    return round(ours / baseline, 3) if baseline else 0.0


class KeepAlive:
    """GET over one persistent HTTP/1.1 connection per calling thread (`http.client`): the lightest
    client the standard library has, so that a figure is the server's time more than the client's.
    `requests` costs some hundreds of microseconds of Python per call, which would count against
    whatever is measured against a gRPC call (docs/adr/0079)."""

    def __init__(self, base: str, headers: dict[str, str] | None = None, timeout: float = 10) -> None:
        split = urlsplit(base)
        self.host, self.port = split.hostname or "127.0.0.1", split.port or 80
        self.headers = dict(headers or {})
        self.timeout = timeout
        self._local = threading.local()

    def get(self, path: str) -> bytes:
        """The body of a 200 answer; anything else raises, so that no failed call is timed as one."""
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._local.connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            connection.request("GET", path, headers=self.headers)
            response = connection.getresponse()
            body = response.read()
        except (OSError, http.client.HTTPException):
            connection.close()  # the server closed an idle connection: one new one, once
            connection.request("GET", path, headers=self.headers)
            response = connection.getresponse()
            body = response.read()
        if response.status != 200:
            raise RuntimeError(f"benchmark call failed: {response.status} {body[:200]!r}")
        return body
