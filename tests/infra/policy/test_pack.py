"""The CrossGuard pack for real: `infra/policy/__main__.py` run by the real `pulumi_policy` in its own locked
virtualenv (`make policy-venv`), asked over the analyzer gRPC protocol the Pulumi engine uses, one resource at a
time. Properties travel as protobuf Structs (numbers become floats, values arrive through pulumi_policy's proxy),
exactly as in `pulumi preview --policy-pack infra/policy`. Every rule has a case that it blocks, as mandatory.
"""

from __future__ import annotations

import copy
import os
import select
import signal
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import empty_pb2, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

from infra.policy.rules import NODE_GROUP_TYPE, RULES, STACK_RULES, k8s_type
from infra.specs import build_stack_objects
from tests.infra.infra_stacks import ROOT, filled, raw_settings, settings_of

PACK = ROOT / "infra" / "policy"
PYTHON = PACK / "venv" / "bin" / "python"
pytestmark = pytest.mark.e2e

Case = tuple[str, dict[str, Any]]  # (Pulumi type, input properties)


@pytest.fixture(scope="module")
def analyzer() -> Iterator[analyzer_pb2_grpc.AnalyzerStub]:
    if not PYTHON.is_file():
        pytest.skip(f"{PYTHON} is missing: run `make policy-venv` (make test does)")
    # Its own process group, stopped as a group: the pack serves until killed.
    proc = subprocess.Popen(
        [str(PYTHON), "__main__.py"],
        cwd=PACK,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 60)
        port = proc.stdout.readline().decode().strip() if ready and proc.stdout else ""
        if not port.isdigit():
            proc.kill()
            pytest.fail(f"the policy pack did not start: {proc.communicate(timeout=10)[1].decode()[-3000:]}")
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        grpc.channel_ready_future(channel).result(timeout=30)
        yield analyzer_pb2_grpc.AnalyzerStub(channel)
        channel.close()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)


def _struct(props: dict[str, Any]) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(props)
    return struct


def _urn(resource_type: str, name: str) -> str:
    return f"urn:pulumi:test::rankship::{resource_type}::{name}"


def analyze(stub: analyzer_pb2_grpc.AnalyzerStub, case: Case, name: str = "subject") -> list[Any]:
    """What `pulumi preview` asks the pack about one resource (the resource policies)."""
    resource_type, props = case
    request = analyzer_pb2.AnalyzeRequest(
        type=resource_type, properties=_struct(props), urn=_urn(resource_type, name), name=name
    )
    return list(stub.Analyze(request, timeout=30).diagnostics)


def analyze_stack(
    stub: analyzer_pb2_grpc.AnalyzerStub, cases: list[Case], name: str = "subject"
) -> list[Any]:
    """What it asks about the whole stack at the end (the stack policies)."""
    resources = [
        analyzer_pb2.AnalyzerResource(
            type=t, properties=_struct(props), urn=_urn(t, f"{name}-{i}"), name=name
        )
        for i, (t, props) in enumerate(cases)
    ]
    return list(
        stub.AnalyzeStack(analyzer_pb2.AnalyzeStackRequest(resources=resources), timeout=30).diagnostics
    )


def _objects(stack: str) -> dict[str, dict[str, Any]]:
    return {o["kind"]: o for o in build_stack_objects(settings_of(filled(raw_settings(stack))))}


PROD, STAGING = _objects("prod"), _objects("staging")
NODE_GROUP = {
    "instanceTypes": ["g5.2xlarge"],
    "amiType": "AL2023_x86_64_NVIDIA",
    "taints": [{"key": "nvidia.com/gpu", "value": "present", "effect": "NO_SCHEDULE"}],
    "scalingConfig": {"minSize": 1, "desiredSize": 2, "maxSize": 12},
}
VALID: dict[str, Case] = {
    "SeldonDeployment (prod)": (k8s_type(PROD["SeldonDeployment"]), PROD["SeldonDeployment"]),
    "training Job (staging)": (k8s_type(STAGING["Job"]), STAGING["Job"]),
    "GPU node group": (NODE_GROUP_TYPE, NODE_GROUP),
}


