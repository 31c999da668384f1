"""The whole stack, wired: cluster, platform add-ons, serving namespace, one ModelServing per model, and
the training Job when `training.runner` is `cluster`.

`build_stack` declares resources and returns the stack outputs; `__main__.py` only loads settings and exports.
Tests call `build_stack` under `pulumi.runtime.set_mocks`.
"""

from __future__ import annotations

from typing import Any

import pulumi

from infra.components.cluster import connect_cluster
from infra.components.platform import Platform, PlatformArgs
from infra.components.serving import ModelServing, ModelServingArgs, ServingNamespace, ServingNamespaceArgs
from infra.components.training import TrainingJob, TrainingJobArgs
from infra.settings.stack import StackSettings

OUTPUT_KEYS = ("kubeconfig", "cluster_name", "ingress_address", "grafana_url", "models", "training")


def build_stack(settings: StackSettings) -> dict[str, Any]:
    cluster = connect_cluster(settings)
    on_cluster = pulumi.ResourceOptions(providers=[cluster.provider])
    platform = Platform("platform", PlatformArgs(settings, tuple(cluster.depends_on)), on_cluster)
    namespace = ServingNamespace("serving", ServingNamespaceArgs(settings, tuple(platform.ready)), on_cluster)
    after = (*platform.ready, *namespace.objects)
    models = [
        ModelServing(m.name, ModelServingArgs(settings, m.name, platform.ingress_address, after), on_cluster)
        for m in settings.models
    ]
    training: dict[str, Any] = {"runner": settings.training.runner}
    if settings.training.on_cluster:
        # After the platform: GPU workers schedule only once the NVIDIA device plugin advertises GPUs.
        job = TrainingJob("training", TrainingJobArgs(settings, tuple(platform.ready)), on_cluster)
        training = job.summary()
    return {
        "kubeconfig": cluster.kubeconfig,
        "cluster_name": cluster.name,
        "ingress_address": platform.ingress_address,
        "grafana_url": platform.grafana_url,
        "models": {m.name: serving.summary() for m, serving in zip(settings.models, models, strict=True)},
        "training": training,
    }
