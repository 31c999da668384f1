"""The pure builders: SeldonDeployment, namespace objects, PodMonitor, dashboard, object order."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest

from infra.settings.edit import promote_canary
from infra.settings.stack import StackSettings
from infra.specs import build_stack_objects
from infra.specs import naming as n
from infra.specs.dashboard import dashboard_config_map
from infra.specs.monitoring import pod_monitor
from infra.specs.seldon import seldon_deployment
from tests.infra.infra_stacks import ROOT, raw_settings, settings_of


def sdep_of(settings: StackSettings) -> dict[str, Any]:
    return seldon_deployment(settings, settings.models[0])


def predictors_of(settings: StackSettings) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in sdep_of(settings)["spec"]["predictors"]}


def pod_specs(settings: StackSettings) -> dict[str, dict[str, Any]]:
    return {name: p["componentSpecs"][0]["spec"] for name, p in predictors_of(settings).items()}


def with_shadow(stack: str) -> StackSettings:
    raw = raw_settings(stack)
    shadow_id = "e" * 64
    bucket = raw["models"][0]["stable"]["bundle"]["uri"].split("/")[2]
    bundle = {"id": shadow_id, "uri": f"s3://{bucket}/bundles/{shadow_id}/"}
    raw["models"][0]["shadow"] = {"bundle": bundle, "mirror_percent": 30}
    return settings_of(raw)


def labels_match(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """Kubernetes label selector semantics (matchLabels and the four matchExpressions operators)."""
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for e in selector.get("matchExpressions", []):
        key, op, values = e["key"], e["operator"], e.get("values", [])
        ok = {
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
            "In": labels.get(key) in values,
            "NotIn": labels.get(key) not in values,
        }[op]
        if not ok:
            return False
    return True


def test_predictors_and_weights_follow_the_settings() -> None:
    settings = settings_of(raw_settings("prod"))
    ranker = settings.models[0]
    predictors = predictors_of(settings)
    assert list(predictors) == ["stable", "canary"]
    assert predictors["stable"]["traffic"] == 95 and predictors["canary"]["traffic"] == 5
    assert predictors["stable"]["graph"]["modelUri"] == ranker.stable.bundle.uri
    assert predictors["canary"]["graph"]["modelUri"] == ranker.canary.bundle.uri  # type: ignore[union-attr]


def test_every_predictor_is_labelled_by_its_track_and_annotated_with_its_bundle() -> None:
    settings = with_shadow("staging")
    ranker = settings.models[0]
    predictors = predictors_of(settings)
    assert list(predictors) == ["stable", "canary", "shadow"]
    for name, predictor in predictors.items():
        # Istio's subset selects labels.version: constant per track, so no two predictors share one.
        assert predictor["labels"][n.VERSION_LABEL] == name
        assert predictor["labels"][n.TRACK_LABEL] == name
        # Seldon's executor reads `annotations["version"]` into `predictor_version` on its metrics.
        assert predictor["annotations"] == {"version": ranker.versions()[name]}, name


def test_a_promotion_keeps_stable_selector_labels_and_only_moves_its_bundle() -> None:
    before = settings_of(raw_settings("staging"))
    after = promote_canary(before, "search-ranker")
    old, new = predictors_of(before), predictors_of(after)
    assert list(new) == ["stable"]
    # The pods Istio's `stable` subset selects keep their labels: the rollout stays inside one subset.
    assert new["stable"]["labels"] == old["stable"]["labels"]
    assert new["stable"]["annotations"]["version"] == old["canary"]["annotations"]["version"]
    assert new["stable"]["graph"]["modelUri"] == old["canary"]["graph"]["modelUri"]
    for settings in (before, after, with_shadow("dev")):
        versions = [p["labels"][n.VERSION_LABEL] for p in predictors_of(settings).values()]
        assert len(versions) == len(set(versions)), versions


def test_shadow_is_flagged_and_its_traffic_is_the_mirror_percent() -> None:
    shadow = predictors_of(with_shadow("dev"))["shadow"]
    assert shadow["shadow"] is True and shadow["traffic"] == 30
    assert "shadow" not in predictors_of(with_shadow("dev"))["stable"]


def test_gpu_models_tolerate_the_taint_and_select_gpu_nodes() -> None:
    # A serving variant that really runs a GPU delegate: staging's L4 pool, no CPU pool pin.
    raw = raw_settings("staging")
    raw["models"][0]["resources"].update(gpu=1, gpu_type="nvidia-l4")
    raw["models"][0].pop("node_pool")
    for name, pod in pod_specs(settings_of(raw)).items():
        assert pod["tolerations"] == [
            {"key": "nvidia.com/gpu", "operator": "Equal", "value": "present", "effect": "NoSchedule"}
        ], name
        assert pod["nodeSelector"] == {
            "nvidia.com/gpu.present": "true",
            "rankship.io/gpu-type": "nvidia-l4",
        }
        assert pod["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "1"


def test_cpu_models_pinned_to_a_pool_select_it_and_tolerate_nothing() -> None:
    for name, pod in pod_specs(settings_of(raw_settings("prod"))).items():
        assert pod["nodeSelector"] == {"rankship.io/pool": "serving"} and "tolerations" not in pod, name
        assert "nvidia.com/gpu" not in pod["containers"][0]["resources"]["limits"]


def test_cpu_models_get_no_gpu_tolerations_or_selectors() -> None:
    for name, pod in pod_specs(settings_of(raw_settings("dev"))).items():
        assert "tolerations" not in pod and "nodeSelector" not in pod, name
        assert "nvidia.com/gpu" not in pod["containers"][0]["resources"]["limits"]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_container_is_hardened(stack: str) -> None:
    for name, pod in pod_specs(with_shadow(stack)).items():
        for container in pod["containers"]:
            context = container["securityContext"]
            assert context["runAsNonRoot"] is True and context["runAsUser"] > 0, name
            assert context["readOnlyRootFilesystem"] is True, name
            assert context["allowPrivilegeEscalation"] is False and context["privileged"] is False, name
            assert context["capabilities"] == {"drop": ["ALL"]}, name
            assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"], name


def test_resources_requests_and_limits_come_from_the_settings() -> None:
    settings = settings_of(raw_settings("dev"))
    resources = pod_specs(settings)["stable"]["containers"][0]["resources"]
    assert resources == {
        "requests": {"cpu": "250m", "memory": "512Mi"},
        "limits": {"cpu": "1", "memory": "1Gi"},
    }
    assert predictors_of(settings)["stable"]["svcOrchSpec"]["resources"]["limits"] == {
        "cpu": "500m",
        "memory": "512Mi",
    }


def test_hpa_and_pdb_per_track() -> None:
    predictors = predictors_of(settings_of(raw_settings("dev")))
    stable, canary = (predictors[t]["componentSpecs"][0] for t in ("stable", "canary"))
    assert (stable["hpaSpec"]["minReplicas"], stable["hpaSpec"]["maxReplicas"]) == (1, 2)
    # No canary autoscaling in dev settings: it starts at one replica and may grow to stable's max.
    assert (canary["hpaSpec"]["minReplicas"], canary["hpaSpec"]["maxReplicas"]) == (1, 2)
    metric = stable["hpaSpec"]["metricsv2"][0]["resource"]
    assert metric == {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}
    assert stable["pdbSpec"] == {"maxUnavailable": 1}


def test_model_reads_its_bundle_from_the_storage_initializer_mount() -> None:
    settings = settings_of(raw_settings("staging"))
    stable = predictors_of(settings)["stable"]
    env = {e["name"]: e["value"] for e in stable["componentSpecs"][0]["spec"]["containers"][0]["env"]}
    # The runtime finds its bundle there and derives the bundle id from the MANIFEST, not from the spec.
    assert env["RANKSHIP_BUNDLE"] == "/mnt/models"
    assert not [name for name in env if "BUNDLE_ID" in name]
    assert stable["graph"]["name"] == stable["componentSpecs"][0]["spec"]["containers"][0]["name"]
    mounts = stable["componentSpecs"][0]["spec"]["containers"][0]["volumeMounts"]
    assert {"name": "ranker-provision-location", "mountPath": "/mnt/models", "readOnly": True} in mounts


def test_eks_pods_bring_their_own_hardened_storage_initializer() -> None:
    settings = settings_of(raw_settings("staging"))
    for name, predictor in predictors_of(settings).items():
        pod = predictor["componentSpecs"][0]["spec"]
        (init,) = pod["initContainers"]
        # The operator injects none when one of this name is present (model_initializer_injector.go).
        assert init["name"] == "ranker-model-initializer", name
        assert init["image"] == settings.platform.seldon_images.storage_initializer  # type: ignore[union-attr]
        assert init["args"] == [predictor["graph"]["modelUri"], "/mnt/models"]
        assert init["envFrom"] == [{"secretRef": {"name": "rankship-bundle-store"}}]
        assert init["securityContext"]["readOnlyRootFilesystem"] is True
        assert {"name": "ranker-provision-location", "emptyDir": {}} in pod["volumes"]
        assert "envSecretRefName" not in predictor["graph"]
        assert pod["securityContext"]["runAsNonRoot"] is True and pod["automountServiceAccountToken"] is False


def test_existing_clusters_without_pinned_seldon_images_get_the_operators_initializer() -> None:
    stable = predictors_of(settings_of(raw_settings("dev")))["stable"]
    assert "initContainers" not in stable["componentSpecs"][0]["spec"]
    assert stable["graph"]["envSecretRefName"] == "rankship-bundle-store"


def test_pod_monitor_selects_the_seldon_pods_and_their_metrics_port() -> None:
    settings = settings_of(raw_settings("prod"))
    monitor = pod_monitor(settings)["spec"]
    for name, predictor in predictors_of(settings).items():
        # The operator puts the predictor labels and managed-by on every pod it creates.
        pod_labels = {**predictor["labels"], **n.SELDON_MANAGED_BY}
        assert labels_match(monitor["selector"], pod_labels), name
        ports = predictor["componentSpecs"][0]["spec"]["containers"][0]["ports"]
        endpoint = monitor["podMetricsEndpoints"][0]
        assert {"name": endpoint["port"], "containerPort": n.METRICS_PORT, "protocol": "TCP"} in ports
        assert endpoint["path"] == "/prometheus"
    assert monitor["namespaceSelector"] == {"matchNames": [settings.serving.namespace]}
    assert not labels_match(monitor["selector"], dict(n.SELDON_MANAGED_BY))  # other Seldon apps stay out


def test_pod_monitor_is_labelled_for_the_prometheus_release() -> None:
    assert (
        pod_monitor(settings_of(raw_settings("dev")))["metadata"]["labels"]["release"]
        == "kube-prometheus-stack"
    )


def test_network_policies_deny_by_default_and_admit_gateway_and_prometheus() -> None:
    objects = build_stack_objects(settings_of(raw_settings("dev")))
    policies = {o["metadata"]["name"]: o["spec"] for o in objects if o["kind"] == "NetworkPolicy"}
    assert policies["default-deny-ingress"] == {"podSelector": {}, "policyTypes": ["Ingress"], "ingress": []}
    gateway = policies["allow-ingress-gateway"]["ingress"][0]
    assert gateway["from"][0]["namespaceSelector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": "istio-system"
    }
    assert {p["port"] for p in gateway["ports"]} == {8000, 5001}
    scrape = policies["allow-prometheus-scrape"]["ingress"][0]
    assert scrape["from"][0]["namespaceSelector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": "monitoring"
    }
    assert {p["port"] for p in scrape["ports"]} == {8000, 6000}


def test_stack_objects_start_with_the_namespace_and_cover_each_model() -> None:
    objects = build_stack_objects(settings_of(raw_settings("staging")))
    kinds = [o["kind"] for o in objects]
    assert kinds[0] == "Namespace"
    for kind in ("SeldonDeployment", "PrometheusRule", "ConfigMap", "PodMonitor", "Secret", "ServiceAccount"):
        assert kind in kinds
    # Training (staging trains on its cluster) comes last, in its own namespace; see test_infra_training.py.
    cut = [o["kind"] for o in objects].index("Namespace", 1)
    assert objects[cut]["metadata"]["name"] == "rankship-training"
    assert all(o["metadata"].get("namespace") == "rankship-serving" for o in objects[1:cut])
    assert all(o["metadata"].get("namespace") == "rankship-training" for o in objects[cut + 1 :])


def test_existing_clusters_bring_their_own_bundle_secret() -> None:
    kinds = [o["kind"] for o in build_stack_objects(settings_of(raw_settings("dev")))]
    assert "Secret" not in kinds


def test_eks_service_account_assumes_the_bundle_reader_role() -> None:
    objects = build_stack_objects(settings_of(raw_settings("prod")))
    (account,) = [o for o in objects if o["kind"] == "ServiceAccount"]
    arn = account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]
    assert arn == "arn:aws:iam::222222222222:role/rankship-prod-bundle-reader"


def test_dashboard_configmap_is_discoverable_and_covers_the_panels() -> None:
    settings = settings_of(raw_settings("dev"))
    config_map = dashboard_config_map(settings, settings.models[0])
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    dashboard = json.loads(config_map["data"]["search-ranker.json"])
    titles = " | ".join(p["title"] for p in dashboard["panels"])
    for topic in ("latency", "Requests per second", "Errors", "Traffic split", "Score"):
        assert topic.lower() in titles.lower(), topic
    assert dashboard["uid"] == "rankship-search-ranker"
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])


def test_builders_are_deterministic_across_processes() -> None:
    # Built in two interpreters with different string-hash seeds, so an order that leaks from a set or a
    # hash shows up as a difference; compared as text in insertion order (no sort_keys), as the renderer
    # relies on lists keeping their order.
    code = (
        "import json\n"
        "from infra.settings.stack import load_stack_settings\n"
        "from infra.specs import build_stack_objects\n"
        "from pathlib import Path\n"
        "print(json.dumps(build_stack_objects(load_stack_settings('prod', Path('.')))))"
    )
    outputs = [
        subprocess.run(
            [sys.executable, "-c", code],
            cwd=ROOT,
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2")
    ]
    assert outputs[0] == outputs[1]
    # One object per committed manifest file of the stack (kustomization.yaml lists them, it is no object).
    committed = [f for f in (ROOT / "manifests" / "prod").glob("*.yaml") if f.name != "kustomization.yaml"]
    assert len(json.loads(outputs[0])) == len(committed)


def test_specs_never_import_pulumi() -> None:
    code = (
        "import sys, infra.specs, infra.specs.addons, infra.specs.aws\n"
        "print(sorted(m for m in sys.modules if m.startswith('pulumi')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_the_grace_period_outlasts_the_runtimes_drain_bound() -> None:
    raw = raw_settings("prod")
    raw["models"][0]["runtime"] = {"drain_seconds": 45}
    for name, pod in pod_specs(settings_of(raw)).items():
        env = {e["name"]: e["value"] for e in pod["containers"][0]["env"]}
        assert env["RANKSHIP_DRAIN_SECONDS"] == "45", name
        assert pod["terminationGracePeriodSeconds"] == 55, name