def _edit(base: Case, change: Callable[[dict[str, Any]], None]) -> Case:
    props = copy.deepcopy(base[1])
    change(props)
    return base[0], props


def _pod(sdep: dict[str, Any]) -> dict[str, Any]:
    pod: dict[str, Any] = sdep["spec"]["predictors"][0]["componentSpecs"][0]["spec"]
    return pod


def _container(sdep: dict[str, Any]) -> dict[str, Any]:
    container: dict[str, Any] = _pod(sdep)["containers"][0]
    return container


def _context(**change: Any) -> Callable[[dict[str, Any]], None]:
    return lambda o: _container(o)["securityContext"].update(change)


def _gpu_without_toleration(sdep: dict[str, Any]) -> None:
    _container(sdep)["resources"]["limits"]["nvidia.com/gpu"] = "1"
    _pod(sdep).pop("tolerations", None)


def _interleave_with_one_child(sdep: dict[str, Any]) -> None:
    extra = copy.deepcopy(sdep["spec"]["predictors"][0])
    extra.update(
        name="interleave", traffic=0, graph={"name": "c", "type": "COMBINER", "children": [{"type": "MODEL"}]}
    )
    sdep["spec"]["predictors"].append(extra)


SDEP, JOB, POOL = (
    VALID["SeldonDeployment (prod)"],
    VALID["training Job (staging)"],
    VALID["GPU node group"],
)
EKS = (
    "aws:eks/cluster:Cluster",
    {"vpcConfig": {"endpointPublicAccess": True, "publicAccessCidrs": ["52.94.76.0/22"]}},
)
IAM = ("aws:iam/rolePolicy:RolePolicy", {"policy": '{"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", '
       '"Resource": "arn:aws:s3:::b/bundles/*"}]}'})  # fmt: skip
LB = (
    "kubernetes:core/v1:Service",
    {"metadata": {"name": "lb"}, "spec": {"type": "LoadBalancer", "ports": []}},
)
BLOCKED: dict[str, Case] = {
    "traffic-weights": _edit(SDEP, lambda o: o["spec"]["predictors"][0].update(traffic=96)),
    "interleaving-predictors": _edit(SDEP, _interleave_with_one_child),
    "predictor-version-label": _edit(SDEP, lambda o: o["spec"]["predictors"][0]["labels"].pop("version")),
    "images-pinned-by-digest": _edit(SDEP, lambda o: _container(o).update(image="ghcr.io/x/y:latest")),
    "container-limits": _edit(SDEP, lambda o: _container(o)["resources"]["limits"].pop("memory")),
    "gpu-workloads-tolerate-taint": _edit(SDEP, _gpu_without_toleration),
    "gpu-pools-tainted": _edit(POOL, lambda p: p.update(taints=[])),
    "no-privileged-or-host-access": _edit(SDEP, lambda o: _pod(o).update(hostNetwork=True)),
    "bounded-node-pools": _edit(POOL, lambda p: p["scalingConfig"].update(maxSize=1000)),
    "jobs-have-deadlines": _edit(JOB, lambda o: o["spec"].pop("activeDeadlineSeconds")),
    "run-as-non-root": _edit(SDEP, _context(runAsNonRoot=False)),
    "read-only-root-filesystem": _edit(SDEP, _context(readOnlyRootFilesystem=False)),
    "drop-all-capabilities": _edit(SDEP, _context(capabilities={"drop": []})),
    "seccomp-profile": _edit(SDEP, _context(seccompProfile={"type": "Unconfined"})),
    "no-public-cidrs": _edit(EKS, lambda p: p["vpcConfig"].update(publicAccessCidrs=["0.0.0.0/0"])),
    "no-iam-wildcards": _edit(IAM, lambda p: p.update(policy=p["policy"].replace("s3:GetObject", "s3:*"))),
    "internal-load-balancers": LB,
}
VALID.update({"EKS cluster": EKS, "IAM role policy": IAM})


