"""Manifest validation: CRD schemas, strict core schemas, metadata syntax, Seldon webhook rules."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path
from typing import Any

import pytest

from infra.gitops.render import render_stack, write_atomically
from infra.gitops.validate import VENDORED_CRD_SCHEMAS as SCHEMAS
from infra.gitops.validate import main, validate_object, validate_objects
from infra.settings.stack import load_stack_settings
from infra.specs import build_stack_objects

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures"
K8S = "1.31"


@pytest.fixture(scope="module")
def objects() -> dict[str, dict[str, Any]]:
    """The fixture stack's objects by kind/name, to mutate one at a time."""
    built = build_stack_objects(load_stack_settings("fixture", FIXTURES))
    return {f"{o['kind']}/{o['metadata']['name']}": o for o in built}


def mutated(objects: dict[str, dict[str, Any]], key: str) -> dict[str, Any]:
    return copy.deepcopy(objects[key])


def errors(obj: dict[str, Any], schemas: Path | None = None) -> list[str]:
    return validate_object(obj, K8S, schemas).errors


def test_the_fixture_stack_is_valid_without_crd_schemas(objects: dict[str, dict[str, Any]]) -> None:
    report = validate_objects(objects.values(), K8S, None)
    assert report.errors == []
    crds = [k for k in objects if k.split("/")[0] in {"SeldonDeployment", "PodMonitor", "PrometheusRule"}]
    assert len(report.skipped) == len(crds) == 5
    assert all("CRD schema not checked" in s for s in report.skipped)


def test_the_fixture_stack_is_valid_against_the_crd_schemas(objects: dict[str, dict[str, Any]]) -> None:
    report = validate_objects(objects.values(), K8S, SCHEMAS)
    assert (report.errors, report.skipped, report.checked) == ([], [], len(objects))


def test_live_traffic_must_sum_to_100(objects: dict[str, dict[str, Any]]) -> None:
    sdep = mutated(objects, "SeldonDeployment/search-ranker")
    sdep["spec"]["predictors"][1]["traffic"] = 20
    found = errors(sdep)
    assert any(
        "traffic of non-shadow predictors sums to 95, not 100" in e and "search-ranker" in e for e in found
    )


def test_at_most_one_shadow(objects: dict[str, dict[str, Any]]) -> None:
    sdep = mutated(objects, "SeldonDeployment/search-ranker")
    extra = copy.deepcopy(sdep["spec"]["predictors"][2])
    sdep["spec"]["predictors"].append({**extra, "name": "shadow-2"})
    assert any("2 shadow predictors, at most one" in e for e in errors(sdep))


def test_unknown_field_in_a_core_kind_is_an_error(objects: dict[str, dict[str, Any]]) -> None:
    policy = mutated(objects, "NetworkPolicy/default-deny-ingress")
    policy["spec"]["podSelectr"] = {}
    found = errors(policy)
    assert len(found) == 1 and found[0].startswith("NetworkPolicy rankship-serving/default-deny-ingress")
    assert "podSelectr" in found[0] and "Kubernetes 1.31 schema" in found[0]


def test_wrong_type_in_a_core_kind_names_the_path(objects: dict[str, dict[str, Any]]) -> None:
    account = mutated(objects, "ServiceAccount/rankship-model-server")
    account["automountServiceAccountToken"] = "no"
    assert any("automountServiceAccountToken: 'no' is not of type 'boolean'" in e for e in errors(account))


def test_a_kind_without_any_schema_is_an_error() -> None:
    obj = {"apiVersion": "v1", "kind": "Gadget", "metadata": {"name": "x"}}
    assert errors(obj) == ["Gadget x (v1): no Kubernetes 1.31 schema for this apiVersion/kind"]


def test_crd_schema_violations_name_the_field(objects: dict[str, dict[str, Any]]) -> None:
    rule = mutated(objects, "PrometheusRule/search-ranker-slo")
    rule["spec"]["groups"][0]["rules"][0]["for"] = 5
    monitor = mutated(objects, "PodMonitor/rankship-models")
    del monitor["spec"]["selector"]
    assert any("spec.groups[0].rules[0].for: 5 is not of type 'string'" in e for e in errors(rule, SCHEMAS))
    assert errors(monitor, SCHEMAS) == [
        "PodMonitor rankship-serving/rankship-models (monitoring.coreos.com/v1): "
        "spec: 'selector' is a required property"
    ]


