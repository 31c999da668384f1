"""Every object a stack renders validates against its schema, strictly (unknown fields are errors).

Custom resources use the CRD schemas vendored in infra/gitops/crd_schemas; built-in kinds use
kubernetes-validate at the Kubernetes version the stack declares.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import jsonschema
import kubernetes_validate
import pytest

from infra.settings.stack import StackSettings
from infra.specs import build_stack_objects
from infra.specs.gateway import seldon_gateway
from tests.infra.infra_stacks import CRD_SCHEMAS, STACKS, raw_settings, settings_of

CRD_KINDS = {"SeldonDeployment", "PodMonitor", "PrometheusRule"}


def strict(schema: Any) -> Any:
    """Forbid fields a structural schema does not declare (what `kubectl apply --validate=strict` does)."""
    if isinstance(schema, list):
        return [strict(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: strict(v) for k, v in schema.items()}
    open_ended = "additionalProperties" in out or out.get("x-kubernetes-preserve-unknown-fields")
    if "properties" in out and not open_ended:
        out["additionalProperties"] = False
    return out


@cache
def crd_validator(kind: str, group: str) -> jsonschema.Draft202012Validator:
    path = CRD_SCHEMAS / f"{kind.lower()}-{group}-v1.json"
    return jsonschema.Draft202012Validator(strict(json.loads(path.read_text(encoding="utf-8"))))


def objects(stack: str) -> tuple[StackSettings, list[dict[str, Any]]]:
    settings = settings_of(raw_settings(stack))
    return settings, build_stack_objects(settings)


def ids(objs: list[dict[str, Any]]) -> list[str]:
    return [f"{o['kind']}/{o['metadata']['name']}" for o in objs]


@pytest.mark.parametrize("stack", STACKS)
def test_builtin_kinds_validate_for_the_stack_kubernetes_version(stack: str) -> None:
    settings, objs = objects(stack)
    builtin = [o for o in objs if o["kind"] not in CRD_KINDS]
    assert builtin, "expected built-in kinds"
    for obj in builtin:
        try:
            kubernetes_validate.validate(obj, settings.cluster.kubernetes_version, strict=True)
        except kubernetes_validate.ValidationError as e:
            pytest.fail(f"{stack}: {obj['kind']}/{obj['metadata']['name']}: {e.message} at {list(e.path)}")


@pytest.mark.parametrize("stack", STACKS)
def test_custom_resources_validate_against_their_crd_schemas(stack: str) -> None:
    _, objs = objects(stack)
    custom = [o for o in objs if o["kind"] in CRD_KINDS]
    assert {o["kind"] for o in custom} == CRD_KINDS
    for obj in custom:
        validator = crd_validator(obj["kind"], obj["apiVersion"].split("/")[0])
        errors = [f"{e.message} at {list(e.absolute_path)}" for e in validator.iter_errors(obj)]
        assert errors == [], f"{stack}: {obj['kind']}/{obj['metadata']['name']}: {errors}"


def test_strict_crd_validation_catches_a_misspelt_field() -> None:
    _, objs = objects("dev")
    (sdep,) = [o for o in objs if o["kind"] == "SeldonDeployment"]
    sdep["spec"]["predictors"][0]["trafic"] = 90
    errors = [
        e.message for e in crd_validator("SeldonDeployment", "machinelearning.seldon.io").iter_errors(sdep)
    ]
    assert errors == ["Additional properties are not allowed ('trafic' was unexpected)"]


def test_builtin_validation_catches_a_misspelt_field() -> None:
    settings, objs = objects("dev")
    (policy,) = [o for o in objs if o["metadata"]["name"] == "default-deny-ingress"]
    policy["spec"]["policyType"] = ["Ingress"]
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(policy, settings.cluster.kubernetes_version, strict=True)


def test_object_names_are_unique_per_kind() -> None:
    for stack in STACKS:
        names = ids(objects(stack)[1])
        assert len(names) == len(set(names)), stack


def test_seldon_gateway_targets_the_ingress_gateway_pods() -> None:
    gateway = seldon_gateway(settings_of(raw_settings("dev")))
    assert gateway["metadata"] == {
        "name": "seldon-gateway",
        "namespace": "istio-system",
        "labels": {"app.kubernetes.io/part-of": "rankship"},
    }
    assert gateway["spec"]["selector"] == {"istio": "ingressgateway"}
