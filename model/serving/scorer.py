"""Scores candidates with the bundle's LiteRT model, and replays the bundle's golden requests.

golden.json (written by the pipeline's evaluation step, replayed here before the server is ready):

    {"tolerance": {"absolute": 1e-3},
     "requests": [{"request": {"query": str, "candidates": [{"id": str, "title": str,
                                                             "description": str?}]},
                   "scores": {"<id>": float, ...}}]}

Each request is scored as one batch; every candidate's served score must lie within `absolute` of its
offline score, and `scores` must name exactly the request's candidate ids.
"""

from __future__ import annotations

import json
import logging
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import fastjsonschema
import numpy as np
import numpy.typing as npt
from ai_edge_litert.interpreter import Interpreter

from model.release.bundle import GOLDEN_FILE, LEXICAL_FILE, MODEL_FILE, TOKENIZER_FILE, BundleInfo
from model.serving.contract import BadRequest, RequestParser
from model.text.fastpath import FastEncoder
from model.text.lexical import LexicalError, LexicalIndex
from model.text.tokenizer import Tokenizer

logger = logging.getLogger(__name__)

GOLDEN_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "tolerance": {
            "type": "object",
            "properties": {"absolute": {"type": "number", "exclusiveMinimum": 0}},
            "required": ["absolute"],
            "additionalProperties": False,
        },
        "requests": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "properties": {
                    "request": {"type": "object"},
                    "scores": {"type": "object", "additionalProperties": {"type": "number"}},
                },
                "required": ["request", "scores"],
                "additionalProperties": False,
            },
        },
    },
    "required": ["tolerance", "requests"],
    "additionalProperties": False,
}
_validate_golden = fastjsonschema.compile(GOLDEN_SCHEMA)


class ModelError(ValueError):
    """A bundle whose model, tokenizer or golden file cannot serve; the message names the file."""


@dataclass(frozen=True)
class CacheCounts:
    hits: int
    misses: int


class ProductCache:
    """The product-text cache of the serving encoder (`model.text.fastpath.FastEncoder`), as metrics.

    Candidates recur across queries, and a product text's word rows do not depend on the query (the
    match markers are applied per request), so a hit is exact whatever the query. The encoder keeps
    the `entries` most recently used texts (0: none) and counts hits and misses under its lock; one
    encoder belongs to one bundle's tokenizer, so entries never cross tokenizers.
    """

    def __init__(self, encoder: FastEncoder, entries: int):
        self.entries = entries
        self._encoder = encoder
        self._taken = CacheCounts(0, 0)
        self._lock = threading.Lock()

    def counts(self) -> CacheCounts:
        """Hits and misses since the cache was made (all zero when it is disabled)."""
        with self._encoder.lock:
            return CacheCounts(self._encoder.hits, self._encoder.misses)

    def take(self) -> CacheCounts:
        """Hits and misses since the last `take` (metrics are counters: each request adds its share)."""
        with self._lock:
            now, before = self.counts(), self._taken
            self._taken = now
        return CacheCounts(now.hits - before.hits, now.misses - before.misses)


