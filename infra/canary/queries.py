"""The PromQL of the canary analysis: per version, over one window, grouped so that one query answers both.

Two sources, with the labels each carries in a cluster (see `infra/specs/monitoring.py`, the PodMonitor):

- the model's own Seldon custom metrics (`model/serving/telemetry.py`), labelled `bundle_version`, plus the
  target labels `namespace` and `rankship_model` the PodMonitor copies from the pod (see `infra/specs/promql.py`,
  which the alert rules build on);
- the Seldon executor's `seldon_api_executor_server_requests_seconds` histogram (present when the model runs
  behind Seldon's executor, i.e. in a cluster), labelled `deployment_name` (the SeldonDeployment, named after
  the model) and `predictor_version`, which the executor takes from the predictor's `version` annotation (the
  bundle version, set by `infra/specs/seldon.py`). Keyed by version rather than by track (`predictor_name`),
  a window that spans a new canary, or a promotion, never mixes two versions' requests under one track. Pods
  started before the annotation existed report an empty `predictor_version`: no executor data, and `decide`
  falls back to the model's own metrics.

Client mistakes (4xx) are the client's, not the canary's: both error queries count server errors only.
`rankship_errors_total{code!~"4.."}` also matches series without a `code` label (runtimes before it existed).
"""

from __future__ import annotations

from dataclasses import dataclass

from infra.specs import naming as n
from infra.specs.promql import EXECUTOR, SERVER_ERRORS

VERSION = n.BUNDLE_VERSION_LABEL
EXECUTOR_VERSION = "predictor_version"
# REST answers carry the HTTP status, gRPC answers the gRPC code name.
EXECUTOR_SERVER_ERRORS = "5..|Unknown|DeadlineExceeded|Unimplemented|Internal|Unavailable|DataLoss"
QUANTILE = 0.99


@dataclass(frozen=True)
class Target:
    """What one analysis compares: a model's stable and canary, in one namespace."""

    namespace: str
    model: str
    stable_version: str
    canary_version: str

    def versions(self) -> str:
        return f"{self.stable_version}|{self.canary_version}"

    def model_selector(self, *extra: str) -> str:
        model = f'{n.PROM_MODEL_LABEL}="{self.model}"'
        return _selector(f'namespace="{self.namespace}"', model, f'{VERSION}=~"{self.versions()}"', *extra)

    def executor_selector(self, *extra: str) -> str:
        parts = (f'namespace="{self.namespace}"', f'deployment_name="{self.model}"')
        return _selector(*parts, f'{EXECUTOR_VERSION}=~"{self.versions()}"', *extra)


def _selector(*parts: str) -> str:
    return "{" + ", ".join(parts) + "}"


@dataclass(frozen=True)
class Query:
    """A named PromQL expression and the label that says which version a result series belongs to."""

    name: str
    expr: str
    key: str  # "bundle_version" (model metrics) or "predictor_version" (executor metrics)


def queries(target: Target, window: str) -> list[Query]:
    """Every query of one evaluation; `window` is a Prometheus duration such as 5m."""
    m, m_err = target.model_selector(), target.model_selector(SERVER_ERRORS)
    e, e_err = target.executor_selector(), target.executor_selector(f'code=~"{EXECUTOR_SERVER_ERRORS}"')
    v, p, q = VERSION, EXECUTOR_VERSION, QUANTILE
    return [
        Query("requests", f"sum by ({v}) (increase(rankship_requests_total{m}[{window}]))", v),
        Query("errors", f"sum by ({v}) (increase(rankship_errors_total{m_err}[{window}]))", v),
        Query(
            "p99",
            f"histogram_quantile({q}, sum by ({v}, le) "
            f"(rate(rankship_inference_seconds_bucket{m}[{window}])))",
            v,
        ),
        Query("scores", f"sum by ({v}, le) (increase(rankship_scores_total{m}[{window}]))", v),
        Query("exec_requests", f"sum by ({p}) (increase({EXECUTOR}_count{e}[{window}]))", p),
        Query("exec_errors", f"sum by ({p}) (increase({EXECUTOR}_count{e_err}[{window}]))", p),
        Query(
            "exec_p99",
            f"histogram_quantile({q}, sum by ({p}, le) (rate({EXECUTOR}_bucket{e}[{window}])))",
            p,
        ),
    ]
