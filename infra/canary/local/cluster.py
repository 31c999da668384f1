"""The stand-in for a cluster: what the local demo "rolled out" from the stack settings.

`rollout()` reads `Pulumi.<stack>.yaml` like a GitOps sync would; from then on `route()` splits requests
between the versions' processes by the rolled-out weights (exactly: of every 100 requests, `weight` go to the
canary, spread evenly), and `live()` answers the analyzer's live check with the SeldonDeployment the specs
render for those settings, `Available`. So the analyzer runs unchanged, live check included.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from infra.settings.serving import ModelSettings
from infra.settings.stack import load_stack_settings
from infra.specs.seldon import seldon_deployment


class LocalCluster:
    def __init__(self, root: Path, stack: str, model: str, endpoints: Mapping[str, str]) -> None:
        """`endpoints`: bundle version -> base URL of the process serving it."""
        self.root, self.stack, self.model_name = root, stack, model
        self.endpoints = dict(endpoints)
        self._lock = threading.Lock()
        self._sent = 0
        self._live: dict[str, Any] = {}
        self._routes: tuple[tuple[str, int], ...] = ()
        self.rollout()

    def rollout(self) -> None:
        """Apply the current settings (weights, versions) to routing and to the live object."""
        settings = load_stack_settings(self.stack, self.root)
        model = next(m for m in settings.models if m.name == self.model_name)
        live = seldon_deployment(settings, model)
        live["status"] = {"state": "Available"}
        routes = tuple((v, w) for v, w in _weights(model).items() if w > 0)
        missing = [v for v, _ in routes if v not in self.endpoints]
        if missing:
            raise KeyError(f"no local process serves version {missing[0]}")
        with self._lock:
            self._live, self._routes = live, routes

    def route(self) -> tuple[str, str]:
        """(version, base URL) for the next request."""
        with self._lock:
            i, self._sent = self._sent, self._sent + 1
            routes = self._routes
        if len(routes) == 1:
            return routes[0][0], self.endpoints[routes[0][0]]
        (stable, _), (canary, weight) = routes
        # Bresenham: request i goes to the canary when floor((i+1) w / 100) steps up.
        to_canary = (i + 1) * weight // 100 > i * weight // 100
        version = canary if to_canary else stable
        return version, self.endpoints[version]

    def weights(self) -> dict[str, int]:
        with self._lock:
            return dict(self._routes)

    def live(self, namespace: str, name: str) -> dict[str, Any] | None:
        with self._lock:
            meta = self._live.get("metadata", {})
            if (meta.get("namespace"), meta.get("name")) != (namespace, name):
                return None
            return self._live


def _weights(model: ModelSettings) -> dict[str, int]:
    """Version -> percent of live traffic, stable first."""
    weights = {model.stable.bundle.version: model.stable.weight}
    if model.canary is not None:
        weights[model.canary.bundle.version] = model.canary.weight
    return weights
