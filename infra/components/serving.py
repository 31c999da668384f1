"""Serving namespace and one ModelServing per model, both applying the pure specs of `infra.specs`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi

from infra.components.k8s import apply_object, with_await
from infra.settings.stack import StackSettings
from infra.specs import build_model_objects, build_namespace_objects, model_settings
from infra.specs.naming import endpoint_path


@dataclass(frozen=True)
class ServingNamespaceArgs:
    settings: StackSettings
    # Children get these explicitly: a component's own depends_on does not hold back its children.
    depends_on: tuple[pulumi.Resource, ...] = ()


class ServingNamespace(pulumi.ComponentResource):
    """Namespace, service account, bundle-store Secret, NetworkPolicies and the PodMonitor."""

    objects: list[pulumi.Resource]

    def __init__(
        self, name: str, args: ServingNamespaceArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("rankship:k8s:ServingNamespace", name, None, opts)
        specs = build_namespace_objects(args.settings)
        namespace = apply_object(
            specs[0], pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on))
        )
        after = [*args.depends_on, namespace]
        self.objects = [namespace] + [
            apply_object(obj, pulumi.ResourceOptions(parent=self, depends_on=after)) for obj in specs[1:]
        ]
        self.register_outputs({"namespace": args.settings.serving.namespace})


@dataclass(frozen=True)
class ModelServingArgs:
    settings: StackSettings
    model: str
    ingress_address: pulumi.Output[str]
    depends_on: tuple[pulumi.Resource, ...] = ()


class ModelServing(pulumi.ComponentResource):
    """One model's SeldonDeployment (awaited until Available), alert rules and dashboard."""

    endpoint: pulumi.Output[str]
    versions: dict[str, str]
    traffic: dict[str, int]

    def __init__(self, name: str, args: ModelServingArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("rankship:k8s:ModelServing", name, None, opts)
        model = model_settings(args.settings, args.model)
        for obj in build_model_objects(args.settings, model):
            spec = with_await(obj) if obj["kind"] == "SeldonDeployment" else obj
            apply_object(spec, pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on)))
        path = endpoint_path(args.settings.serving.namespace, model.name)
        self.endpoint = args.ingress_address.apply(
            lambda address: f"http://{address}{path}" if address else path
        )
        self.versions = model.versions()
        self.traffic = {
            "stable": model.stable.weight,
            **({"canary": model.canary.weight} if model.canary else {}),
            **(
                {"interleave": model.canary.interleave_weight}
                if model.canary and model.canary.interleave
                else {}
            ),
        }
        self.register_outputs({"endpoint": self.endpoint, "versions": self.versions, "traffic": self.traffic})

    def summary(self) -> pulumi.Output[dict[str, Any]]:
        """The stack output for this model: endpoint, version per track, live traffic split."""
        return self.endpoint.apply(
            lambda e: {"endpoint": e, "versions": self.versions, "traffic": self.traffic}
        )
