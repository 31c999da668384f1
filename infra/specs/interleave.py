"""The interleaving predictor: a team-draft COMBINER over two MODEL children, stable's and the canary's bundle.

    interleaver (COMBINER, methods SEND_FEEDBACK)      model/serving/combiner.py
      ├── ranker-stable (MODEL, stable bundle)         model/serving/seldon_model.py
      └── ranker-canary (MODEL, canary bundle)

Each node is its own componentSpec (own Deployment, HPA and PDB); the executor calls both children in
parallel, then the combiner. Its pods carry `version: interleave` (constant, like every track's), so Istio's
subset for this predictor never overlaps stable's or the canary's; its `version` annotation, hence
`predictor_version` on the executor's metrics, names the pair `<stable>-<canary>`, not a bundle. The model pods still count their requests under their own `bundle_version`: they
serve real users with that bundle. Feedback reaches the combiner because its node lists SEND_FEEDBACK (the
executor sends feedback to MODEL/ROUTER nodes and to nodes that list it).
"""

from __future__ import annotations

from typing import Any

from infra.settings.serving import Autoscaling, ModelSettings
from infra.settings.stack import StackSettings
from infra.specs import naming as n
from infra.specs import seldon

COMBINER_RESOURCES = {
    "requests": {"cpu": "250m", "memory": "256Mi"},
    "limits": {"cpu": "1", "memory": "512Mi"},
}


def interleave_version(model: ModelSettings) -> str:
    """The predictor's `version` annotation: both bundle versions (25 chars)."""
    assert model.canary is not None
    return f"{model.stable.bundle.version}-{model.canary.bundle.version}"


def _scaling(model: ModelSettings) -> Autoscaling:
    stable = model.autoscaling
    return Autoscaling(
        min_replicas=1, max_replicas=stable.max_replicas, target_cpu_utilization=stable.target_cpu_utilization
    )


def _component(pod: dict[str, Any], scaling: Autoscaling, model: ModelSettings) -> dict[str, Any]:
    return {
        "spec": pod,
        "hpaSpec": seldon.hpa_spec(scaling),
        "pdbSpec": {"maxUnavailable": model.max_unavailable},
    }


def _children(
    settings: StackSettings, model: ModelSettings
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(componentSpecs, graph children) of the two rankers, stable first."""
    assert model.canary is not None
    releases = {
        "stable": (model.stable.bundle, model.stable.image),
        "canary": (model.canary.bundle, model.canary.image),
    }
    components, nodes = [], []
    for team, (bundle, image) in releases.items():
        p = seldon.Predictor(n.INTERLEAVE_TRACK, bundle, image or model.image, 0, _scaling(model))
        pod = seldon.pod_spec(settings, model, p, n.INTERLEAVE_CHILD[team])
        (container,) = pod["containers"]
        # The combiner counts this predictor's feedback once; its children must not count it again.
        container["env"] = [*container["env"], {"name": "RANKSHIP_INTERLEAVE_CHILD", "value": "1"}]
        components.append(_component(pod, p.autoscaling, model))
        nodes.append({
            "name": n.INTERLEAVE_CHILD[team],
            "type": "MODEL",
            "modelUri": bundle.uri,
            **seldon.bundle_secret_ref(settings),
            "endpoint": {"type": "REST", "httpPort": n.HTTP_PORT, "grpcPort": n.GRPC_PORT},
            "children": [],
        })  # fmt: skip
    return components, nodes


def combiner_container(settings: StackSettings, model: ModelSettings, image: str) -> dict[str, Any]:
    assert model.canary is not None
    env = {
        "RANKSHIP_INTERLEAVE_STABLE": model.stable.bundle.version,
        "RANKSHIP_INTERLEAVE_CANARY": model.canary.bundle.version,
        "GUNICORN_WORKERS": "1",
        "GUNICORN_THREADS": "1",
    }
    base = seldon.model_container(settings, model, seldon.predictors(model)[0])
    return {
        **base,
        "name": n.COMBINER_CONTAINER,
        "image": image,
        # The serving image's entry point runs the ranker; the same image runs the combiner class.
        "command": [*n.SERVING_ENTRYPOINT, n.COMBINER_CLASS, "--service-type", "COMBINER"],
        "env": [{"name": k, "value": v} for k, v in env.items()],
        "resources": COMBINER_RESOURCES,
        "volumeMounts": [{"name": seldon.TMP_VOLUME["name"], "mountPath": "/tmp"}],
    }


def interleave_predictor(settings: StackSettings, model: ModelSettings) -> dict[str, Any] | None:
    """The predictor spec, or None when the settings declare no `canary.interleave`."""
    canary = model.canary
    if canary is None or canary.interleave is None:
        return None
    version = interleave_version(model)
    image = canary.image or model.image  # the combiner ships with the canary's runtime
    p = seldon.Predictor(n.INTERLEAVE_TRACK, canary.bundle, image, canary.interleave.weight, _scaling(model))
    components, children = _children(settings, model)
    pod = seldon.pod_spec(settings, model, p, bundle=False)  # the combiner loads no bundle
    pod["containers"] = [combiner_container(settings, model, image)]
    for key in ("nodeSelector", "tolerations"):  # the combiner never needs a GPU node
        pod.pop(key, None)
    combiner = _component(pod, p.autoscaling, model)
    labels = {
        n.VERSION_LABEL: n.INTERLEAVE_TRACK,
        n.MODEL_LABEL: model.name,
        n.TRACK_LABEL: n.INTERLEAVE_TRACK,
    }
    return {
        "name": n.INTERLEAVE_TRACK,
        "traffic": canary.interleave.weight,
        "labels": labels,
        "annotations": {n.PREDICTOR_VERSION_ANNOTATION: version},
        "componentSpecs": [combiner, *components],
        "graph": {
            "name": n.COMBINER_CONTAINER,
            "type": "COMBINER",
            "methods": ["SEND_FEEDBACK"],
            "endpoint": {"type": "REST", "httpPort": n.HTTP_PORT, "grpcPort": n.GRPC_PORT},
            "children": children,
        },
        "svcOrchSpec": {"resources": seldon.EXECUTOR_RESOURCES},
    }