def test_a_custom_resource_without_a_schema_file_is_an_error() -> None:
    obj = {
        "apiVersion": "networking.istio.io/v1",
        "kind": "Gateway",
        "metadata": {"name": "g", "namespace": "x"},
    }
    assert errors(obj, SCHEMAS) == [
        "Gateway x/g (networking.istio.io/v1): "
        f"no CRD schema gateway-networking.istio.io-v1.json in {SCHEMAS}"
    ]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"name": "Search_Ranker"}, "metadata.name 'Search_Ranker' is not a DNS-1123 subdomain"),
        ({"labels": {"version": "x" * 64}}, "is not a valid label value"),
        ({"labels": {"bad key!": "v"}}, "label key 'bad key!' is not a valid label name"),
    ],
)
def test_metadata_syntax(objects: dict[str, dict[str, Any]], change: dict[str, Any], message: str) -> None:
    account = mutated(objects, "ServiceAccount/rankship-model-server")
    account["metadata"].update(change)
    assert any(message in e for e in errors(account))


def test_cli_validates_rendered_folders(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copy(FIXTURES / "Pulumi.fixture.yaml", tmp_path)
    write_atomically(tmp_path / "manifests" / "fixture", render_stack("fixture", tmp_path))
    args = ["--root", str(tmp_path), "--all"]
    assert main(args) == 0
    sdep = tmp_path / "manifests" / "fixture" / "seldondeployment-rankship-serving-search-ranker.yaml"
    sdep.write_text(sdep.read_text().replace("traffic: 25", "traffic: 26"))
    assert main(args) == 1
    assert "sums to 101, not 100" in capsys.readouterr().err


def test_cli_without_rendered_files_says_how_to_render(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copy(FIXTURES / "Pulumi.fixture.yaml", tmp_path)
    assert main(["--root", str(tmp_path), "--stack", "fixture"]) == 1
    assert "run `python -m infra.gitops.render --stack fixture`" in capsys.readouterr().err


def test_cli_rejects_a_missing_schema_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copy(FIXTURES / "Pulumi.fixture.yaml", tmp_path)
    with pytest.raises(SystemExit):
        main(["--root", str(tmp_path), "--all", "--crd-schemas", str(tmp_path / "nope")])
    assert "CRD schema folder" in capsys.readouterr().err


def test_cli_fails_when_a_custom_resource_has_no_vendored_schema(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A runner without ../shared used to skip every CRD check; now a missing schema fails the run.
    shutil.copy(FIXTURES / "Pulumi.fixture.yaml", tmp_path)
    write_atomically(tmp_path / "manifests" / "fixture", render_stack("fixture", tmp_path))
    schemas = tmp_path / "schemas"
    shutil.copytree(SCHEMAS, schemas)
    args = ["--root", str(tmp_path), "--all", "--crd-schemas", str(schemas)]
    assert main(args) == 0
    (schemas / "podmonitor-monitoring.coreos.com-v1.json").unlink()
    assert main(args) == 1
    assert "no CRD schema podmonitor-monitoring.coreos.com-v1.json" in capsys.readouterr().err


def test_cli_checks_the_vendored_schemas_by_default(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RANKSHIP_CRD_SCHEMAS", raising=False)
    shutil.copy(FIXTURES / "Pulumi.fixture.yaml", tmp_path)
    write_atomically(tmp_path / "manifests" / "fixture", render_stack("fixture", tmp_path))
    monitor = tmp_path / "manifests" / "fixture" / "podmonitor-rankship-serving-rankship-models.yaml"
    monitor.write_text(monitor.read_text().replace("selector:", "selectr:"))
    assert main(["--root", str(tmp_path), "--all"]) == 1
    err = capsys.readouterr().err
    assert "'selector' is a required property" in err and "skipped" not in err
