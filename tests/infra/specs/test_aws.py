"""Pure AWS data and add-on charts: subnet maths, IAM documents, kubeconfig, chart order and values."""

from __future__ import annotations

import json
from ipaddress import IPv4Network

import yaml

from infra.settings.cluster import EksCluster
from infra.specs import aws
from infra.specs.addons import addon_charts
from tests.infra.infra_stacks import raw_settings, settings_of


def eks(stack: str) -> EksCluster:
    cluster = settings_of(raw_settings(stack)).cluster
    assert isinstance(cluster, EksCluster)
    return cluster


def test_subnets_split_the_vpc_into_eighths() -> None:
    # 10.40.0.0/16 in eight /19 slices of 8192 addresses: private first, public after.
    layout = aws.subnet_layout(eks("staging"))
    assert [(z.zone, str(z.private), str(z.public)) for z in layout] == [
        ("us-east-1a", "10.40.0.0/19", "10.40.64.0/19"),
        ("us-east-1b", "10.40.32.0/19", "10.40.96.0/19"),
    ]


def test_subnets_never_overlap_with_three_zones() -> None:
    layout = aws.subnet_layout(eks("prod"))
    nets: list[IPv4Network] = [n for z in layout for n in (z.private, z.public)]
    assert len(nets) == 6
    assert not any(a.overlaps(b) for i, a in enumerate(nets) for b in nets[i + 1 :])


def test_subnet_tags_let_load_balancers_find_them() -> None:
    cluster = eks("prod")
    assert aws.subnet_tags(cluster, public=True) == {
        "kubernetes.io/role/elb": "1",
        "kubernetes.io/cluster/rankship-prod": "shared",
    }
    assert "kubernetes.io/role/internal-elb" in aws.subnet_tags(cluster, public=False)


def test_gpu_pools_get_the_nvidia_ami_and_taint() -> None:
    system, _, gpu = settings_of(raw_settings("staging")).node_pools
    assert (
        aws.node_group_ami(gpu) == "AL2023_x86_64_NVIDIA"
        and aws.node_group_ami(system) == "AL2023_x86_64_STANDARD"
    )
    assert aws.node_group_taints(gpu) == [
        {"key": "nvidia.com/gpu", "value": "present", "effect": "NO_SCHEDULE"}
    ]
    assert aws.node_group_taints(system) == []


def test_irsa_trust_is_limited_to_one_service_account() -> None:
    policy = json.loads(
        aws.irsa_trust_policy(
            "arn:aws:iam::1:oidc-provider/oidc.eks.x/id/A",
            "https://oidc.eks.x/id/A",
            "rankship-serving",
            "reader",
        )
    )
    (statement,) = policy["Statement"]
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Condition"]["StringEquals"] == {
        "oidc.eks.x/id/A:sub": "system:serviceaccount:rankship-serving:reader",
        "oidc.eks.x/id/A:aud": "sts.amazonaws.com",
    }


def test_bundle_reader_may_only_read_bundles() -> None:
    statements = json.loads(aws.bundle_reader_policy(["b1"]))["Statement"]
    assert statements[0] == {
        "Effect": "Allow",
        "Action": ["s3:GetObject"],
        "Resource": ["arn:aws:s3:::b1/bundles/*"],
    }
    assert statements[1]["Condition"] == {"StringLike": {"s3:prefix": ["bundles/*"]}}
    assert not any("Put" in a or "Delete" in a for s in statements for a in s["Action"])


def test_autoscaler_may_resize_only_this_clusters_groups() -> None:
    statements = json.loads(aws.cluster_autoscaler_policy(eks("prod")))["Statement"]
    (resize,) = [s for s in statements if "autoscaling:SetDesiredCapacity" in s["Action"]]
    assert resize["Condition"] == {
        "StringEquals": {"aws:ResourceTag/k8s.io/cluster-autoscaler/rankship-prod": "owned"}
    }


def test_kubeconfig_authenticates_through_aws_eks_get_token() -> None:
    config = yaml.safe_load(aws.eks_kubeconfig("c1", "https://api.example", "Q0E=", "eu-west-1"))
    assert config["clusters"][0]["cluster"] == {
        "server": "https://api.example",
        "certificate-authority-data": "Q0E=",
    }
    exec_ = config["users"][0]["user"]["exec"]
    assert exec_["command"] == "aws"
    assert exec_["args"] == [
        "eks",
        "get-token",
        "--cluster-name",
        "c1",
        "--region",
        "eu-west-1",
        "--output",
        "json",
    ]
    assert config["current-context"] == "c1"


