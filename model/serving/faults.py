"""Fault injection for the canary end-to-end tests and `make canary-demo` — never used in production.

`FaultyRanker` is a *subclass* of the production `RankshipRanker`: faults exist only when a test starts
`seldon-core-microservice model.serving.faults.FaultyRanker`; the production class name
(`model.serving.seldon_model.RankshipRanker`, what the image and the SeldonDeployment run) has no fault code
at all. The faults are read once, at construction, from:

| variable                     | effect                                                                     |
|------------------------------|----------------------------------------------------------------------------|
| RANKSHIP_FAULT_LATENCY_MS    | sleep this long before scoring each request (inside the model's timer)     |
| RANKSHIP_FAULT_ERROR_EVERY   | answer every n-th request with 500 `injected_fault` (counted as an error)  |

Both go through the real request path (parsing, metrics, Seldon's HTTP mapping), so the canary analyzer sees
them exactly as it would see a slow or failing model.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass

from model.serving.contract import BadRequest, RankRequest
from model.serving.seldon_model import Ranking, RankshipRanker
from model.serving.settings import ServingSettings, SettingsError

INJECTED = "injected_fault"


@dataclass(frozen=True)
class Faults:
    latency_ms: int = 0
    error_every: int = 0  # 0: never

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Faults:
        return cls(_int(env, "RANKSHIP_FAULT_LATENCY_MS"), _int(env, "RANKSHIP_FAULT_ERROR_EVERY"))


def _int(env: Mapping[str, str], name: str) -> int:
    raw = env.get(name, "0")
    try:
        value = int(raw)
    except ValueError as e:
        raise SettingsError(f"{name}={raw!r}: not an integer") from e
    if value < 0:
        raise SettingsError(f"{name}={raw!r}: must be >= 0")
    return value


class FaultyRanker(RankshipRanker):
    """`RankshipRanker` with the faults above; construct with `faults` or let Seldon read the environment."""

    def __init__(self, settings: ServingSettings | None = None, faults: Faults | None = None) -> None:
        super().__init__(settings)
        self.faults = faults if faults is not None else Faults.from_env(os.environ)
        self._served = itertools.count(1)
        self._lock = threading.Lock()

    def rank(self, request: RankRequest) -> Ranking:
        if self.faults.latency_ms:
            time.sleep(self.faults.latency_ms / 1000.0)
        if self.faults.error_every:
            with self._lock:
                n = next(self._served)
            if n % self.faults.error_every == 0:
                raise BadRequest(INJECTED, f"injected server error (request {n})", 500)
        return super().rank(request)
