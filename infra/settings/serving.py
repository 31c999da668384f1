"""Settings of one served model: image, bundles per track (stable/canary/shadow), resources, SLOs.

The bundle id is the sha256 of the bundle's MANIFEST; its first 12 hex chars are the *version* that appears
in `labels.version`, in Seldon responses (`meta.tags.model_version`) and in the `bundle_version` metric label.
"""

from __future__ import annotations

import re
from itertools import pairwise
from typing import Annotated

from kubernetes.utils import parse_quantity
from pydantic import AfterValidator, Field, model_validator

from infra.settings.cluster import Duration, Frozen, Image, Name

VERSION_LENGTH = 12
# The bundle id: sha256 hex of the bundle's MANIFEST (model/release/bundle.py writes it).
BUNDLE_ID_PATTERN = r"^[0-9a-f]{64}$"


def _quantity(value: str) -> str:
    try:
        parse_quantity(value)
    except ValueError as e:
        raise ValueError(f"{value!r} is not a Kubernetes quantity (e.g. 500m, 2, 4Gi)") from e
    return value


MAX_SCORE_BUCKETS = 64
# The trained ranker's scores are listwise softmax logits, mostly within -10..10: half-unit buckets resolve
# the shifts the PSI gate and the score-drift alert look for, at 34 series per version and worker.
DEFAULT_SCORE_BUCKETS: tuple[float, ...] = tuple(x / 2 for x in range(-16, 17))


def _score_buckets(edges: tuple[float, ...]) -> tuple[float, ...]:
    # Checked here rather than with min_length/max_length: those also fire, confusingly, after a bad item.
    if not 2 <= len(edges) <= MAX_SCORE_BUCKETS:
        raise ValueError(f"needs 2 to {MAX_SCORE_BUCKETS} bucket edges, got {len(edges)}")
    if any(b <= a for a, b in pairwise(edges)):
        raise ValueError(f"bucket edges must strictly increase, got {list(edges)}")
    return edges


Quantity = Annotated[str, AfterValidator(_quantity)]
# Numbers only (strict: no "1.5" strings or booleans) and finite: the runtime always adds +Inf itself.
ScoreEdge = Annotated[float, Field(strict=True, allow_inf_nan=False)]
ScoreBuckets = Annotated[tuple[ScoreEdge, ...], AfterValidator(_score_buckets)]


class Bundle(Frozen):
    id: str = Field(pattern=BUNDLE_ID_PATTERN, description="sha256 hex of the bundle's MANIFEST")
    uri: str = Field(description="s3://<bucket>/bundles/<id>/")

    @model_validator(mode="after")
    def _uri_names_id(self) -> Bundle:
        pattern = r"s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/bundles/" + self.id + "/"
        if not re.fullmatch(pattern, self.uri):
            raise ValueError(
                f"bundle uri must be s3://<bucket>/bundles/{self.id}/ (the same id), got {self.uri!r}"
            )
        return self

    @property
    def version(self) -> str:
        return self.id[:VERSION_LENGTH]

    @property
    def bucket(self) -> str:
        return self.uri.removeprefix("s3://").split("/", 1)[0]


class Compute(Frozen):
    """CPU and memory requests and limits of one container (serving replica or training worker)."""

    cpu: Quantity = "1"
    memory: Quantity = "2Gi"
    cpu_limit: Quantity = "2"
    memory_limit: Quantity = "2Gi"

    @model_validator(mode="after")
    def _limits_cover_requests(self) -> Compute:
        if parse_quantity(self.cpu_limit) < parse_quantity(self.cpu):
            raise ValueError(f"cpu_limit {self.cpu_limit} is below the cpu request {self.cpu}")
        if parse_quantity(self.memory_limit) < parse_quantity(self.memory):
            raise ValueError(f"memory_limit {self.memory_limit} is below the memory request {self.memory}")
        return self


class Resources(Compute):
    gpu: int = Field(default=0, ge=0, le=8, description="nvidia.com/gpu per replica")
    gpu_type: Name | None = Field(default=None, description="pin to pools whose gpu.type matches")

    @model_validator(mode="after")
    def _gpu_type_needs_gpus(self) -> Resources:
        if self.gpu_type is not None and self.gpu == 0:
            raise ValueError("gpu_type is set but gpu is 0")
        return self