def test_addons_come_after_what_they_need() -> None:
    charts = addon_charts(settings_of(raw_settings("prod")))
    order = [c.release for c in charts]
    for position, chart in enumerate(charts):
        for need in chart.needs:
            assert order.index(need) < position, f"{chart.release} needs {need}"
    operator = next(c for c in charts if c.release == "seldon-core-operator")
    assert set(operator.needs) == {"cert-manager", "istiod", "istio-ingressgateway"}


def test_device_plugin_and_autoscaler_only_where_they_apply() -> None:
    dev = [c.release for c in addon_charts(settings_of(raw_settings("dev")))]
    staging = [c.release for c in addon_charts(settings_of(raw_settings("staging")))]
    prod = [c.release for c in addon_charts(settings_of(raw_settings("prod")))]
    assert "nvidia-device-plugin" not in dev and "cluster-autoscaler" not in dev
    assert "nvidia-device-plugin" in staging and "cluster-autoscaler" in staging
    # prod has no GPU pool since serving moved to CPUs: no device plugin either.
    assert "nvidia-device-plugin" not in prod and "cluster-autoscaler" in prod


def test_chart_versions_are_the_pinned_settings() -> None:
    settings = settings_of(raw_settings("staging"))
    versions = {c.release: c.version for c in addon_charts(settings)}
    pinned = settings.platform.charts
    assert versions["seldon-core-operator"] == "1.17.1"
    assert versions["istiod"] == versions["istio-base"] == versions["istio-ingressgateway"] == pinned.istio
    assert versions["kube-prometheus-stack"] == pinned.kube_prometheus_stack


def test_operator_routes_through_the_istio_gateway_and_prometheus_finds_our_monitors() -> None:
    charts = {c.release: c for c in addon_charts(settings_of(raw_settings("dev")))}
    assert charts["seldon-core-operator"].values["istio"] == {
        "enabled": True,
        "gateway": "istio-system/seldon-gateway",
    }
    sidecar = charts["kube-prometheus-stack"].values["grafana"]["sidecar"]["dashboards"]
    assert (sidecar["label"], sidecar["labelValue"], sidecar["searchNamespace"]) == (
        "grafana_dashboard",
        "1",
        "ALL",
    )
    assert charts["istio-ingressgateway"].values == {"service": {"type": "NodePort"}}


def test_autoscaler_service_account_uses_its_irsa_role() -> None:
    charts = {c.release: c for c in addon_charts(settings_of(raw_settings("prod")))}
    account = charts["cluster-autoscaler"].values["rbac"]["serviceAccount"]
    assert account["annotations"] == {
        "eks.amazonaws.com/role-arn": "arn:aws:iam::222222222222:role/rankship-prod-cluster-autoscaler"
    }


def test_cluster_access_gives_each_ci_role_the_least_policy_it_needs() -> None:
    cluster = eks("staging").model_copy(
        update={"admin_principal_arns": ("arn:aws:iam::480219735164:role/platform-admins",)}
    )
    grants = aws.cluster_access(cluster, "rankship-training", ("arn:aws:iam::111111111111:role/release",))
    assert [
        (g.name, g.principal_arn.rsplit("/", 1)[1], g.policy_arn.rsplit("/", 1)[1], g.namespaces)
        for g in grants
    ] == [
        ("admin-0", "platform-admins", "AmazonEKSClusterAdminPolicy", ()),
        ("ci-deploy-0", "rankship-infra-deploy", "AmazonEKSClusterAdminPolicy", ()),
        ("ci-preview-0", "rankship-infra-preview", "AmazonEKSAdminViewPolicy", ()),
        ("train-submitter-0", "release", "AmazonEKSEditPolicy", ("rankship-training",)),
    ]
    assert [g.name for g in aws.cluster_access(cluster, None, ("arn:aws:iam::111111111111:role/x",))] == [
        "admin-0",
        "ci-deploy-0",
        "ci-preview-0",
    ]
