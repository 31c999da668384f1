"""A bounded load generator: paced ranking requests to 127.0.0.1, each routed by the local cluster.

Bounded three ways: requests per second, a total request count and a duration; `stop()` ends it early.
Requests are small, seeded and realistic in shape (a query and 8 candidate products).
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests

PREDICT = "/api/v1.0/predictions"
WORDS = [
    "red",
    "blue",
    "black",
    "white",
    "running",
    "trail",
    "shoe",
    "shoes",
    "jacket",
    "denim",
    "mug",
    "coffee",
    "ceramic",
    "steel",
    "bottle",
    "lamp",
    "desk",
    "chair",
    "oak",
    "kids",
    "men",
    "women",
    "waterproof",
    "wireless",
    "charger",
    "cable",
    "phone",
    "case",
    "leather",
    "wallet",
    "cotton",
    "shirt",
]


def ranking_request(rng: random.Random, candidates: int = 8) -> dict[str, Any]:
    items = [
        {
            "id": f"p{i}",
            "title": " ".join(rng.choices(WORDS, k=4)),
            "description": " ".join(rng.choices(WORDS, k=6)),
        }
        for i in range(candidates)
    ]
    return {"jsonData": {"query": " ".join(rng.choices(WORDS, k=2)), "candidates": items}}


class LoadGenerator:
    def __init__(
        self,
        route: Callable[[], tuple[str, str]],
        rate_rps: float,
        max_requests: int,
        duration_s: float,
        concurrency: int = 8,
        seed: int = 7,
    ) -> None:
        self.route, self.rate_rps = route, rate_rps
        self.max_requests, self.duration_s = max_requests, duration_s
        self.rng = random.Random(seed)
        self.sent: Counter[str] = Counter()  # version -> requests sent
        self.status: Counter[tuple[str, int]] = Counter()  # (version, HTTP status or 0 for no answer)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="load")
        self._local = threading.local()
        self._thread = threading.Thread(target=self._run, name="load-pacer", daemon=True)

    def start(self) -> LoadGenerator:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _run(self) -> None:
        start, interval = time.monotonic(), 1.0 / self.rate_rps
        for i in range(self.max_requests):
            due = start + i * interval
            if due - start > self.duration_s or self._stop.wait(max(0.0, due - time.monotonic())):
                return
            version, url = self.route()
            self._pool.submit(self._send, version, url, ranking_request(self.rng))

    def _send(self, version: str, url: str, body: dict[str, Any]) -> None:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        try:
            code = session.post(url + PREDICT, json=body, timeout=10).status_code
        except requests.RequestException:
            code = 0
        with self._lock:
            self.sent[version] += 1
            self.status[(version, code)] += 1