class Autoscaling(Frozen):
    min_replicas: int = Field(default=2, ge=1, le=100)
    max_replicas: int = Field(default=4, ge=1, le=100)
    target_cpu_utilization: int = Field(default=70, ge=10, le=100)

    @model_validator(mode="after")
    def _ordered(self) -> Autoscaling:
        if self.min_replicas > self.max_replicas:
            raise ValueError(f"min_replicas {self.min_replicas} exceeds max_replicas {self.max_replicas}")
        return self


class Stable(Frozen):
    bundle: Bundle
    weight: int = Field(default=100, ge=0, le=100, description="percent of live traffic")
    image: Image | None = Field(default=None, description="None: the model's image")


class CanaryAnalysis(Frozen):
    """How the canary analyzer judges and promotes a canary (read by infra/canary.py)."""

    steps: tuple[int, ...] = (10, 25, 50, 100)
    interval: Duration = "5m"
    window: Duration = "10m"
    failure_threshold: int = Field(default=3, ge=1)
    min_requests_per_version: int = Field(default=200, ge=1)
    max_error_rate: float = Field(default=0.01, gt=0, lt=1)
    max_p99_latency_ms: float = Field(default=250.0, gt=0)
    max_score_psi: float = Field(
        default=0.2, gt=0, description="PSI of each version's live scores vs its own offline histogram"
    )
    min_feedback_per_version: int = Field(
        default=200, ge=0, description="impressions with feedback per version and window; 0: no online check"
    )
    online_margin: float = Field(
        default=0.05, gt=0, lt=1, description="non-inferiority margin, relative to stable's CTR and MRR"
    )
    online_alpha: float = Field(default=0.05, gt=0, lt=0.5, description="one-sided level of the z-tests")
    feedback_window: Duration = Field(
        default="1h", description="feedback counted over this window: clicks are rarer than requests"
    )
    max_holds: int = Field(
        default=12, ge=1, description="progress deadline: holds at one step (intervals) before `stalled`"
    )

    @model_validator(mode="after")
    def _steps_climb_to_100(self) -> CanaryAnalysis:
        steps = self.steps
        if not steps or steps[-1] != 100 or any(not 1 <= s <= 100 for s in steps):
            raise ValueError(f"steps must be percents in 1..100 ending at 100, got {list(steps)}")
        if any(b <= a for a, b in pairwise(steps)):
            raise ValueError(f"steps must strictly increase, got {list(steps)}")
        return self


class Interleave(Frozen):
    """An interleaving predictor beside stable and canary: a team-draft combiner over both bundles.

    Its users see one list merged from stable's and the canary's rankings; their clicks say which ranker they
    prefer (`infra/canary/interleaving.py`), with far fewer impressions than comparing the two groups of users.
    """

    weight: int = Field(ge=1, le=98, description="percent of live traffic, taken from stable's share")
    min_decided: int = Field(
        default=100, ge=1, description="decided (non-tie) interleaved impressions before the check counts"
    )
    alpha: float = Field(default=0.05, gt=0, lt=1, description="sign test level: stable preferred -> fail")
    window: Duration = Field(default="1h", description="outcomes counted over this window (evidence adds up)")


class Canary(Frozen):
    bundle: Bundle
    weight: int = Field(ge=1, le=99, description="percent of live traffic; promotion replaces stable")
    image: Image | None = None
    autoscaling: Autoscaling | None = Field(default=None, description="None: min 1, stable's max")
    analysis: CanaryAnalysis = CanaryAnalysis()
    interleave: Interleave | None = Field(default=None, description="None: no interleaving predictor")

    @model_validator(mode="after")
    def _stable_keeps_traffic_at_every_step(self) -> Canary:
        if self.interleave is None:
            return self
        # Promotion steps below 100 move canary.weight; stable keeps 100 - canary - interleave, at least 1.
        widest = max([self.weight, *(s for s in self.analysis.steps if s < 100)])
        if widest + self.interleave.weight > 99:
            raise ValueError(
                f"canary weight {widest} + interleave.weight {self.interleave.weight} leaves stable no traffic "
                "(the interleaving predictor is never the only one: stable needs at least 1 %)"
            )
        return self

    @property
    def interleave_weight(self) -> int:
        return self.interleave.weight if self.interleave else 0


