"""Pure builders: stack settings in, Kubernetes objects (plain dicts) out. No Pulumi import anywhere here.

The Pulumi components apply these objects; the manifest renderer writes the same objects to
`manifests/<stack>/`, so what GitOps deploys and what `pulumi up` deploys cannot drift apart.
"""

from __future__ import annotations

from typing import Any

from infra.settings.serving import ModelSettings
from infra.settings.stack import StackSettings
from infra.specs.dashboard import dashboard_config_map
from infra.specs.monitoring import pod_monitor, prometheus_rule
from infra.specs.namespace import namespace_objects
from infra.specs.seldon import seldon_deployment
from infra.specs.training import training_objects

__all__ = ["build_model_objects", "build_namespace_objects", "build_stack_objects", "model_settings"]


def model_settings(settings: StackSettings, name: str) -> ModelSettings:
    for model in settings.models:
        if model.name == name:
            return model
    raise KeyError(f"no model named {name!r}; the stack serves {[m.name for m in settings.models]}")


def build_namespace_objects(settings: StackSettings) -> list[dict[str, Any]]:
    """Namespace, service account, bundle-store Secret (aws-eks), NetworkPolicies, PodMonitor."""
    return [*namespace_objects(settings), pod_monitor(settings)]


def build_model_objects(settings: StackSettings, model: ModelSettings) -> list[dict[str, Any]]:
    """SeldonDeployment, PrometheusRule and dashboard ConfigMap of one model."""
    return [
        seldon_deployment(settings, model),
        prometheus_rule(settings, model),
        dashboard_config_map(settings, model),
    ]


def build_stack_objects(settings: StackSettings) -> list[dict[str, Any]]:
    """Every Kubernetes object the stack's workloads need, in apply order (namespace first).

    With `training.runner: cluster` the training namespace and the run's Job come last (`specs/training.py`).
    """
    objects = build_namespace_objects(settings)
    for model in settings.models:
        objects += build_model_objects(settings, model)
    return objects + training_objects(settings)
