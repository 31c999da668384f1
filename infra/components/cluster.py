"""The cluster a stack deploys into: one created on EKS, or an existing one reached through a kubeconfig."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from infra.components.eks import Eks, EksClusterArgs, TrainerAccess
from infra.settings.cluster import EksCluster, ExistingCluster
from infra.settings.stack import StackSettings


@dataclass(frozen=True)
class ClusterHandle:
    """What the rest of the program needs from a cluster, whichever way it came to be."""

    name: str
    provider: k8s.Provider
    kubeconfig: pulumi.Output[str]
    depends_on: list[pulumi.Resource]


def _bundle_buckets(settings: StackSettings) -> tuple[str, ...]:
    releases = [r for m in settings.models for r in (m.stable, m.canary, m.shadow) if r is not None]
    return tuple(sorted({r.bundle.bucket for r in releases}))


def eks_cluster(settings: StackSettings, cluster: EksCluster) -> ClusterHandle:
    # allowed_account_ids makes the provider refuse to touch any account but the one the stack names.
    aws_provider = aws.Provider(
        "aws",
        region=cluster.region,
        allowed_account_ids=[cluster.account_id],
        default_tags=aws.ProviderDefaultTagsArgs(
            tags={"rankship:cluster": cluster.name, "managed-by": "pulumi"}
        ),
    )
    training = settings.training
    trainer = None
    if training.on_cluster:
        trainer = TrainerAccess(training.namespace, training.bucket, training.submitter_arns)
    eks = Eks(
        cluster.name,
        EksClusterArgs(
            cluster, settings.node_pools, _bundle_buckets(settings), settings.serving.namespace, trainer
        ),
        pulumi.ResourceOptions(providers=[aws_provider]),
    )
    provider = k8s.Provider(
        "kubernetes",
        kubeconfig=eks.kubeconfig,
        enable_server_side_apply=True,
        opts=pulumi.ResourceOptions(depends_on=list(eks.node_groups.values())),
    )
    # Add-ons too: Prometheus's volumes need the EBS CSI driver, NetworkPolicies the CNI's agent.
    return ClusterHandle(cluster.name, provider, eks.kubeconfig, [*eks.node_groups.values(), *eks.addons])


def kubeconfig_path(cluster: ExistingCluster) -> Path:
    """The kubeconfig to read: the setting, else the first $KUBECONFIG entry, else ~/.kube/config."""
    if cluster.kubeconfig:
        return Path(cluster.kubeconfig).expanduser()
    env = [p for p in os.environ.get("KUBECONFIG", "").split(os.pathsep) if p]
    return Path(env[0]).expanduser() if env else Path.home() / ".kube" / "config"


def existing_cluster(cluster: ExistingCluster) -> ClusterHandle:
    path = kubeconfig_path(cluster)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise pulumi.RunError(
            f"cluster.kubeconfig: cannot read {path} ({e.strerror}); create the cluster first "
            "(e.g. `kind create cluster --name rankship`) or point cluster.kubeconfig at its kubeconfig"
        ) from e
    # Upsert: on a cluster we do not own, the serving namespace may already exist (created by hand to hold the
    # bundle-store Secret); adopt it instead of failing on "already exists".
    provider = k8s.Provider(
        "kubernetes",
        kubeconfig=text,
        context=cluster.context,
        enable_server_side_apply=True,
        upsert_existing_objects=True,
    )
    return ClusterHandle(cluster.name, provider, pulumi.Output.secret(text), [])


def connect_cluster(settings: StackSettings) -> ClusterHandle:
    if isinstance(settings.cluster, EksCluster):
        return eks_cluster(settings, settings.cluster)
    return existing_cluster(settings.cluster)
