"""Pure AWS data for the EKS stack: subnet layout, node group shapes, IAM documents, kubeconfig.

No pulumi_aws here; the components turn these into resources. Kept apart so tests can check the
numbers (CIDRs, taints, policy statements) without a Pulumi engine.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from ipaddress import IPv4Network
from typing import Any

import yaml

from infra.settings.cluster import EksCluster, NodePool

EKS_NODE_POLICIES = (
    "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
    "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
    "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
)
EKS_CLUSTER_POLICY = "arn:aws:iam::aws:policy/AmazonEKSClusterPolicy"
EBS_CSI_POLICY = "arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"
EBS_CSI_SERVICE_ACCOUNT = ("kube-system", "ebs-csi-controller-sa")
CONTROL_PLANE_LOG_TYPES = ("api", "audit", "authenticator")
EKS_ADMIN_POLICY = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
EKS_EDIT_POLICY = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy"
# Read-only, Secrets included: `pulumi preview`/`refresh` read Helm releases, whose state Helm keeps in Secrets.
EKS_ADMIN_VIEW_POLICY = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSAdminViewPolicy"
# Amazon Linux 2023 AMIs; the NVIDIA variant ships the driver and container toolkit.
AMI_STANDARD = "AL2023_x86_64_STANDARD"
AMI_NVIDIA = "AL2023_x86_64_NVIDIA"
_EFFECTS = {"NoSchedule": "NO_SCHEDULE", "PreferNoSchedule": "PREFER_NO_SCHEDULE", "NoExecute": "NO_EXECUTE"}


@dataclass(frozen=True)
class AccessGrant:
    """One EKS access entry and its policy: `name` suffixes the Pulumi resource names; no namespaces = cluster."""

    name: str
    principal_arn: str
    policy_arn: str
    namespaces: tuple[str, ...] = ()


def cluster_access(
    cluster: EksCluster, trainer_namespace: str | None, submitters: tuple[str, ...]
) -> list[AccessGrant]:
    """Who may use the Kubernetes API besides the creator, each with the least access policy its job needs:
    admins and the deploy roles (pulumi up) administer; the preview roles (preview, drift refresh) only read;
    the release workflow's roles submit training Jobs in the training namespace only."""
    grants = [
        AccessGrant(f"admin-{i}", arn, EKS_ADMIN_POLICY) for i, arn in enumerate(cluster.admin_principal_arns)
    ]
    grants += [
        AccessGrant(f"ci-deploy-{i}", arn, EKS_ADMIN_POLICY) for i, arn in enumerate(cluster.deploy_role_arns)
    ]
    grants += [
        AccessGrant(f"ci-preview-{i}", arn, EKS_ADMIN_VIEW_POLICY)
        for i, arn in enumerate(cluster.preview_role_arns)
    ]
    if trainer_namespace is not None:
        # Submitting a run needs Jobs, Services, ConfigMaps, pods and their logs in one namespace, no more.
        grants += [
            AccessGrant(f"train-submitter-{i}", arn, EKS_EDIT_POLICY, (trainer_namespace,))
            for i, arn in enumerate(submitters)
        ]
    return grants


@dataclass(frozen=True)
class ZoneSubnets:
    zone: str
    private: IPv4Network
    public: IPv4Network


@dataclass(frozen=True)
class ManagedAddon:
    """An EKS managed add-on. No version pinned: EKS installs the default for the cluster's Kubernetes
    version, and a cluster upgrade is the moment to move it (`aws eks describe-addon-versions`)."""

    name: str
    configuration: dict[str, Any]
    before_nodes: bool  # the CNI must be configured before nodes join; the CSI controller needs nodes


# The VPC CNI only enforces NetworkPolicies with its network policy agent on (CNI 1.14+, EKS 1.25+); without
# it the serving namespace's default-deny policy is written down and ignored.
EKS_ADDONS = (
    ManagedAddon("vpc-cni", {"enableNetworkPolicy": "true"}, before_nodes=True),
    # Prometheus's persistent volumes (EBS gp3) need the EBS CSI driver: EKS ships no in-tree EBS provisioner.
    ManagedAddon("aws-ebs-csi-driver", {}, before_nodes=False),
)


def control_plane_log_group(cluster: EksCluster) -> str:
    """The log group EKS writes control-plane logs to; created first, with retention, so EKS adopts it."""
    return f"/aws/eks/{cluster.name}/cluster"


def node_group_name_prefix(pool: NodePool) -> str:
    """Node groups are named by prefix: a replacement (instance type, disk, AMI) can then create the new
    group before deleting the old one, so the pool never drops to zero nodes."""
    return f"{pool.name}-"


