"""Run the Pulumi program without an engine: `pulumi.runtime.set_mocks` plus a monitor that records,
for every registered resource, its type, name, inputs, parent and dependencies.

The mocks answer like the real providers would in the fields the program reads back (EKS endpoint,
certificate authority and OIDC issuer; IAM ARNs; Helm release status; the ingress Service's load balancer).
"""

from __future__ import annotations

import base64
import json
import runpy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import pytest
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc

from infra.program import build_stack
from infra.settings.stack import SETTINGS_KEY, StackSettings

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT = "123456789012"
LB_HOSTNAME = "a1b2c3-123.us-east-1.elb.amazonaws.com"
ISSUER = "https://oidc.eks.us-east-1.amazonaws.com/id/0123456789ABCDEF"


@dataclass
class Registered:
    urn: str
    type: str
    name: str
    inputs: dict[str, Any]
    parent: str
    dependencies: list[str]
    custom: bool
    protect: bool = False
    delete_before_replace: bool = False


@dataclass
class ProgramRun:
    resources: list[Registered]
    outputs: dict[str, Any]
    secret_outputs: set[str] = field(default_factory=set)

    def of_type(self, type_: str) -> list[Registered]:
        return [r for r in self.resources if r.type == type_]

    def named(self, type_: str, name: str) -> Registered:
        found = [r for r in self.of_type(type_) if r.name == name]
        assert len(found) == 1, (
            f"expected one {type_} named {name!r}, found {[r.name for r in self.of_type(type_)]}"
        )
        return found[0]

    def urn_of(self, type_: str, name: str) -> str:
        return self.named(type_, name).urn


class PlausibleMocks(pulumi.runtime.Mocks):
    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        state = dict(args.inputs)
        typ, name = args.typ, args.name
        if typ == "aws:eks/cluster:Cluster":
            state |= {
                "endpoint": "https://0123456789ABCDEF.gr7.us-east-1.eks.amazonaws.com",
                "certificateAuthority": {"data": base64.b64encode(b"mock CA").decode()},
                "identities": [{"oidcs": [{"issuer": ISSUER}]}],
                "arn": f"arn:aws:eks:us-east-1:{ACCOUNT}:cluster/{state.get('name', name)}",
            }
        elif typ == "aws:iam/openIdConnectProvider:OpenIdConnectProvider":
            state["arn"] = f"arn:aws:iam::{ACCOUNT}:oidc-provider/{ISSUER.removeprefix('https://')}"
        elif typ == "aws:iam/role:Role":
            state |= {
                "arn": f"arn:aws:iam::{ACCOUNT}:role/{state.get('name', name)}",
                "name": state.get("name", name),
            }
        elif typ == "kubernetes:helm.sh/v3:Release":
            state["status"] = {
                "name": state.get("name", name),
                "namespace": state.get("namespace"),
                "status": "deployed",
            }
        elif typ == "kubernetes:core/v1:Service" and args.resource_id:
            state |= {"status": {"loadBalancer": {"ingress": [{"hostname": LB_HOSTNAME}]}}}
        return (args.resource_id or f"{name}-id"), state

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        raise AssertionError(f"the program made an unexpected invoke: {args.token}")


class RecordingMonitor(pulumi_mocks.MockMonitor):
    def __init__(self, mocks: pulumi.runtime.Mocks) -> None:
        super().__init__(mocks)
        self.registered: list[Registered] = []

    def RegisterResource(self, request: Any) -> Any:  # the gRPC method it overrides
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            inputs = rpc.deserialize_properties(request.object)
            self.registered.append(
                Registered(
                    urn=response.urn,
                    type=request.type,
                    name=request.name,
                    inputs=inputs,
                    parent=request.parent,
                    dependencies=list(request.dependencies),
                    custom=bool(request.custom),
                    protect=bool(request.protect),
                    delete_before_replace=bool(request.deleteBeforeReplace),
                )
            )
        return response


def run_program(settings: StackSettings, stack: str = "test") -> ProgramRun:
    """Declare the whole stack under mocks and wait until every output has resolved."""
    mocks = PlausibleMocks()
    monitor = RecordingMonitor(mocks)
    pulumi.runtime.set_mocks(mocks, project="rankship", stack=stack, preview=False, monitor=monitor)
    resolved: dict[str, Any] = {}
    secrets: set[str] = set()

    async def collect(outputs: dict[str, Any]) -> None:
        for key, value in outputs.items():
            out = pulumi.Output.from_input(value)
            resolved[key] = await out.future()
            if await out.is_secret():
                secrets.add(key)

    @pulumi.runtime.test
    def program() -> Any:
        return collect(build_stack(settings))

    program()
    return ProgramRun(monitor.registered, resolved, secrets)


def run_main(config: dict[str, Any], monitor: RecordingMonitor, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Run infra/__main__.py as Pulumi would, with `config` as the stack configuration."""
    pulumi.runtime.set_mocks(monitor.mocks, project="rankship", stack="dev", preview=False, monitor=monitor)
    pulumi.runtime.set_all_config({SETTINGS_KEY: json.dumps(config)})
    exported: list[str] = []
    monkeypatch.setattr(pulumi, "export", lambda key, value: exported.append(key))

    @pulumi.runtime.test
    def program() -> None:
        runpy.run_path(str(ROOT / "infra" / "__main__.py"), run_name="__main__")

    try:
        program()
    finally:
        pulumi.runtime.set_all_config({})
    return exported
