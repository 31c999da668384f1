"""A small Prometheus HTTP API client for range queries, strict about what it accepts.

Anything but a well-formed `matrix` answer raises `PrometheusError` naming the query and what was wrong:
unreachable server, timeout, HTTP error, a body that is not JSON, `status: error`, values that are not
numbers. The analyzer turns that into a `hold` with the reason, never into a verdict.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import requests
from pydantic import BaseModel, ConfigDict, ValidationError

DEFAULT_TIMEOUT_S = 10.0


class PrometheusError(RuntimeError):
    """Prometheus could not be asked, or its answer could not be read."""


class _Series(BaseModel):
    model_config = ConfigDict(extra="ignore")
    metric: dict[str, str]
    values: list[tuple[float, str]]


class _Data(BaseModel):
    model_config = ConfigDict(extra="ignore")
    resultType: Literal["matrix"]
    result: list[_Series]


class _Answer(BaseModel):
    model_config = ConfigDict(extra="ignore")
    status: Literal["success"]
    data: _Data


@dataclass(frozen=True)
class Series:
    labels: Mapping[str, str]
    points: Mapping[float, float]  # unix time -> value; NaN (e.g. 0/0, an empty histogram) is left out


class Prometheus:
    """`base_url` is the server root, e.g. http://prometheus.monitoring:9090 (the API lives under /api/v1)."""

    def __init__(self, base_url: str, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.session = requests.Session()

    def range_query(self, expr: str, start: float, end: float, step_s: float) -> list[Series]:
        """Evaluate `expr` at start, start + step, ..., end."""
        params: Mapping[str, str | float] = {"query": expr, "start": start, "end": end, "step": step_s}
        url = f"{self.base_url}/api/v1/query_range"
        try:
            response = self.session.get(url, params=params, timeout=self.timeout_s)
        except requests.RequestException as e:
            raise PrometheusError(f"Prometheus at {self.base_url} unreachable: {e}") from e
        return parse_answer(expr, response.status_code, response.text)


def parse_answer(expr: str, status_code: int, body: str) -> list[Series]:
    """Read a /api/v1/query_range answer; raises PrometheusError for anything unexpected."""
    try:
        answer = _Answer.model_validate_json(body)
    except ValidationError as e:
        error = _error_text(body)
        if status_code != 200 or error:
            raise PrometheusError(f"query {expr!r}: HTTP {status_code}: {error or repr(body[:200])}") from e
        raise PrometheusError(f"query {expr!r}: not a Prometheus matrix answer: {_first(e)}") from e
    return [_series(expr, s) for s in answer.data.result]


def _series(expr: str, series: _Series) -> Series:
    points = {}
    for at, raw in series.values:
        try:
            value = float(raw)
        except ValueError as e:
            raise PrometheusError(f"query {expr!r}: value {raw!r} at {at} is not a number") from e
        if not math.isnan(value):
            points[at] = value
    return Series(series.metric, points)


def _error_text(body: str) -> str:
    class _Error(BaseModel):
        status: Literal["error"]
        errorType: str = ""
        error: str = ""

    try:
        err = _Error.model_validate_json(body)
    except ValidationError:
        return ""
    return f"{err.errorType}: {err.error}".strip(": ")


def _first(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "body"
    return f"{where}: {first['msg']}"