def _stack(instance_type: str, max_nodes: int) -> list[Case]:
    """prod's predictors at their HPA ceilings against the node group their nodeSelector picks."""
    pool = {
        "instanceTypes": [instance_type],
        "labels": dict(_pod(SDEP[1])["nodeSelector"]),
        "taints": [],
        "scalingConfig": {"minSize": 1, "desiredSize": 1, "maxSize": max_nodes},
    }
    return [SDEP, (NODE_GROUP_TYPE, pool)]


STACK_BLOCKED: dict[str, list[Case]] = {"workloads-fit-node-pools": _stack("m6i.4xlarge", 1)}


def test_every_rule_has_a_case_it_blocks() -> None:
    # A new rule in infra/policy/rules.py needs a case here: the test that it blocks through CrossGuard.
    assert sorted(BLOCKED) == sorted(rule.name for rule in RULES)
    assert sorted(STACK_BLOCKED) == sorted(rule.name for rule in STACK_RULES)


def test_the_pack_declares_every_rule_as_mandatory(analyzer: analyzer_pb2_grpc.AnalyzerStub) -> None:
    info = analyzer.GetAnalyzerInfo(empty_pb2.Empty(), timeout=30)
    assert info.name == "rankship-policies"
    assert [(p.name, p.enforcementLevel) for p in info.policies] == [
        (rule.name, analyzer_pb2.MANDATORY) for rule in (*RULES, *STACK_RULES)
    ]


@pytest.mark.parametrize("which", sorted(VALID))
def test_valid_resources_pass(analyzer: analyzer_pb2_grpc.AnalyzerStub, which: str) -> None:
    assert [d.message for d in analyze(analyzer, VALID[which])] == []


@pytest.mark.parametrize("rule", sorted(BLOCKED))
def test_each_rule_blocks_its_violation(analyzer: analyzer_pb2_grpc.AnalyzerStub, rule: str) -> None:
    found = analyze(analyzer, BLOCKED[rule], name="search-ranker")
    mine = [d for d in found if d.policyName == rule]
    assert mine, f"{rule} did not fire; got {[(d.policyName, d.message) for d in found]}"
    assert all(d.enforcementLevel == analyzer_pb2.MANDATORY for d in mine)
    assert all(d.policyPackName == "rankship-policies" and "search-ranker" in d.message for d in mine)


def test_a_stack_that_fits_passes_the_stack_rules(analyzer: analyzer_pb2_grpc.AnalyzerStub) -> None:
    assert [d.message for d in analyze_stack(analyzer, _stack("m6i.4xlarge", 100))] == []


@pytest.mark.parametrize("rule", sorted(STACK_BLOCKED))
def test_each_stack_rule_blocks_its_violation(analyzer: analyzer_pb2_grpc.AnalyzerStub, rule: str) -> None:
    found = analyze_stack(analyzer, STACK_BLOCKED[rule], name="search-ranker")
    mine = [d for d in found if d.policyName == rule]
    assert mine, f"{rule} did not fire; got {[(d.policyName, d.message) for d in found]}"
    assert all(d.enforcementLevel == analyzer_pb2.MANDATORY for d in mine)


def test_pack_runs_only_the_locked_pulumi_policy() -> None:
    if not PYTHON.is_file():
        pytest.skip(f"{PYTHON} is missing: run `make policy-venv` (make test does)")
    done = subprocess.run(
        [
            str(PYTHON),
            "-c",
            "import importlib.metadata as m; print(m.version('pulumi-policy'), m.version('protobuf'))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    lock = (PACK / "requirements.txt").read_text(encoding="utf-8")
    policy, protobuf = done.stdout.split()
    assert f"pulumi-policy=={policy} " in lock and f"protobuf=={protobuf} " in lock
    assert Path(PACK / "requirements.in").read_text(encoding="utf-8").count("pulumi-policy==") == 1
