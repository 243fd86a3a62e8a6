"""Bounded load on the gateway that records every outcome a caller saw."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import requests

from tests.e2e.support import Api


@dataclass
class Outcomes:
    statuses: Counter[int] = field(default_factory=Counter)
    hangs: int = 0  # no answer within the client's timeout
    shapeless: list[str] = field(default_factory=list)  # error bodies not in the API.md shape
    acknowledged: list[str] = field(default_factory=list)  # ids of writes answered 200
    timeline: list[tuple[float, int]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, response: requests.Response | None) -> None:
        with self.lock:
            if response is None:
                self.hangs += 1
                return
            self.statuses[response.status_code] += 1
            self.timeline.append((time.monotonic(), response.status_code))
            if response.status_code >= 400:
                error = (
                    response.json().get("error", {})
                    if response.headers.get("Content-Type") == "application/json"
                    else {}
                )
                if not {"code", "status", "message"} <= set(error):
                    self.shapeless.append(response.text[:200])

    def recovered(self, last: int = 20) -> bool:
        with self.lock:
            tail = [status for _, status in self.timeline[-last:]]
        return len(tail) == last and all(status == 200 for status in tail)


class Load:
    """`threads` callers each repeating `call(api)` until stopped (or `seconds` pass)."""

    def __init__(self, api: Api, call: Callable[[Api, Outcomes], None], threads: int = 4, seconds: float = 90) -> None:
        self.outcomes = Outcomes()
        self.stop = threading.Event()
        self.deadline = time.monotonic() + seconds
        self.workers = [threading.Thread(target=self._run, args=(api, call)) for _ in range(threads)]

    def _run(self, api: Api, call: Callable[[Api, Outcomes], None]) -> None:
        while not self.stop.is_set() and time.monotonic() < self.deadline:
            try:
                call(api, self.outcomes)
            except requests.Timeout:
                self.outcomes.record(None)
            time.sleep(0.01)

    def __enter__(self) -> Load:
        for worker in self.workers:
            worker.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        for worker in self.workers:
            worker.join(30)


def create_contact(api: Api, outcomes: Outcomes) -> None:
    response = api.post("/v1/contacts", json={"givenName": "Load"}, timeout=15)
    outcomes.record(response)
    if response.status_code == 200:
        with outcomes.lock:
            outcomes.acknowledged.append(response.json()["id"])


def list_contacts(api: Api, outcomes: Outcomes) -> None:
    outcomes.record(api.get("/v1/contacts", params={"pageSize": 5}, timeout=15))
