"""The Istio ingress gateway the models sit behind: load balancer scheme, TLS and request authentication.

- Load balancer: internal by default (the AWS annotations below); `internet-facing` only with
  `platform.ingress_source_ranges`, which the policy pack checks.
- TLS: a cert-manager Certificate for `platform.tls.hosts`, from the ClusterIssuer the settings name or from
  rankship's private CA (a self-signed root kept in the cert-manager namespace). Port 80 only redirects.
- Authentication, per stack (`platform.auth`): `jwt` puts a RequestAuthentication on the gateway and an
  AuthorizationPolicy that admits only requests with a valid token from the issuer; `mtls` serves Istio
  mutual TLS (ISTIO_MUTUAL) and admits only the listed workload identities. RequestAuthentication alone would
  let requests *without* a token through: the ALLOW policy is what refuses them.
"""

from __future__ import annotations

from typing import Any

from infra.settings.platform import JwtAuth, MeshAuth
from infra.settings.stack import StackSettings
from infra.specs import naming as n
from infra.specs.outages import gateway_pod_monitor

INTERNAL_LB = {
    # In-tree AWS cloud provider and the AWS Load Balancer Controller, respectively.
    "service.beta.kubernetes.io/aws-load-balancer-internal": "true",
    "service.beta.kubernetes.io/aws-load-balancer-scheme": "internal",
}
CERT_SECRET = "rankship-gateway-tls"
CA_SECRET = "rankship-private-ca"
SELF_SIGNED_ISSUER, CA_ISSUER = "rankship-selfsigned", "rankship-private-ca"
CERT_MANAGER_NAMESPACE = "cert-manager"
MODEL_PATHS = ["/seldon/*"]


def gateway_service_values(settings: StackSettings) -> dict[str, Any]:
    platform = settings.platform
    service: dict[str, Any] = {"type": platform.ingress_service_type}
    if platform.ingress_service_type == "LoadBalancer":
        if platform.ingress_scheme == "internal":
            service["annotations"] = dict(INTERNAL_LB)
        else:
            service["loadBalancerSourceRanges"] = [str(c) for c in platform.ingress_source_ranges]
    return {"service": service}


def _meta(name: str, namespace: str | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": dict(n.PART_OF)}
    return {**meta, "namespace": namespace} if namespace else meta


def _issuer_ref(settings: StackSettings) -> dict[str, str]:
    tls = settings.platform.tls
    name = tls.issuer if tls is not None and tls.issuer else CA_ISSUER
    return {"name": name, "kind": "ClusterIssuer", "group": "cert-manager.io"}


def tls_objects(settings: StackSettings) -> list[dict[str, Any]]:
    """cert-manager issuers (unless the settings name one) and the gateway's Certificate."""
    tls = settings.platform.tls
    if tls is None or isinstance(settings.platform.auth, MeshAuth):
        return []  # plain HTTP (existing clusters only), or Istio's own mesh certificates
    objects: list[dict[str, Any]] = []
    if tls.issuer is None:
        root = {
            "isCA": True,
            "commonName": f"{settings.cluster.name} rankship private CA",
            "secretName": CA_SECRET,
            "duration": "87600h",
            "privateKey": {"algorithm": "ECDSA", "size": 256},
            "issuerRef": {"name": SELF_SIGNED_ISSUER, "kind": "ClusterIssuer", "group": "cert-manager.io"},
        }
        objects += [
            _cm("ClusterIssuer", _meta(SELF_SIGNED_ISSUER), {"selfSigned": {}}),
            _cm("Certificate", _meta(CA_SECRET, CERT_MANAGER_NAMESPACE), root),
            _cm("ClusterIssuer", _meta(CA_ISSUER), {"ca": {"secretName": CA_SECRET}}),
        ]
    certificate = {
        "secretName": CERT_SECRET,
        "dnsNames": list(tls.hosts),
        "duration": "2160h",
        "renewBefore": "360h",
        "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"},
        "issuerRef": _issuer_ref(settings),
    }
    # The gateway reads its credential from its own namespace.
    return [*objects, _cm("Certificate", _meta(CERT_SECRET, n.ISTIO_NAMESPACE), certificate)]


def _cm(kind: str, metadata: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "cert-manager.io/v1", "kind": kind, "metadata": metadata, "spec": spec}


def seldon_gateway(settings: StackSettings) -> dict[str, Any]:
    """The Istio Gateway named in the operator's `istio.gateway` value; SeldonDeployments route through it."""
    tls, auth = settings.platform.tls, settings.platform.auth
    if tls is None:
        servers = [{"port": {"number": 80, "name": "http", "protocol": "HTTP"}, "hosts": ["*"]}]
    else:
        hosts = list(tls.hosts)
        mode = (
            {"mode": "ISTIO_MUTUAL"}
            if isinstance(auth, MeshAuth)
            else {
                "mode": "SIMPLE",
                "credentialName": CERT_SECRET,
                "minProtocolVersion": "TLSV1_2",
            }
        )
        servers = [
            {"port": {"number": 443, "name": "https", "protocol": "HTTPS"}, "hosts": hosts, "tls": mode},
            {
                "port": {"number": 80, "name": "http", "protocol": "HTTP"},
                "hosts": hosts,
                "tls": {"httpsRedirect": True},
            },
        ]
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "Gateway",
        "metadata": _meta(n.SELDON_GATEWAY, n.ISTIO_NAMESPACE),
        "spec": {"selector": dict(n.INGRESS_GATEWAY_SELECTOR), "servers": servers},
    }


def _security(kind: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "security.istio.io/v1",
        "kind": kind,
        "metadata": _meta(name, n.ISTIO_NAMESPACE),
        "spec": {"selector": {"matchLabels": dict(n.INGRESS_GATEWAY_SELECTOR)}, **spec},
    }


def auth_objects(settings: StackSettings) -> list[dict[str, Any]]:
    """Who may call the models through the gateway; nothing for `mode: none` (existing clusters only)."""
    auth = settings.platform.auth
    to = [{"operation": {"paths": MODEL_PATHS}}]
    if isinstance(auth, JwtAuth):
        rule = {"issuer": auth.issuer, "jwksUri": auth.jwks_uri, "audiences": list(auth.audiences)}
        source = {"requestPrincipals": [f"{auth.issuer}/*"]}
        return [
            _security("RequestAuthentication", "rankship-jwt", {"jwtRules": [rule]}),
            _security("AuthorizationPolicy", "rankship-require-jwt", {
                "action": "ALLOW", "rules": [{"from": [{"source": source}], "to": to}],
            }),
        ]  # fmt: skip
    if isinstance(auth, MeshAuth):
        source = {"principals": list(auth.principals)}
        return [
            _security("AuthorizationPolicy", "rankship-allow-clients", {
                "action": "ALLOW", "rules": [{"from": [{"source": source}], "to": to}],
            }),
        ]  # fmt: skip
    return []


def gateway_objects(settings: StackSettings) -> list[dict[str, Any]]:
    """Everything the gateway needs besides its Helm release, in apply order (the PodMonitor needs
    kube-prometheus-stack's CRDs)."""
    return [*tls_objects(settings), seldon_gateway(settings), *auth_objects(settings), gateway_pod_monitor()]
