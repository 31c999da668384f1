"""Hardening rules: container security contexts, public CIDRs, IAM wildcards, load balancers.

Pure functions over `Resource`s like the rest of the pack. A container's securityContext wins over its pod's
for the fields both can set (runAsNonRoot, seccompProfile), so those are read container first, then pod.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from ipaddress import ip_network
from typing import Any

from infra.policy.resources import Props, Resource, containers, label, pod_specs

SECCOMP_OK = ("RuntimeDefault", "Localhost")
# Annotations that make the AWS cloud provider / AWS Load Balancer Controller create an internal LB.
INTERNAL_LB_ANNOTATIONS = {
    "service.beta.kubernetes.io/aws-load-balancer-internal": "true",
    "service.beta.kubernetes.io/aws-load-balancer-scheme": "internal",
}
HELM_RELEASE_TYPE = "kubernetes:helm.sh/v3:Release"
EKS_CLUSTER_TYPE = "aws:eks/cluster:Cluster"
_READ_ONLY_VERBS = ("Describe", "Get", "List")


def _each_container(res: Resource) -> Iterator[tuple[str, Props, Props]]:
    for where, pod in pod_specs(res):
        for c in containers(pod):
            yield f"{label(res)} {where}: container {c.get('name')!r}", c, pod


def _context(c: Props) -> Props:
    return c.get("securityContext") or {}


def _effective(c: Props, pod: Props, key: str) -> Any:
    value = _context(c).get(key)
    return value if value is not None else (pod.get("securityContext") or {}).get(key)


def run_as_non_root(res: Resource) -> list[str]:
    return [
        f"{where} may run as root (set runAsNonRoot: true)"
        for where, c, pod in _each_container(res)
        if _effective(c, pod, "runAsNonRoot") is not True or _effective(c, pod, "runAsUser") == 0
    ]


def read_only_root_filesystem(res: Resource) -> list[str]:
    return [
        f"{where} has a writable root filesystem (set readOnlyRootFilesystem: true)"
        for where, c, _ in _each_container(res)
        if _context(c).get("readOnlyRootFilesystem") is not True
    ]


def drop_all_capabilities(res: Resource) -> list[str]:
    errors = []
    for where, c, _ in _each_container(res):
        caps = _context(c).get("capabilities") or {}
        if "ALL" not in (caps.get("drop") or []):
            errors.append(f"{where} does not drop ALL capabilities")
        if caps.get("add"):
            errors.append(f"{where} adds capabilities {list(caps['add'])}")
    return errors


def seccomp_profile(res: Resource) -> list[str]:
    errors = []
    for where, c, pod in _each_container(res):
        profile = _effective(c, pod, "seccompProfile") or {}
        if profile.get("type") not in SECCOMP_OK:
            errors.append(f"{where} has no RuntimeDefault or Localhost seccomp profile")
    return errors


def _is_public(cidr: Any) -> bool:
    try:
        return ip_network(str(cidr), strict=False).prefixlen == 0
    except ValueError:
        return False


def no_public_cidrs(res: Resource) -> list[str]:
    """The EKS API endpoint and security groups never open to 0.0.0.0/0 (or ::/0)."""
    props = res.props
    if res.type == EKS_CLUSTER_TYPE:
        vpc = props.get("vpcConfig") or {}
        if vpc.get("endpointPublicAccess") in (None, True):
            cidrs = vpc.get("publicAccessCidrs")
            # EKS opens a public endpoint to 0.0.0.0/0 when no CIDRs are given.
            if not cidrs or any(_is_public(c) for c in cidrs):
                return [f"{label(res)}: public API endpoint open to the whole Internet"]
        return []
    rules: list[Props] = []
    if res.type == "aws:ec2/securityGroup:SecurityGroup":
        rules = list(props.get("ingress") or [])
    elif res.type == "aws:ec2/securityGroupRule:SecurityGroupRule" and props.get("type") == "ingress":
        rules = [props]
    elif res.type == "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule":
        rules = [{"cidrBlocks": [props.get("cidrIpv4")], "ipv6CidrBlocks": [props.get("cidrIpv6")]}]
    return [
        f"{label(res)}: ingress from {cidr}"
        for rule in rules
        for cidr in [*(rule.get("cidrBlocks") or []), *(rule.get("ipv6CidrBlocks") or [])]
        if _is_public(cidr)
    ]


def _statements(document: Any) -> list[Mapping[str, Any]]:
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError:
            return []
    statements = document.get("Statement") if isinstance(document, Mapping) else None
    if isinstance(statements, Mapping):
        return [statements]
    return [s for s in statements or [] if isinstance(s, Mapping)]


def _as_list(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else [str(v) for v in value or []]


def no_iam_wildcards(res: Resource) -> list[str]:
    """No `*` actions; `Resource: "*"` only for read-only actions or under a Condition."""
    if not res.type.startswith("aws:iam/"):
        return []
    errors = []
    for key in ("policy", "inlinePolicies"):
        value = res.props.get(key)
        documents = [p.get("policy") for p in value] if isinstance(value, list) else [value]
        for document in documents:
            for i, statement in enumerate(_statements(document)):
                if statement.get("Effect") != "Allow":
                    continue
                actions = _as_list(statement.get("Action"))
                wild = [a for a in actions if a == "*" or a.endswith(":*")]
                if wild:
                    errors.append(f"{label(res)} statement {i}: wildcard action {wild[0]!r}")
                writes = [a for a in actions if not a.split(":", 1)[-1].startswith(_READ_ONLY_VERBS)]
                if "*" in _as_list(statement.get("Resource")) and writes and not statement.get("Condition"):
                    errors.append(f"{label(res)} statement {i}: {writes[0]!r} on every resource (*)")
    return errors


def _service_problem(where: str, service: Props, annotations: Mapping[str, Any]) -> list[str]:
    if service.get("type") != "LoadBalancer":
        return []
    if any(str(annotations.get(k, "")).lower() == v for k, v in INTERNAL_LB_ANNOTATIONS.items()):
        return []
    ranges = service.get("loadBalancerSourceRanges") or []
    if not ranges or any(_is_public(r) for r in ranges):
        return [f"{where}: internet-facing LoadBalancer without restricted loadBalancerSourceRanges"]
    return []


def internal_load_balancers(res: Resource) -> list[str]:
    """A LoadBalancer Service is internal, or internet-facing only to listed source ranges.

    Checked on Services and on the Istio gateway chart's `service` values (the gateway's Service is made by
    Helm, so its values are what the program declares).
    """
    if res.type == "kubernetes:core/v1:Service":
        meta = res.props.get("metadata") or {}
        return _service_problem(label(res), res.props.get("spec") or {}, meta.get("annotations") or {})
    if res.type == HELM_RELEASE_TYPE and res.props.get("chart") == "gateway":
        service = (res.props.get("values") or {}).get("service") or {}
        return _service_problem(label(res), service, service.get("annotations") or {})
    return []
