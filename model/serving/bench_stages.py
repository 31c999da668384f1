"""The in-process half of `make bench-serve`: where one request's time goes, stage by stage.

For each request of the mix, in the order `RankshipRanker.predict_raw` runs them:

    parse/validate   JSON bytes -> dict (the wrapper's parser) -> `RequestParser.parse`
    tokenize         `Scorer.tokens` (product parts from the cache)
    invoke           `Scorer.invoke` (set input, LiteRT invoke, copy the scores out)
    bm25             `Scorer.fuse` (+ weight * BM25 of lexical.json; nothing without one)
    rank/serialize   `RankshipRanker.order` + `respond` (body and metrics) -> JSON bytes

and, right after each request's invoke, the floor: LiteRT's own `Interpreter.invoke()` again on the
tensors already in place (same request, batch size, thread count and moment, so the same CPU noise).
Every stage is then a multiple of that floor's p50.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Sequence
from typing import Any

from model.serving.bench_load import stats
from model.serving.seldon_model import RankshipRanker

STAGES = ("parse/validate", "tokenize", "invoke", "bm25", "rank/serialize")
Loads = Callable[[bytes], Any]
Dumps = Callable[[Any], bytes]


def stage_times(
    ranker: RankshipRanker, bodies: Sequence[bytes], count: int, json: tuple[Loads, Dumps]
) -> dict[str, dict[str, list[float]]]:
    """Seconds per stage for `count` requests walking `bodies` (cycled), plus their sum ("total"):
    {"wall": ..., "cpu": ...}, cpu being this process's CPU time (all its threads, LiteRT's included),
    which a busy machine stretches far less than wall time."""
    scorer = ranker.scorer
    assert scorer is not None, "load the ranker first"
    loads, dumps = json
    names = (*STAGES, "total", "floor")
    out: dict[str, dict[str, list[float]]] = {c: {name: [] for name in names} for c in ("wall", "cpu")}
    for body in itertools.islice(itertools.cycle(bodies), count):
        marks = [(time.perf_counter(), time.process_time())]
        request = ranker.parser.parse(loads(body))
        marks.append((time.perf_counter(), time.process_time()))
        tokens = scorer.tokens(request.query, request.texts)
        marks.append((time.perf_counter(), time.process_time()))
        scores = scorer.invoke(tokens)
        marks.append((time.perf_counter(), time.process_time()))
        scores = scorer.fuse(scores, request.query, request.texts)
        marks.append((time.perf_counter(), time.process_time()))
        answer, metrics = ranker.respond(request, ranker.order(request, scores), marks[0][0])
        answer["meta"]["metrics"] = metrics
        dumps(answer)
        marks.append((time.perf_counter(), time.process_time()))
        scorer.interpreter.invoke()
        marks.append((time.perf_counter(), time.process_time()))
        for c, clock in (("wall", 0), ("cpu", 1)):
            t = [m[clock] for m in marks]
            spans = (*(b - a for a, b in itertools.pairwise(t[:6])), t[5] - t[0], t[6] - t[5])
            for name, seconds in zip(names, spans, strict=True):
                out[c][name].append(seconds)
    return out


def summarise(times: dict[str, dict[str, list[float]]]) -> dict[str, dict[str, float]]:
    floor_p50_ms = stats(times["wall"]["floor"])["p50_ms"]
    out = {}
    for name, seconds in times["wall"].items():
        row = stats(seconds)
        row["x_floor"] = row["p50_ms"] / floor_p50_ms
        row["cpu_p50_ms"] = stats(times["cpu"][name])["p50_ms"]
        out[name] = row
    return out


def cache_sweep(
    ranker: RankshipRanker, payloads: Sequence[dict[str, Any]], sizes: Sequence[int]
) -> list[dict[str, float]]:
    """Tokenize the whole mix once per cache size (a fresh cache each): hit rate and tokenize time."""
    from model.serving.scorer import ProductCache
    from model.text.fastpath import FastEncoder

    scorer = ranker.scorer
    assert scorer is not None, "load the ranker first"
    requests = [ranker.parser.parse({"jsonData": p}) for p in payloads]
    rows = []
    for entries in sizes:
        encoder = FastEncoder(scorer.tokenizer, text_limit=entries)  # what Scorer.tokens runs
        cache = ProductCache(encoder, entries)
        latencies = []
        for r in requests:
            start = time.perf_counter()
            encoder.encode(r.query, r.texts)
            latencies.append(time.perf_counter() - start)
        counts = cache.counts()
        looked_up = counts.hits + counts.misses
        rate = counts.hits / looked_up if looked_up else 0.0
        rows.append({"entries": entries, "hit_rate": rate, **stats(latencies)})
    return rows


def distinct_products(payloads: Sequence[dict[str, Any]]) -> int:
    return len({(c["title"], c.get("description")) for p in payloads for c in p["candidates"]})
