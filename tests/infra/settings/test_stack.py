"""Stack settings: the checked-in stacks parse; each broken setting is rejected naming its key and rule."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from infra.settings.cluster import EksCluster, ExistingCluster
from infra.settings.stack import SettingsError
from tests.infra.infra_stacks import STACKS, raw_settings, settings_of

Edit = Callable[[dict[str, Any]], None]


def rejected(stack: str, edit: Edit) -> list[str]:
    raw = raw_settings(stack)
    edit(raw)
    with pytest.raises(SettingsError) as caught:
        settings_of(raw, f"Pulumi.{stack}.yaml")
    assert str(caught.value).startswith(f"Pulumi.{stack}.yaml: invalid settings")
    return caught.value.problems


def only_problem(stack: str, edit: Edit) -> str:
    problems = rejected(stack, edit)
    assert len(problems) == 1, problems
    return problems[0]


def model(raw: dict[str, Any]) -> dict[str, Any]:
    entry: dict[str, Any] = raw["models"][0]
    return entry


@pytest.mark.parametrize("stack", STACKS)
def test_checked_in_stacks_parse(stack: str) -> None:
    settings = settings_of(raw_settings(stack))
    assert settings.models[0].name == "search-ranker"
    assert settings.models[0].canary is not None


def test_serving_runs_on_cpus_and_only_staging_training_has_gpus() -> None:
    dev, staging = settings_of(raw_settings("dev")), settings_of(raw_settings("staging"))
    prod = settings_of(raw_settings("prod"))
    assert isinstance(dev.cluster, ExistingCluster) and dev.gpu_pools == ()
    assert isinstance(prod.cluster, EksCluster) and prod.gpu_pools == ()
    # LiteRT runs on CPU without a GPU delegate: no stack's model asks for a GPU.
    assert [s.models[0].resources.gpu for s in (dev, staging, prod)] == [0, 0, 0]
    assert [p.name for p in staging.gpu_pools] == ["gpu-l4"] and staging.training.gpus_per_replica == 1
    assert prod.models[0].slo.p99_latency_ms < dev.models[0].slo.p99_latency_ms


def test_version_is_the_first_12_hex_of_the_bundle_id() -> None:
    ranker = settings_of(raw_settings("dev")).models[0]
    assert ranker.stable.bundle.version == ranker.stable.bundle.id[:12]
    assert ranker.versions() == {
        "stable": ranker.stable.bundle.id[:12],
        "canary": ranker.canary.bundle.id[:12],  # type: ignore[union-attr]
    }


def test_weights_not_summing_to_100_are_rejected() -> None:
    problem = only_problem("staging", lambda raw: model(raw)["canary"].update(weight=20))
    assert problem.startswith("models[0]:")
    assert "traffic weights must sum to 100" in problem and "stable.weight 90 + canary.weight 20" in problem


def test_stable_alone_must_carry_all_traffic() -> None:
    problem = only_problem("staging", lambda raw: model(raw).pop("canary"))
    assert "must sum to 100, got stable.weight 90" in problem


def test_canary_without_bundle_is_rejected() -> None:
    problem = only_problem("staging", lambda raw: model(raw)["canary"].pop("bundle"))
    assert problem == "models[0].canary.bundle: Field required"


def test_gpu_request_without_gpu_pool_is_rejected() -> None:
    problem = only_problem("dev", lambda raw: model(raw)["resources"].update(gpu=1))
    assert problem.startswith("models[0].resources.gpu:") and "no node pool has GPUs" in problem


def test_gpu_type_must_exist_in_a_pool() -> None:
    def wants_h100(raw: dict[str, Any]) -> None:
        model(raw)["resources"].update(gpu=1, gpu_type="nvidia-h100")
        model(raw).pop("node_pool")

    problem = only_problem("staging", wants_h100)
    assert "models[0].resources.gpu" in problem and "'nvidia-h100'" in problem


def test_a_cpu_model_cannot_be_pinned_to_a_gpu_pool_or_a_missing_one() -> None:
    problem = only_problem("staging", lambda raw: model(raw).update(node_pool="gpu-l4"))
    assert problem.startswith("models[0].node_pool: 'gpu-l4' is a GPU pool")
    problem = only_problem("staging", lambda raw: model(raw).update(node_pool="servng"))
    assert problem.startswith("models[0].node_pool: no node pool named 'servng'")


def test_the_api_endpoint_cannot_open_to_the_internet() -> None:
    problem = only_problem("prod", lambda raw: raw["cluster"].update(public_access_cidrs=["0.0.0.0/0"]))
    assert problem.startswith("cluster.public_access_cidrs: 0.0.0.0/0 is too wide")
    assert settings_of(raw_settings("staging")).cluster.public_access_cidrs  # type: ignore[union-attr]
    raw = raw_settings("prod")
    raw["cluster"].pop("public_access_cidrs")
    assert settings_of(raw).cluster.public_access_cidrs == ()  # type: ignore[union-attr]


def test_eks_stacks_need_tls_authentication_and_pinned_seldon_images() -> None:
    def relaxed(raw: dict[str, Any]) -> None:
        raw["platform"].pop("tls")
        raw["platform"].pop("seldon_images")
        raw["platform"]["auth"] = {"mode": "none"}

    assert rejected("prod", relaxed) == [
        "platform.auth: mode none is only for existing clusters; use jwt or mtls on aws-eks",
        "platform.tls: required on aws-eks (the gateway serves HTTPS only)",
        "platform.seldon_images: required on aws-eks (the operator's defaults are tags)",
    ]


def test_tag_instead_of_digest_is_rejected() -> None:
    problem = only_problem(
        "prod", lambda raw: model(raw).update(image="ghcr.io/rankship/ranker-serving:1.4.0")
    )
    assert problem.startswith("models[0].image:") and "pinned by digest" in problem and ":1.4.0" in problem


def test_unknown_key_is_rejected_at_its_level() -> None:
    problem = only_problem("dev", lambda raw: model(raw)["stable"].update(wieght=100))
    assert problem.startswith("models[0].stable.wieght: unknown key")


def test_unknown_key_inside_the_cluster_union_is_named_without_the_tag() -> None:
    problem = only_problem("prod", lambda raw: raw["cluster"].update(regoin="eu-west-1"))
    assert problem.startswith("cluster.regoin: unknown key")


def test_bundle_uri_must_name_the_same_bundle_id() -> None:
    def swap(raw: dict[str, Any]) -> None:
        model(raw)["stable"]["bundle"]["uri"] = model(raw)["canary"]["bundle"]["uri"]

    problem = only_problem("dev", swap)
    assert problem.startswith("models[0].stable.bundle:") and "(the same id)" in problem


def test_canary_on_the_stable_bundle_is_rejected() -> None:
    problem = only_problem(
        "dev", lambda raw: model(raw)["canary"].update(bundle=model(raw)["stable"]["bundle"])
    )
    assert "canary.bundle is the stable bundle's version" in problem


def test_seldon_operator_18_is_refused_for_its_licence() -> None:
    problem = only_problem("dev", lambda raw: raw["platform"]["charts"].update(seldon_core_operator="1.18.0"))
    assert problem.startswith("platform.charts.seldon_core_operator:") and "not Apache-2.0" in problem


def test_chart_versions_must_be_exact() -> None:
    problem = only_problem("dev", lambda raw: raw["platform"]["charts"].update(istio="1.25.x"))
    assert problem.startswith("platform.charts.istio:") and "exact release" in problem


def test_node_pool_sizes_must_be_ordered() -> None:
    problem = only_problem("staging", lambda raw: raw["node_pools"][2].update(min_size=5))
    assert problem.startswith("node_pools[2]:") and "5 <= 1 <= 5" in problem


def test_gpu_instance_types_must_declare_their_gpus() -> None:
    problem = only_problem("staging", lambda raw: raw["node_pools"][2].pop("gpu"))
    assert "g6.xlarge has GPUs; declare gpu" in problem


def test_eks_needs_a_pool_without_gpus() -> None:
    def gpus_only(raw: dict[str, Any]) -> None:
        raw["node_pools"] = raw["node_pools"][2:]
        model(raw).pop("node_pool")

    problems = rejected("staging", gpus_only)
    assert problems == ["node_pools: aws-eks needs a pool without GPUs for the system add-ons"]


def test_gpu_pool_needs_the_device_plugin_chart() -> None:
    problem = only_problem("staging", lambda raw: raw["platform"]["charts"].pop("nvidia_device_plugin"))
    assert problem.startswith("platform.charts.nvidia_device_plugin: required")


def test_duplicate_model_names_are_rejected() -> None:
    problem = only_problem("dev", lambda raw: raw["models"].append(raw["models"][0]))
    assert problem == "models: name 'search-ranker' is used 2 times"


def test_canary_steps_must_climb_to_100() -> None:
    edit: Edit = lambda raw: model(raw)["canary"]["analysis"].update(steps=[10, 50, 25, 100])  # noqa: E731
    assert "strictly increase" in only_problem("dev", edit)


def test_availability_zones_must_be_in_the_region() -> None:
    problem = only_problem(
        "prod", lambda raw: raw["cluster"].update(availability_zones=["us-west-2a", "eu-west-1b"])
    )
    assert problem.startswith("cluster:") and "'eu-west-1b' is not in region 'us-west-2'" in problem


def test_several_problems_are_all_reported() -> None:
    def break_two(raw: dict[str, Any]) -> None:
        model(raw)["canary"]["weight"] = 50
        raw["platform"]["charts"]["istio"] = "latest"

    problems = rejected("dev", break_two)
    assert len(problems) == 2
    assert any(p.startswith("platform.charts.istio") for p in problems)
    assert any("traffic weights" in p for p in problems)


def test_settings_must_be_a_mapping() -> None:
    with pytest.raises(SettingsError, match="must be a mapping, got list"):
        settings_of([], "Pulumi.x.yaml")  # type: ignore[arg-type]


def test_settings_are_frozen() -> None:
    settings = settings_of(raw_settings("dev"))
    with pytest.raises(ValueError, match="frozen"):
        settings.models[0].stable.weight = 100  # type: ignore[misc]


def test_a_principal_gets_one_eks_access_level() -> None:
    arn = "arn:aws:iam::222222222222:role/rankship-infra-deploy"
    problem = only_problem("prod", lambda r: r["cluster"]["preview_role_arns"].append(arn))
    assert problem == (
        f"cluster: {arn} is listed more than once in admin_principal_arns/preview_role_arns/deploy_role_arns; "
        "give each principal one access level"
    )


def test_ci_role_arns_must_be_iam_roles() -> None:
    problem = only_problem(
        "prod", lambda r: r["cluster"].update(deploy_role_arns=["arn:aws:iam::222222222222:user/x"])
    )
    assert problem.startswith("cluster.deploy_role_arns[0]: String should match pattern")