class Scorer:
    """Tokenizer + LiteRT interpreter (+ the BM25 term of lexical.json) of one verified bundle.
    Thread-safe (one invoke at a time)."""

    def __init__(self, bundle: BundleInfo, threads: int = 1, cache_entries: int = 0):
        """Load the bundle's tokenizer and model and check they fit together.

        Args:
            bundle: a bundle that `model.release.bundle.verify_bundle` accepted.
            threads: LiteRT interpreter threads.
            cache_entries: product texts whose query-independent tokens are kept (0: no cache).
        Raises:
            ModelError: naming model.tflite when its signature is not int32 [N, L, K] -> float32 [N],
                or lexical.json when it cannot be read.
        """
        self.tokenizer = Tokenizer.load(bundle.path / TOKENIZER_FILE)
        # Served score = model + weight * BM25 over the catalog when the bundle carries lexical.json.
        self.lexical: LexicalIndex | None = None
        if LEXICAL_FILE in bundle.files:
            lexical_path = bundle.path / LEXICAL_FILE
            try:
                self.lexical = LexicalIndex.from_json(
                    lexical_path.read_text(encoding="utf-8"), str(lexical_path)
                ).with_cache(cache_entries)
            except (OSError, UnicodeDecodeError) as e:
                raise ModelError(f"{lexical_path}: unreadable: {e}") from e
            except LexicalError as e:
                raise ModelError(str(e)) from e
        # The vectorised encoder (same ids as the training side's reference loop: the parity tests in
        # tests/model/text/test_fastpath.py); ~2.4x faster than per-word encoding on the demo mix.
        self.encoder = FastEncoder(self.tokenizer, text_limit=cache_entries)
        self.cache = ProductCache(self.encoder, cache_entries)
        path = bundle.path / MODEL_FILE
        try:
            self._interpreter = Interpreter(model_path=str(path), num_threads=threads)
        except (ValueError, RuntimeError) as e:
            raise ModelError(f"{path}: not a loadable LiteRT model: {e}") from e
        inputs, outputs = self._interpreter.get_input_details(), self._interpreter.get_output_details()
        expected = [-1, self.tokenizer.seq_len, self.tokenizer.subtokens]
        if (
            len(inputs) != 1
            or inputs[0]["dtype"] != np.int32
            or list(inputs[0]["shape_signature"]) != expected
        ):
            got = [(i["dtype"].__name__, list(i["shape_signature"])) for i in inputs]
            raise ModelError(
                f"{path}: input must be one int32 tensor {expected} for tokenizer.json, got {got}"
            )
        if len(outputs) != 1 or outputs[0]["dtype"] != np.float32 or len(outputs[0]["shape_signature"]) != 1:
            got = [(o["dtype"].__name__, list(o["shape_signature"])) for o in outputs]
            raise ModelError(f"{path}: output must be one float32 tensor [N], got {got}")
        self._input, self._output = inputs[0]["index"], outputs[0]["index"]
        self._batch = 0
        self._lock = threading.Lock()

    @property
    def interpreter(self) -> Interpreter:
        """The LiteRT interpreter, for the benchmark's floor (`invoke()` alone); not thread-safe."""
        return self._interpreter

    def tokens(self, query: str, texts: Sequence[str]) -> npt.NDArray[np.int32]:
        """`tokenizer.encode(query, texts)`, with each product's own part from the cache."""
        return self.encoder.encode(query, texts)

    def invoke(self, tokens: npt.NDArray[np.int32]) -> npt.NDArray[np.float32]:
        """Scores for int32 tokens [N, L, K]: float32 [N] (a copy, safe to keep)."""
        with self._lock:
            if tokens.shape[0] != self._batch:
                # Re-planning tensors costs ~0.1 ms; skipping it when N repeats is the common case.
                self._interpreter.resize_tensor_input(self._input, list(tokens.shape), strict=True)
                self._interpreter.allocate_tensors()
                self._batch = tokens.shape[0]
            self._interpreter.set_tensor(self._input, tokens)
            self._interpreter.invoke()
            return np.array(self._interpreter.get_tensor(self._output), copy=True)

    def fuse(
        self, scores: npt.NDArray[np.float32], query: str, texts: Sequence[str]
    ) -> npt.NDArray[np.float32]:
        """The served score from the model's: + weight * BM25 with lexical.json, else unchanged."""
        return scores if self.lexical is None else self.lexical.fuse(scores, query, texts)

    def score(self, query: str, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        return self.fuse(self.invoke(self.tokens(query, texts)), query, texts)


@dataclass(frozen=True)
class ParityReport:
    requests: int
    candidates: int
    max_abs_diff: float
    tolerance: float


def load_golden(bundle: BundleInfo) -> dict[str, Any]:
    """Parse and schema-check golden.json. Raises ModelError naming the file and the field."""
    path = bundle.path / GOLDEN_FILE
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        _validate_golden(doc)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ModelError(f"{path}: unreadable: {e}") from e
    except fastjsonschema.JsonSchemaValueException as e:
        raise ModelError(f"{path}: {e.message.replace('data', 'golden', 1)}") from e
    return doc


# Golden requests carry real catalog text: the deployment's request limits do not apply to them.
_GOLDEN_PARSER = RequestParser(max_candidates=1_000_000, max_text_chars=1_000_000_000)


def check_parity(
    scorer: Scorer, golden: dict[str, Any], parser: RequestParser = _GOLDEN_PARSER
) -> ParityReport:
    """Serve every golden request (contract checks, product text, tokenizer, LiteRT) and compare.

    Raises:
        ModelError: naming the golden request, the candidate, both scores and the tolerance.
    """
    tolerance = float(golden["tolerance"]["absolute"])
    worst, count = 0.0, 0
    for i, item in enumerate(golden["requests"]):
        try:
            request = parser.from_json_data(item["request"], form=f"golden.requests[{i}].request")
        except BadRequest as e:
            raise ModelError(f"{GOLDEN_FILE}: {e.message}") from e
        expected: dict[str, float] = item["scores"]
        if set(expected) != set(request.ids):
            raise ModelError(
                f"{GOLDEN_FILE}: requests[{i}].scores must name exactly the request's candidate ids"
            )
        served = scorer.score(request.query, request.texts)
        for cid, got in zip(request.ids, served.tolist(), strict=True):
            diff = abs(got - expected[cid])
            if not math.isfinite(diff) or diff > tolerance:
                raise ModelError(
                    f"golden parity failed: requests[{i}] candidate {cid!r}: served {got:.6g}, "
                    f"offline {expected[cid]:.6g}, |diff| {diff:.3g} > tolerance {tolerance:g} (the serving "
                    "path differs from the offline one: model runtime, tokenizer code or product text)"
                )
            worst, count = max(worst, diff), count + 1
    return ParityReport(len(golden["requests"]), count, worst, tolerance)
