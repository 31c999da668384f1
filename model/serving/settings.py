"""Serving settings: read once from the environment at startup, never inside a request.

| variable                    | default      | meaning                                                      |
|-----------------------------|--------------|--------------------------------------------------------------|
| RANKSHIP_BUNDLE             | /mnt/models  | bundle directory (Seldon's storage initializer puts it here) |
| RANKSHIP_MAX_CANDIDATES     | 1000         | candidates per request                                       |
| RANKSHIP_MAX_TEXT_CHARS     | 8192         | characters per query, id, title or description               |
| RANKSHIP_MAX_REQUEST_BYTES  | 4194304      | REST body size (gRPC's own default receive limit is 4 MiB)   |
| RANKSHIP_LITERT_THREADS     | 1            | LiteRT interpreter threads per serving process               |
| RANKSHIP_PRODUCT_CACHE      | 20000        | product texts whose tokens are cached per process (0: none)  |
| RANKSHIP_METRICS_FLUSH_MS   | 200          | Seldon metrics written every this often (0: in each request) |
| RANKSHIP_SCORE_BUCKETS      | -8,-7,...,8  | score histogram edges for bundles without score_histogram.json |
| RANKSHIP_INTERLEAVE_CHILD   | 0            | 1: a child of the interleaving combiner, which counts feedback |
| RANKSHIP_REST_FAST_PATH     | 1            | 0: every REST prediction through Flask (see rest_fastpath.py) |
| RANKSHIP_DRAIN_SECONDS      | 20           | after SIGTERM, how long requests in flight may take to finish |
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_BUNDLE = "/mnt/models"
DEFAULT_SCORE_BUCKETS: tuple[float, ...] = tuple(float(b) for b in range(-8, 9))


class SettingsError(ValueError):
    """An environment variable with an unusable value; the message names the variable."""


@dataclass(frozen=True)
class ServingSettings:
    bundle: Path = Path(DEFAULT_BUNDLE)
    max_candidates: int = 1000
    # Catalog descriptions run to several thousand characters; the ranker reads only the first words.
    max_text_chars: int = 8192
    max_request_bytes: int = 4 * 1024 * 1024
    litert_threads: int = 1
    # ~1.5 KB per entry for the tokens (16 words) and ~1 KB for BM25's word counts: 20,000 entries ~ 50 MB
    # per process. See docs/serving.md.
    product_cache: int = 20_000
    # Off the request path, in batches (model/serving/metrics_batch.py); 0 keeps Seldon's per-request writes.
    metrics_flush_ms: int = 200
    # Only for bundles without score_histogram.json: a bundle's own edges (from its offline score
    # quantiles) win, so that its live scores are compared with its own offline ones.
    score_buckets: tuple[float, ...] = field(default=DEFAULT_SCORE_BUCKETS)
    interleave_child: bool = False
    # Well-formed REST predictions skip Flask (model/serving/rest_fastpath.py); 0 sends all through it.
    rest_fast_path: bool = True
    # Below Kubernetes' grace period (the specs set it to this plus a margin), so a stop is never a SIGKILL.
    drain_seconds: int = 20

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ServingSettings:
        """Settings from `env` (pass `os.environ`); unset variables keep their defaults.

        Raises:
            SettingsError: naming the variable and the bad value.
        """
        defaults = cls()
        return cls(
            bundle=Path(env.get("RANKSHIP_BUNDLE", DEFAULT_BUNDLE)),
            max_candidates=_int(env, "RANKSHIP_MAX_CANDIDATES", defaults.max_candidates),
            max_text_chars=_int(env, "RANKSHIP_MAX_TEXT_CHARS", defaults.max_text_chars),
            max_request_bytes=_int(env, "RANKSHIP_MAX_REQUEST_BYTES", defaults.max_request_bytes),
            litert_threads=_int(env, "RANKSHIP_LITERT_THREADS", defaults.litert_threads),
            product_cache=_int(env, "RANKSHIP_PRODUCT_CACHE", defaults.product_cache, minimum=0),
            metrics_flush_ms=_int(env, "RANKSHIP_METRICS_FLUSH_MS", defaults.metrics_flush_ms, minimum=0),
            score_buckets=_buckets(env, "RANKSHIP_SCORE_BUCKETS", defaults.score_buckets),
            interleave_child=_flag(env, "RANKSHIP_INTERLEAVE_CHILD"),
            rest_fast_path=_flag(env, "RANKSHIP_REST_FAST_PATH", default=True),
            drain_seconds=_int(env, "RANKSHIP_DRAIN_SECONDS", defaults.drain_seconds),
        )


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 1) -> int:
    raw = env.get(name)
    if raw is None:
        return default
    try:
        value = int(raw.strip())
    except ValueError as e:
        raise SettingsError(f"{name}={raw!r}: not an integer") from e
    if value < minimum:
        raise SettingsError(f"{name}={raw!r}: must be >= {minimum}")
    return value


def _buckets(env: Mapping[str, str], name: str, default: tuple[float, ...]) -> tuple[float, ...]:
    raw = env.get(name)
    if raw is None:
        return default
    try:
        edges = tuple(float(part) for part in raw.split(","))
    except ValueError as e:
        raise SettingsError(f"{name}={raw!r}: not a comma-separated list of numbers") from e
    if not all(math.isfinite(e) for e in edges):
        raise SettingsError(f"{name}={raw!r}: edges must be finite (+Inf is always added)")
    if list(edges) != sorted(set(edges)):
        raise SettingsError(f"{name}={raw!r}: edges must be strictly increasing")
    return edges


def _flag(env: Mapping[str, str], name: str, default: bool = False) -> bool:
    raw = env.get(name, "1" if default else "0").strip()
    if raw not in ("0", "1"):
        raise SettingsError(f"{name}={raw!r}: must be 0 or 1")
    return raw == "1"
