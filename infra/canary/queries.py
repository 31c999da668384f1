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

- Istio's request metrics, `istio_requests_total{response_code}` and `istio_request_duration_milliseconds`,
  reported by the ingress gateway (`reporter="source"`): they also count what neither the executor nor the
  model ever saw, e.g. the 503 "no healthy upstream" of a canary whose pods all crashed. Istio knows the
  track, not the bundle: `destination_canonical_revision` is the pod label `version`, constant per track
  (`stable`, `canary`; `infra/specs/seldon.py`), and a request that found no pod has revision `unknown` and
  only its `destination_service_name`, the predictor's Service `<model>-<track>` (Seldon's naming). Either
  way the track is credited to that track's version in the settings: the live check has made sure the
  cluster runs those, and windows from before the canary was deployed are not judged (`decide`);
- the feedback counters (`model/serving/feedback.py`) and the offline histogram gauge
  (`model/serving/offline_scores.py`), both labelled `bundle_version` like the model's other series.

Client mistakes (4xx) are the client's, not the canary's: every error query counts server errors only.
`rankship_errors_total{code!~"4.."}` also matches series without a `code` label (runtimes before it existed).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from infra.specs import naming as n
from infra.specs.promql import EXECUTOR, SERVER_ERRORS

VERSION = n.BUNDLE_VERSION_LABEL
EXECUTOR_VERSION = "predictor_version"
# REST answers carry the HTTP status, gRPC answers the gRPC code name.
EXECUTOR_SERVER_ERRORS = "5..|Unknown|DeadlineExceeded|Unimplemented|Internal|Unavailable|DataLoss"
QUANTILE = 0.99
MESH_VERSION, MESH_SERVICE = "destination_canonical_revision", "destination_service_name"


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

    def services(self) -> dict[str, str]:
        """The predictors' Services (Seldon names them `<deployment>-<predictor>`) -> bundle version."""
        return {f"{self.model}-stable": self.stable_version, f"{self.model}-canary": self.canary_version}

    def mesh_selector(self, *extra: str) -> str:
        services = "|".join(self.services())
        parts = ('reporter="source"', f'destination_service_namespace="{self.namespace}"')
        return _selector(*parts, f'{MESH_SERVICE}=~"{services}"', *extra)

    def version_of(self, query: Query, labels: Mapping[str, str]) -> str | None:
        """The bundle version a result series belongs to (mesh series name a track, or only a Service)."""
        value = labels.get(query.key)
        if query.key != MESH_VERSION:
            return value
        tracks = {"stable": self.stable_version, "canary": self.canary_version}
        if value in tracks:
            return tracks[value]
        if value not in ("unknown", "", None):
            return value  # a pod labelled with its bundle version (older manifests)
        return self.services().get(labels.get(MESH_SERVICE, ""))

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


def queries(target: Target, window: str, feedback_window: str | None = None) -> list[Query]:
    """Every query of one evaluation; `window` is a Prometheus duration such as 5m (feedback: its own)."""
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
        *mesh_queries(target, window),
        *feedback_queries(target, feedback_window or window),
        Query("offline", f"max by ({v}, le) (max_over_time(rankship_offline_scores{m}[{window}]))", v),
    ]


def mesh_queries(target: Target, window: str) -> list[Query]:
    s, s_err = target.mesh_selector(), target.mesh_selector('response_code=~"5.."')
    by = f"{MESH_SERVICE}, {MESH_VERSION}"
    return [
        Query("mesh_requests", f"sum by ({by}) (increase(istio_requests_total{s}[{window}]))", MESH_VERSION),
        Query(
            "mesh_errors", f"sum by ({by}) (increase(istio_requests_total{s_err}[{window}]))", MESH_VERSION
        ),
        Query(
            "mesh_p99_ms",
            f"histogram_quantile({QUANTILE}, sum by ({by}, le) "
            f"(rate(istio_request_duration_milliseconds_bucket{s}[{window}])))",
            MESH_VERSION,
        ),
    ]


FEEDBACK_SERIES = {
    "feedback": "rankship_feedback_total",
    "clicked": "rankship_feedback_clicked_total",
    "rr_sum": "rankship_feedback_reciprocal_rank_total",
    "rr_sq_sum": "rankship_feedback_reciprocal_rank_squared_total",
}


def feedback_queries(target: Target, window: str) -> list[Query]:
    """Credited by the version named in the answer, summed over every pod that received the feedback."""
    m, v = target.model_selector(), VERSION
    return [
        Query(name, f"sum by ({v}) (increase({series}{m}[{window}]))", v)
        for name, series in FEEDBACK_SERIES.items()
    ]
