"""The Pulumi program under mocks: what it declares, in which order, and what it exports."""

from __future__ import annotations

import json
from pathlib import Path

import pulumi
import pytest
import yaml

from infra.policy.rules import Resource, evaluate, evaluate_stack
from infra.program import OUTPUT_KEYS
from tests.infra.infra_mocks import (
    ISSUER,
    LB_HOSTNAME,
    PlausibleMocks,
    ProgramRun,
    RecordingMonitor,
    run_main,
    run_program,
)
from tests.infra.infra_stacks import STACKS, filled, raw_settings, settings_of

# pulumi_aws warns about its own deprecated modules on import; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

RELEASE = "kubernetes:helm.sh/v3:Release"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
SDEP = "kubernetes:machinelearning.seldon.io/v1:SeldonDeployment"


@pytest.fixture(scope="module")
def kubeconfig_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("kube") / "config"
    path.write_text("apiVersion: v1\nkind: Config\ncurrent-context: kind-rankship\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def runs(kubeconfig_file: Path) -> dict[str, ProgramRun]:
    """Each checked-in stack declared once under mocks (dev pointed at a throwaway kubeconfig)."""
    result = {}
    for stack in STACKS:
        raw = raw_settings(stack)
        if raw["cluster"]["provider"] == "existing":
            raw["cluster"]["kubeconfig"] = str(kubeconfig_file)
        result[stack] = run_program(settings_of(raw), stack)
    return result


def test_gpu_pool_is_tainted_and_labelled(runs: dict[str, ProgramRun]) -> None:
    gpu = runs["staging"].named(NODE_GROUP, "rankship-staging-gpu-l4").inputs
    assert gpu["taints"] == [{"key": "nvidia.com/gpu", "value": "present", "effect": "NO_SCHEDULE"}]
    assert gpu["labels"] == {
        "rankship.io/pool": "gpu-l4",
        "nvidia.com/gpu.present": "true",
        "rankship.io/gpu-type": "nvidia-l4",
        "rankship.io/gpus-per-node": "1",
    }
    assert gpu["amiType"] == "AL2023_x86_64_NVIDIA" and gpu["instanceTypes"] == ["g6.xlarge"]
    assert gpu["scalingConfig"] == {"minSize": 0, "desiredSize": 1, "maxSize": 5}


def test_serving_requests_no_gpu_and_runs_on_the_cpu_pool(runs: dict[str, ProgramRun]) -> None:
    for stack in ("staging", "prod"):
        sdep = runs[stack].named(SDEP, "seldondeployment-search-ranker").inputs
        for predictor in sdep["spec"]["predictors"]:
            pod = predictor["componentSpecs"][0]["spec"]
            assert all("nvidia.com/gpu" not in c["resources"]["limits"] for c in pod["containers"]), stack
            assert pod["nodeSelector"] == {"rankship.io/pool": "serving"} and "tolerations" not in pod, stack


def test_system_pool_has_no_gpu_taint(runs: dict[str, ProgramRun]) -> None:
    system = runs["staging"].named(NODE_GROUP, "rankship-staging-system").inputs
    assert system["taints"] == [] and system["amiType"] == "AL2023_x86_64_STANDARD"


@pytest.mark.parametrize("stack", STACKS)
def test_every_declared_resource_passes_the_policy_pack(runs: dict[str, ProgramRun], stack: str) -> None:
    resources = [Resource(r.type, r.name, r.inputs) for r in runs[stack].resources]
    violations = [v for r in resources for v in evaluate(r)]
    assert violations + evaluate_stack(resources) == []


def test_the_old_gpu_serving_shape_is_refused_by_the_capacity_rule(kubeconfig_file: Path) -> None:
    # Before #17: every replica asked for an A10G, 12 + 12 HPA ceilings against a 12-node pool.
    raw = raw_settings("prod")
    raw["node_pools"].append({"name": "gpu-a10g", "instance_types": ["g5.2xlarge"], "min_size": 0,
                              "desired_size": 0, "max_size": 12, "gpu": {"type": "nvidia-a10g", "count": 1}})  # fmt: skip
    raw["platform"]["charts"]["nvidia_device_plugin"] = "0.17.1"
    model = raw["models"][0]
    model.pop("node_pool")
    model["resources"].update(gpu=1, gpu_type="nvidia-a10g")
    run = run_program(settings_of(filled(raw)), "prod")
    violations = evaluate_stack([Resource(r.type, r.name, r.inputs) for r in run.resources])
    print(violations)
    violation = violations[0]
    assert (
        "24 pods at their ceilings need 24 nodes of ['rankship-prod-gpu-a10g'], which scale to 12"
        in violation
    )


def dependencies(run: ProgramRun, name: str) -> set[str]:
    return set(run.named(RELEASE, name).dependencies)


def test_operator_installs_after_cert_manager_and_istio(runs: dict[str, ProgramRun]) -> None:
    run = runs["dev"]
    needed = {run.urn_of(RELEASE, r) for r in ("cert-manager", "istiod", "istio-ingressgateway")}
    assert needed <= dependencies(run, "seldon-core-operator")
    assert run.urn_of(RELEASE, "istio-base") in dependencies(run, "istiod")
    assert run.urn_of(RELEASE, "istiod") in dependencies(run, "istio-ingressgateway")


def test_releases_are_pinned_awaited_and_atomic(runs: dict[str, ProgramRun]) -> None:
    for release in runs["staging"].of_type(RELEASE):
        inputs = release.inputs
        assert inputs["version"] and inputs["repositoryOpts"]["repo"].startswith("https://"), release.name
        assert inputs["atomic"] is True and not inputs.get("skipAwait"), release.name


def test_addons_wait_for_the_node_groups_on_eks(runs: dict[str, ProgramRun]) -> None:
    run = runs["prod"]
    assert run.urn_of(NODE_GROUP, "rankship-prod-system") in dependencies(run, "cert-manager")


def test_device_plugin_only_with_a_gpu_pool(runs: dict[str, ProgramRun]) -> None:
    assert [r.name for r in runs["staging"].of_type(RELEASE) if r.name == "nvidia-device-plugin"] == [
        "nvidia-device-plugin"
    ]
    for stack in ("dev", "prod"):  # prod serves on CPUs and trains on the release workflow's runner
        assert all(r.name != "nvidia-device-plugin" for r in runs[stack].of_type(RELEASE)), stack


def test_seldon_deployment_waits_for_platform_and_namespace(runs: dict[str, ProgramRun]) -> None:
    run = runs["staging"]
    sdep = run.named(SDEP, "seldondeployment-search-ranker")
    assert run.urn_of(RELEASE, "seldon-core-operator") in sdep.dependencies
    assert run.urn_of("kubernetes:core/v1:Namespace", "namespace-rankship-serving") in sdep.dependencies
    annotations = sdep.inputs["metadata"]["annotations"]
    assert annotations["pulumi.com/waitFor"] == "jsonpath={.status.state}=Available"


def test_kubernetes_objects_are_children_of_the_components(runs: dict[str, ProgramRun]) -> None:
    for r in runs["dev"].resources:
        if r.type.startswith("kubernetes:") and r.custom:
            assert "rankship:k8s:" in r.parent, f"{r.type} {r.name} has parent {r.parent!r}"


@pytest.mark.parametrize("stack", STACKS)
def test_outputs_are_present_and_kubeconfig_is_secret(runs: dict[str, ProgramRun], stack: str) -> None:
    run = runs[stack]
    assert tuple(run.outputs) == OUTPUT_KEYS
    assert run.secret_outputs == {"kubeconfig"}
    model = run.outputs["models"]["search-ranker"]
    settings = settings_of(raw_settings(stack))
    assert model["versions"] == settings.models[0].versions()
    assert sum(model["traffic"].values()) == 100  # with dev's interleaving predictor too


def test_eks_outputs_point_at_the_load_balancer(runs: dict[str, ProgramRun]) -> None:
    outputs = runs["prod"].outputs
    assert outputs["ingress_address"] == LB_HOSTNAME
    endpoint = outputs["models"]["search-ranker"]["endpoint"]
    assert endpoint == f"http://{LB_HOSTNAME}/seldon/rankship-serving/search-ranker/api/v1.0/predictions"
    assert outputs["grafana_url"] == "http://kube-prometheus-stack-grafana.monitoring.svc.cluster.local"


def test_eks_kubeconfig_is_built_from_the_cluster(runs: dict[str, ProgramRun]) -> None:
    config = yaml.safe_load(runs["prod"].outputs["kubeconfig"])
    assert config["clusters"][0]["name"] == "rankship-prod"
    assert config["clusters"][0]["cluster"]["server"].endswith(".eks.amazonaws.com")
    assert "--region" in config["users"][0]["user"]["exec"]["args"]
    assert "us-west-2" in config["users"][0]["user"]["exec"]["args"]


def test_eks_cluster_follows_the_settings(runs: dict[str, ProgramRun]) -> None:
    run = runs["prod"]
    cluster = run.named("aws:eks/cluster:Cluster", "rankship-prod").inputs
    assert cluster["version"] == "1.35" and cluster["vpcConfig"]["publicAccessCidrs"] == ["203.0.113.0/24"]
    (provider,) = run.of_type("pulumi:providers:aws")
    assert json.loads(provider.inputs["allowedAccountIds"]) == ["222222222222"]
    assert provider.inputs["region"] == "us-west-2"


def test_ci_roles_get_eks_access_entries_with_the_least_policy_each(runs: dict[str, ProgramRun]) -> None:
    # Without entries only the cluster's creator can use the Kubernetes API: previews and deploys by the CI
    # roles were Unauthorized. Preview reads (Secrets included, for Helm releases), deploy administers.
    run = runs["prod"]
    wanted = {
        "rankship-prod-ci-preview-0": ("rankship-infra-preview", "AmazonEKSAdminViewPolicy"),
        "rankship-prod-ci-deploy-0": ("rankship-infra-deploy", "AmazonEKSClusterAdminPolicy"),
    }
    for name, (role, policy) in wanted.items():
        entry = run.named("aws:eks/accessEntry:AccessEntry", name).inputs
        assert entry["principalArn"] == f"arn:aws:iam::222222222222:role/{role}"
        grant = run.named("aws:eks/accessPolicyAssociation:AccessPolicyAssociation", name)
        assert grant.inputs["policyArn"] == f"arn:aws:eks::aws:cluster-access-policy/{policy}"
        assert grant.inputs["accessScope"] == {"type": "cluster"}
        assert grant.inputs["principalArn"] == entry["principalArn"]
    entries = run.of_type("aws:eks/accessEntry:AccessEntry")
    assert sorted(e.name for e in entries) == sorted(wanted)


def test_main_refuses_an_example_stack_and_placeholders(monkeypatch: pytest.MonkeyPatch) -> None:
    # `pulumi preview`/`up` on the committed example (documentation account id and networks, a marked
    # digest) must stop before declaring anything, naming each key to fill.
    raw = raw_settings("prod")
    monitor = RecordingMonitor(PlausibleMocks())
    with pytest.raises(pulumi.RunError) as caught:
        run_main(raw, monitor, monkeypatch)
    message = str(caught.value)
    assert "example: true marks this stack as an example" in message
    assert "cluster.account_id: 222222222222 is a documentation account id" in message
    assert "cluster.public_access_cidrs[0]: 203.0.113.0/24 is in the documentation network" in message
    assert "models[0].image: 000000000000... (one repeated hex digit)" in message
    assert "docs/gitops.md#fill-in-a-stack" in message
    assert monitor.registered == []
    raw.pop("example")
    with pytest.raises(pulumi.RunError, match="222222222222 is a documentation account id") as caught:
        run_main(raw, monitor, monkeypatch)
    assert "example: true" not in str(caught.value) and monitor.registered == []


def test_irsa_roles_trust_the_cluster_oidc_issuer(runs: dict[str, ProgramRun]) -> None:
    run = runs["prod"]
    oidc = run.of_type("aws:iam/openIdConnectProvider:OpenIdConnectProvider")[0].inputs
    assert oidc["url"] == ISSUER and oidc["clientIdLists"] == ["sts.amazonaws.com"]
    reader = run.named("aws:iam/role:Role", "rankship-prod-bundle-reader").inputs
    condition = json.loads(reader["assumeRolePolicy"])["Statement"][0]["Condition"]["StringEquals"]
    issuer = ISSUER.removeprefix("https://")
    assert condition[f"{issuer}:sub"] == "system:serviceaccount:rankship-serving:rankship-model-server"
    policy = json.loads(
        run.named("aws:iam/rolePolicy:RolePolicy", "rankship-prod-bundle-reader").inputs["policy"]
    )
    assert policy["Statement"][0]["Resource"] == ["arn:aws:s3:::rankship-bundles-prod/bundles/*"]


def test_existing_mode_creates_no_cloud_resources(runs: dict[str, ProgramRun], kubeconfig_file: Path) -> None:
    run = runs["dev"]
    cloud = [
        f"{r.type} {r.name}" for r in run.resources if r.type.startswith(("aws:", "pulumi:providers:aws"))
    ]
    assert cloud == []
    (provider,) = run.of_type("pulumi:providers:kubernetes")
    assert provider.inputs["context"] == "kind-rankship"
    assert json.loads(provider.inputs["upsertExistingObjects"]) is True  # adopts a hand-made namespace
    assert run.outputs["kubeconfig"] == kubeconfig_file.read_text(encoding="utf-8")
    assert run.outputs["ingress_address"] == ""  # NodePort: reached with kubectl port-forward


def test_existing_mode_without_a_kubeconfig_names_the_setting(tmp_path: Path) -> None:
    raw = raw_settings("dev")
    raw["cluster"]["kubeconfig"] = str(tmp_path / "missing")
    with pytest.raises(pulumi.RunError, match=r"cluster\.kubeconfig: cannot read .*missing"):
        run_program(settings_of(raw), "dev")


def test_main_reads_the_stack_config_and_exports(
    monkeypatch: pytest.MonkeyPatch, kubeconfig_file: Path
) -> None:
    raw = filled(raw_settings("dev"))
    raw["cluster"]["kubeconfig"] = str(kubeconfig_file)
    monitor = RecordingMonitor(PlausibleMocks())
    exported = run_main(raw, monitor, monkeypatch)
    assert tuple(exported) == OUTPUT_KEYS
    assert any(r.type == SDEP for r in monitor.registered)


def test_main_rejects_bad_settings_before_declaring_anything(monkeypatch: pytest.MonkeyPatch) -> None:
    raw = raw_settings("dev")
    raw["models"][0]["canary"]["weight"] = 30
    monitor = RecordingMonitor(PlausibleMocks())
    with pytest.raises(pulumi.RunError, match="traffic weights must sum to 100") as caught:
        run_main(raw, monitor, monkeypatch)
    assert "Pulumi.dev.yaml rankship:settings" in str(caught.value)
    assert monitor.registered == []


def test_cluster_vpc_and_node_groups_are_protected_and_groups_replace_create_first(
    runs: dict[str, ProgramRun],
) -> None:
    run = runs["prod"]
    assert run.named("aws:eks/cluster:Cluster", "rankship-prod").protect
    assert run.named("aws:ec2/vpc:Vpc", "rankship-prod-network-vpc").protect
    for group in run.of_type(NODE_GROUP):
        assert group.protect and not group.delete_before_replace, group.name
        # A prefix, not a fixed name: the replacement group can exist beside the old one.
        assert "nodeGroupName" not in group.inputs
    prefixes = sorted(g.inputs["nodeGroupNamePrefix"] for g in run.of_type(NODE_GROUP))
    assert prefixes == ["serving-", "system-"]


def test_control_plane_logs_have_retention_and_exist_before_the_cluster(runs: dict[str, ProgramRun]) -> None:
    run = runs["prod"]
    logs = run.named("aws:cloudwatch/logGroup:LogGroup", "rankship-prod-control-plane-logs")
    assert logs.inputs["name"] == "/aws/eks/rankship-prod/cluster" and logs.inputs["retentionInDays"] == 90
    assert logs.urn in run.named("aws:eks/cluster:Cluster", "rankship-prod").dependencies


def test_vpc_cni_enforces_network_policies_and_ebs_csi_runs_with_its_own_role(
    runs: dict[str, ProgramRun],
) -> None:
    run = runs["prod"]
    cni = run.named("aws:eks/addon:Addon", "rankship-prod-vpc-cni")
    assert json.loads(cni.inputs["configurationValues"]) == {"enableNetworkPolicy": "true"}
    for group in run.of_type(NODE_GROUP):  # nodes join with the CNI already configured
        assert cni.urn in group.dependencies, group.name
    ebs = run.named("aws:eks/addon:Addon", "rankship-prod-aws-ebs-csi-driver")
    assert ebs.inputs["serviceAccountRoleArn"].endswith(":role/rankship-prod-ebs-csi")
    trust = json.loads(run.named("aws:iam/role:Role", "rankship-prod-ebs-csi").inputs["assumeRolePolicy"])
    subject = trust["Statement"][0]["Condition"]["StringEquals"]
    assert "system:serviceaccount:kube-system:ebs-csi-controller-sa" in subject.values()
    # Prometheus (its volumes) installs after the CSI driver.
    assert ebs.urn in run.named(RELEASE, "kube-prometheus-stack").dependencies


def test_api_endpoint_is_private_without_listed_cidrs(kubeconfig_file: Path) -> None:
    raw = filled(raw_settings("prod"))
    raw["cluster"].pop("public_access_cidrs")
    run = run_program(settings_of(raw), "prod")
    vpc = run.named("aws:eks/cluster:Cluster", "rankship-prod").inputs["vpcConfig"]
    assert vpc["endpointPublicAccess"] is False and "publicAccessCidrs" not in vpc
    assert vpc["endpointPrivateAccess"] is True