class Shadow(Frozen):
    bundle: Bundle
    mirror_percent: int = Field(default=100, ge=1, le=100, description="share of live requests mirrored")
    image: Image | None = None
    autoscaling: Autoscaling | None = None


class ServingRuntime(Frozen):
    """Knobs of the serving runtime (`model/serving/settings.py`), passed to it as environment variables.

    None keeps the image's own default, so the runtime stays the one place those defaults are written down.
    The score buckets are the exception: they are always passed, because every predictor of the model must
    share them (PSI and the drift alert compare histograms bucket by bucket), even a track that runs another
    image whose built-in default may differ.
    """

    workers: int | None = Field(
        default=None, ge=1, le=64, description="gunicorn REST workers; None: one per requested CPU core"
    )
    # `make bench-serve`: threads > 1 never raised throughput (the GIL), a worker per free core did.
    threads: int = Field(default=1, ge=1, le=16, description="gunicorn threads per worker")
    max_candidates: int | None = Field(default=None, ge=1, description="RANKSHIP_MAX_CANDIDATES")
    max_text_chars: int | None = Field(default=None, ge=1, description="RANKSHIP_MAX_TEXT_CHARS")
    max_request_bytes: int | None = Field(default=None, ge=1, description="RANKSHIP_MAX_REQUEST_BYTES")
    litert_threads: int | None = Field(
        default=None,
        ge=1,
        le=64,
        description="RANKSHIP_LITERT_THREADS; None: the CPU limit divided among the workers, rounded down",
    )
    drain_seconds: int = Field(
        default=20,
        ge=1,
        le=300,
        description="RANKSHIP_DRAIN_SECONDS: after SIGTERM, the bound on requests in flight; the pod's grace "
        "period is this plus a margin",
    )
    score_buckets: ScoreBuckets = Field(
        default=DEFAULT_SCORE_BUCKETS,
        description="RANKSHIP_SCORE_BUCKETS: histogram edges for bundles without score_histogram.json",
    )


class Slo(Frozen):
    p99_latency_ms: float = Field(gt=0, description="server-side p99 over 5m, alert after latency_for")
    latency_for: Duration = "10m"
    availability: float = Field(
        ge=0.9, lt=1, description="error budget is 1 - availability; only server errors (5xx) spend it"
    )
    bad_input_max_ratio: float = Field(
        default=0.05,
        gt=0,
        lt=1,
        description="ticket when more of the live requests than this are rejected as bad input (4xx)",
    )
    score_drift_max_shift: float = Field(
        default=0.1, gt=0, description="alert when canary's median or p90 score moves this far from stable's"
    )


class ModelSettings(Frozen):
    name: Name
    image: Image
    resources: Resources = Resources()
    node_pool: Name | None = Field(
        default=None, description="run the replicas only on this node pool (nodes labelled rankship.io/pool)"
    )
    autoscaling: Autoscaling = Autoscaling()
    max_unavailable: int = Field(default=1, ge=0, description="PodDisruptionBudget per track")
    runtime: ServingRuntime = ServingRuntime()
    stable: Stable
    canary: Canary | None = None
    shadow: Shadow | None = None
    slo: Slo

    @model_validator(mode="after")
    def _tracks_consistent(self) -> ModelSettings:
        canary = self.canary.weight if self.canary else 0
        interleave = self.canary.interleave_weight if self.canary else 0
        if self.stable.weight + canary + interleave != 100:
            parts = f"stable.weight {self.stable.weight}" + (
                f" + canary.weight {canary}" if self.canary else ""
            )
            parts += f" + canary.interleave.weight {interleave}" if interleave else ""
            raise ValueError(f"model {self.name!r}: traffic weights must sum to 100, got {parts}")
        versions = {"stable": self.stable.bundle.version}
        for track, release in (("canary", self.canary), ("shadow", self.shadow)):
            if release is None:
                continue
            clash = [t for t, v in versions.items() if v == release.bundle.version]
            if clash:
                # Istio routes by the pod label `version`; two tracks with one version would share a subset.
                raise ValueError(f"model {self.name!r}: {track}.bundle is the {clash[0]} bundle's version")
            versions[track] = release.bundle.version
        return self

    def versions(self) -> dict[str, str]:
        """Version (12 hex) per track present."""
        tracks = {"stable": self.stable, "canary": self.canary, "shadow": self.shadow}
        return {t: r.bundle.version for t, r in tracks.items() if r is not None}
