"""Platform settings: the add-on charts, the gateway (TLS, request authentication, load balancer scheme),
alert delivery and Prometheus storage.

Nothing here holds a secret value: receivers name a Kubernetes Secret and key that Alertmanager reads as a
file, TLS keys are issued by cert-manager inside the cluster.
"""

from __future__ import annotations

import re
from ipaddress import IPv4Network
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from infra.settings.cluster import ChartVersions, Duration, Frozen, Image, Name

# DNS name, optionally with one leading wildcard label (what a certificate's dnsNames accept).
HostName = Annotated[
    str, Field(pattern=r"^(\*\.)?([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)+[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
]


def _https_url(value: str) -> str:
    # Istio fetches the JWKS and compares the issuer literally: plain HTTP would let anyone on the path
    # swap the keys.
    if not re.fullmatch(r"https://[^\s/]+(/\S*)?", value):
        raise ValueError(f"must be an https:// URL, got {value!r}")
    return value


def _spiffe_principal(value: str) -> str:
    if not re.fullmatch(r"[a-z0-9.-]+/ns/[a-z0-9-]+/sa/[a-z0-9.-]+", value):
        raise ValueError(
            f"principal must read <trust domain>/ns/<namespace>/sa/<service account>, got {value!r}"
        )
    return value


HttpsUrl = Annotated[str, AfterValidator(_https_url)]
Principal = Annotated[str, AfterValidator(_spiffe_principal)]


class TlsSettings(Frozen):
    """HTTPS on the gateway; plain HTTP only redirects."""

    hosts: tuple[HostName, ...] = Field(min_length=1, description="names the gateway certificate covers")
    issuer: Name | None = Field(
        default=None,
        description="a ClusterIssuer you run (e.g. ACME with DNS-01); None: rankship's private CA",
    )


class JwtAuth(Frozen):
    """Clients present a JWT from `issuer`; the gateway checks it against `jwks_uri` and `audiences`."""

    mode: Literal["jwt"]
    issuer: HttpsUrl
    jwks_uri: HttpsUrl
    audiences: tuple[str, ...] = Field(min_length=1)


class MeshAuth(Frozen):
    """Clients are mesh workloads: Istio mutual TLS, and only these identities may call the models."""

    mode: Literal["mtls"]
    principals: tuple[Principal, ...] = Field(min_length=1)


class NoAuth(Frozen):
    """Only for `existing` clusters reached by port-forward (kind): anyone who reaches the gateway may call."""

    mode: Literal["none"]


Auth = Annotated[JwtAuth | MeshAuth | NoAuth, Field(discriminator="mode")]


class Receiver(Frozen):
    """Where Alertmanager sends alerts of the listed severities; the credential stays in a Secret."""

    name: Name
    kind: Literal["slack", "pagerduty", "webhook"]
    secret: Name = Field(description="Secret in the monitoring namespace, mounted into Alertmanager")
    key: str = Field(
        pattern=r"^[-._a-zA-Z0-9]+$",
        description="key holding the Slack webhook URL, PagerDuty routing key or webhook URL",
    )
    severities: tuple[Literal["page", "ticket"], ...] = Field(default=("page", "ticket"), min_length=1)


class PrometheusStorage(Frozen):
    """A persistent volume per Prometheus replica; retention by time and by size, whichever comes first."""

    retention: Duration = "15d"
    volume_gib: int = Field(default=50, ge=10, le=16384)
    storage_class: Name | None = Field(
        default=None, description="None: rankship's gp3 class on aws-eks, the cluster default elsewhere"
    )

    @property
    def retention_size(self) -> str:
        # The TSDB also needs room for the WAL and compaction: keep the blocks to 80% of the volume so a
        # full volume never stops ingestion (Prometheus deletes the oldest blocks first).
        return f"{self.volume_gib * 8 // 10}GiB"


class SeldonImages(Frozen):
    """The containers seldon-core-operator adds to every model pod, pinned by digest.

    Copy the 1.17.1 images to your registry and pin what you copied (`crane digest`): the operator's own
    defaults are tags on Docker Hub.
    """

    executor: Image
    storage_initializer: Image


class PlatformSettings(Frozen):
    charts: ChartVersions
    ingress_service_type: Literal["LoadBalancer", "NodePort"] = "LoadBalancer"
    ingress_scheme: Literal["internal", "internet-facing"] = Field(
        default="internal", description="AWS load balancer scheme; internal keeps the models off the Internet"
    )
    ingress_source_ranges: tuple[IPv4Network, ...] = Field(
        default=(), description="with internet-facing: the only client ranges the load balancer admits"
    )
    tls: TlsSettings | None = Field(default=None, description="None (plain HTTP) only on existing clusters")
    auth: Auth
    seldon_images: SeldonImages | None = Field(
        default=None, description="None: the operator's own images by tag, only on existing clusters"
    )
    prometheus: PrometheusStorage = PrometheusStorage()
    receivers: tuple[Receiver, ...] = ()
    helm_timeout_seconds: int = Field(default=900, ge=60, le=3600)

    @model_validator(mode="after")
    def _consistent(self) -> PlatformSettings:
        names = [r.name for r in self.receivers]
        if len(set(names)) != len(names):
            raise ValueError(f"receivers: names must be unique, got {names}")
        if self.ingress_scheme == "internet-facing":
            if not self.ingress_source_ranges or any(c.prefixlen == 0 for c in self.ingress_source_ranges):
                raise ValueError("ingress_scheme internet-facing needs ingress_source_ranges without a /0")
        elif self.ingress_source_ranges:
            raise ValueError("ingress_source_ranges only apply with ingress_scheme internet-facing")
        return self
