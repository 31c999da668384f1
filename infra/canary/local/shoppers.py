"""Simulated shoppers: search through the gateway, click by a position-based model, send feedback through
Seldon's API. Bounded by a rate, a count and a duration; `stop()` ends early.

**Click model.** The position-based model of `users.py` (shared with the interleaving demo): the result at
1-based position p of the shown list is examined with probability 1/p^η and, once examined, clicked with a
probability from its true grade (η = 1; 0.05, 0.2, 0.5, 0.9 for grades 0..3), independently per position. A
click on a top-grade result also adds it to the cart with probability 0.3; 10 results are shown. A ranker
that puts relevant products higher gets more clicks, higher up: what CTR and MRR of the click measure.

Each search is one impression; its feedback (the request, the answer unchanged, reward 1 when anything
was clicked, `truth.jsonData.events`) goes back through the gateway, which splits it by the same weights.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import requests

from infra.canary.local.users import ClickModel

CART = 0.3  # a click on a result of the top grade also adds it to the cart with this probability
SHOWN = 10  # results shown (top_k)


def events(
    model: ClickModel, shown: Sequence[str], gains: dict[str, float], rng: np.random.Generator
) -> list[dict[str, Any]]:
    """What one shopper did with the shown list: clicks by the position-based model, some carts."""
    grades = [gains.get(cid, 0.0) for cid in shown]
    out: list[dict[str, Any]] = []
    for i in model.clicks(grades, rng):
        out.append({"id": shown[i], "position": i + 1, "action": "click"})
        if grades[i] >= len(model.click_given_examined) - 1 and rng.random() < CART:
            out.append({"id": shown[i], "position": i + 1, "action": "add_to_cart"})
    return out


class Shoppers:
    def __init__(
        self,
        base_url: str,
        queries: Sequence[dict[str, Any]],
        rate_rps: float,
        max_searches: int,
        duration_s: float,
        clicks: ClickModel = ClickModel(),  # noqa: B008 - frozen dataclass, safe as a default
        concurrency: int = 8,
        seed: int = 7,
    ) -> None:
        """`base_url`: the deployment's Seldon route (…/seldon/<ns>/<name>/); `queries`: query, candidates,
        gains (see `trained.live_queries`)."""
        self.base_url, self.queries, self.clicks = base_url, list(queries), clicks
        self.rate_rps, self.max_searches, self.duration_s = rate_rps, max_searches, duration_s
        self.rng = random.Random(seed)
        self._rng_lock = threading.Lock()
        self.answered: Counter[str] = Counter()  # version -> searches answered 200
        self.clicked: Counter[str] = Counter()  # version -> impressions with a click
        self.failed: Counter[int] = Counter()  # HTTP status (0: no answer) -> searches
        self.feedback: Counter[int] = Counter()  # HTTP status of the feedback calls
        self._lock, self._stop = threading.Lock(), threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="shopper")
        self._local = threading.local()
        self._thread = threading.Thread(target=self._run, name="shoppers", daemon=True)

    def start(self) -> Shoppers:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _run(self) -> None:
        start, interval = time.monotonic(), 1.0 / self.rate_rps
        for i in range(self.max_searches):
            due = start + i * interval
            if due - start > self.duration_s or self._stop.wait(max(0.0, due - time.monotonic())):
                return
            with self._rng_lock:
                item, seed = self.rng.choice(self.queries), self.rng.getrandbits(32)
            self._pool.submit(self._search, item, np.random.default_rng(seed))

    def _post(self, path: str, body: dict[str, Any]) -> requests.Response | None:
        session = getattr(self._local, "session", None) or requests.Session()
        self._local.session = session
        try:
            return session.post(self.base_url + "api/v1.0/" + path, data=json.dumps(body), timeout=10,
                                headers={"Content-Type": "application/json"})  # fmt: skip
        except requests.RequestException:
            return None

    def _search(self, item: dict[str, Any], rng: np.random.Generator) -> None:
        request = {"jsonData": {"query": item["query"], "candidates": item["candidates"], "top_k": SHOWN}}
        answer = self._post("predictions", request)
        if answer is None or answer.status_code != 200:
            with self._lock:
                self.failed[0 if answer is None else answer.status_code] += 1
            return
        body = answer.json()
        version = body["meta"]["tags"]["model_version"]
        done = events(self.clicks, [r["id"] for r in body["jsonData"]["results"]], item["gains"], rng)
        truth = {"jsonData": {"events": done}}
        sent = self._post(
            "feedback", {"request": request, "response": body, "reward": float(bool(done)), "truth": truth}
        )
        with self._lock:
            self.answered[version] += 1
            self.clicked[version] += bool(done)
            self.feedback[0 if sent is None else sent.status_code] += 1
