"""Seldon's custom metrics written in batches, off the request path (seldon-core 1.17.1 only).

Seldon records every answer's `meta.metrics` inside the request, in `SeldonMetrics.update`: six round
trips to its multiprocessing Manager process (lock, read this worker's whole metrics dict, unlock, lock,
write it back, unlock), and it does so even when there is nothing to record. On a 2-core machine that is
~0.3 ms a request when idle and several ms when busy, since each round trip waits until the Manager
process is scheduled (`make bench-serve`, wrapper/HTTP).

`install()` replaces `update` with a queue: the request appends its metrics (microseconds) and a daemon
thread of that process hands the queue to the original `update` in one call every `RANKSHIP_METRICS_FLUSH_MS` (200), so
six round trips per flush instead of per request. The values Seldon computes are the same (counters
add, each TIMER entry is still one observation); Prometheus sees them at most that late, well
inside a 15-30 s scrape interval. An empty update records nothing and is dropped. Metrics still queued
when a worker dies are lost (at most one interval's); a clean exit flushes them.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from seldon_core.metrics import SeldonMetrics

from model.serving.settings import ServingSettings, SettingsError

logger = logging.getLogger(__name__)

Update = Callable[[SeldonMetrics, list[dict[str, Any]], str], None]


class _Queue:
    """This process's pending metrics per (SeldonMetrics, method), and the thread that writes them."""

    def __init__(self, write: Update, interval: float):
        self._write, self._interval = write, interval
        self._lock = threading.Lock()
        self._pending: dict[tuple[SeldonMetrics, str], list[dict[str, Any]]] = {}
        self._pid = 0

    def put(self, metrics: SeldonMetrics, custom_metrics: list[dict[str, Any]], method: str) -> None:
        if not custom_metrics:
            return  # Seldon would read this worker's dict and write it back unchanged
        with self._lock:
            if self._pid != os.getpid():  # first use in this process (gunicorn forks workers)
                self._pid = os.getpid()
                self._pending = {}
                threading.Thread(target=self._run, name="rankship-metrics", daemon=True).start()
            self._pending.setdefault((metrics, method), []).extend(custom_metrics)

    def flush(self) -> None:
        with self._lock:
            taken, self._pending = self._pending, {}
        for (metrics, method), batch in taken.items():
            try:
                self._write(metrics, batch, method)
            except (OSError, EOFError) as e:  # Seldon's Manager process has gone (shutting down)
                logger.warning(
                    "%d Seldon metrics not recorded: the metrics manager is gone (%s)", len(batch), e
                )
            except Exception:  # a bad entry: metrics are not worth a crash
                logger.exception("could not record %d Seldon metrics", len(batch))

    def _run(self) -> None:
        while True:
            time.sleep(self._interval)
            self.flush()


_queue: _Queue | None = None


def install_from_env(env: Mapping[str, str]) -> None:
    """`install` with RANKSHIP_METRICS_FLUSH_MS (0: Seldon's own per-request writes). A bad value installs
    nothing here: `RankshipRanker.load()` reports it and the server stays unready."""
    try:
        flush_ms = ServingSettings.from_env(env).metrics_flush_ms
    except SettingsError:
        return
    if flush_ms:
        install(flush_ms / 1000.0)


def install(interval: float) -> None:
    """Queue `SeldonMetrics.update`, written every `interval` seconds (idempotent; call before Seldon
    builds its servers)."""
    global _queue
    if _queue is not None:
        return
    queue = _queue = _Queue(SeldonMetrics.update, interval)

    def update(self: SeldonMetrics, custom_metrics: list[dict[str, Any]], method: str) -> None:
        queue.put(self, custom_metrics, method)

    SeldonMetrics.update = update  # type: ignore[method-assign]
    atexit.register(queue.flush)


def flush() -> None:
    """Write what is queued now (tests; a clean exit does it through atexit)."""
    if _queue is not None:
        _queue.flush()