def subnet_layout(cluster: EksCluster) -> list[ZoneSubnets]:
    """Eight equal slices of the VPC: the first per zone are private (nodes), the next public (NAT, LBs)."""
    slices = list(cluster.vpc_cidr.subnets(prefixlen_diff=3))
    count = len(cluster.availability_zones)
    return [
        ZoneSubnets(zone, slices[i], slices[count + i]) for i, zone in enumerate(cluster.availability_zones)
    ]


def subnet_tags(cluster: EksCluster, public: bool) -> dict[str, str]:
    # The AWS load balancer integration finds subnets by these tags.
    role = "kubernetes.io/role/elb" if public else "kubernetes.io/role/internal-elb"
    return {role: "1", f"kubernetes.io/cluster/{cluster.name}": "shared"}


def node_group_taints(pool: NodePool) -> list[dict[str, str]]:
    return [{"key": t.key, "value": t.value, "effect": _EFFECTS[t.effect]} for t in pool.node_taints()]


def node_group_ami(pool: NodePool) -> str:
    return AMI_NVIDIA if pool.gpu is not None else AMI_STANDARD


def assume_role_policy(service: str) -> str:
    statement = {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def irsa_trust_policy(provider_arn: str, issuer_url: str, namespace: str, service_account: str) -> str:
    """Only one Kubernetes service account (and only for STS) may assume the role."""
    issuer = issuer_url.removeprefix("https://")
    condition = {
        "StringEquals": {
            f"{issuer}:sub": f"system:serviceaccount:{namespace}:{service_account}",
            f"{issuer}:aud": "sts.amazonaws.com",
        }
    }
    statement = {
        "Effect": "Allow",
        "Principal": {"Federated": provider_arn},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": condition,
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def bundle_reader_policy(buckets: list[str]) -> str:
    """Read-only access to `bundles/` in the buckets that hold this stack's model bundles."""
    statements: list[dict[str, Any]] = [
        {
            "Effect": "Allow",
            "Action": ["s3:GetObject"],
            "Resource": [f"arn:aws:s3:::{b}/bundles/*" for b in buckets],
        },
        {
            "Effect": "Allow",
            "Action": ["s3:ListBucket"],
            "Resource": [f"arn:aws:s3:::{b}" for b in buckets],
            "Condition": {"StringLike": {"s3:prefix": ["bundles/*"]}},
        },
    ]
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def trainer_policy(bucket: str) -> str:
    """Read and write `bundles/` and `runs/` of the training bucket; no delete: a written bundle stays."""
    prefixes = ("bundles", "runs")
    statements: list[dict[str, Any]] = [
        {
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject"],
            "Resource": [f"arn:aws:s3:::{bucket}/{p}/*" for p in prefixes],
        },
        {
            "Effect": "Allow",
            "Action": ["s3:ListBucket"],
            "Resource": [f"arn:aws:s3:::{bucket}"],
            "Condition": {"StringLike": {"s3:prefix": [f"{p}/*" for p in prefixes]}},
        },
    ]
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def cluster_autoscaler_policy(cluster: EksCluster) -> str:
    """Describe anything; resize only the Auto Scaling groups EKS tagged as this cluster's node groups."""
    describe = [
        "autoscaling:DescribeAutoScalingGroups",
        "autoscaling:DescribeAutoScalingInstances",
        "autoscaling:DescribeLaunchConfigurations",
        "autoscaling:DescribeScalingActivities",
        "autoscaling:DescribeTags",
        "ec2:DescribeImages",
        "ec2:DescribeInstanceTypes",
        "ec2:DescribeLaunchTemplateVersions",
        "ec2:GetInstanceTypesFromInstanceRequirements",
        "eks:DescribeNodegroup",
    ]
    tag = f"aws:ResourceTag/k8s.io/cluster-autoscaler/{cluster.name}"
    statements = [
        {"Effect": "Allow", "Action": describe, "Resource": ["*"]},
        {
            "Effect": "Allow",
            "Action": ["autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"],
            "Resource": ["*"],
            "Condition": {"StringEquals": {tag: "owned"}},
        },
    ]
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def eks_kubeconfig(cluster_name: str, endpoint: str, ca_data: str, region: str) -> str:
    """A kubeconfig that authenticates through `aws eks get-token` (no long-lived credentials inside)."""
    user = {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "command": "aws",
            "args": [
                "eks",
                "get-token",
                "--cluster-name",
                cluster_name,
                "--region",
                region,
                "--output",
                "json",
            ],
            "interactiveMode": "Never",
        }
    }
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": cluster_name, "cluster": {"server": endpoint, "certificate-authority-data": ca_data}}
        ],
        "contexts": [{"name": cluster_name, "context": {"cluster": cluster_name, "user": cluster_name}}],
        "current-context": cluster_name,
        "users": [{"name": cluster_name, "user": user}],
    }
    return yaml.safe_dump(config, sort_keys=False)
