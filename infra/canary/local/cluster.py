"""The stand-in for a cluster: what the local demo "rolled out" from the stack settings.

`rollout()` reads `Pulumi.<stack>.yaml` like a GitOps sync would; from then on `route_track()` splits calls
between the versions' processes by the rolled-out weights (weighted random, like Envoy), and `live()` answers the analyzer's live check with the SeldonDeployment the specs
render for those settings, `Available`. So the analyzer runs unchanged, live check included.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from infra.settings.serving import ModelSettings
from infra.settings.stack import load_stack_settings
from infra.specs.seldon import seldon_deployment


class LocalCluster:
    def __init__(
        self, root: Path, stack: str, model: str, endpoints: Mapping[str, str], seed: int = 7
    ) -> None:
        """`endpoints`: bundle version -> base URL of the process serving it."""
        self.root, self.stack, self.model_name = root, stack, model
        self.endpoints = dict(endpoints)
        self._lock = threading.Lock()
        self._sent = 0
        self._live: dict[str, Any] = {}
        self._routes: tuple[tuple[str, int], ...] = ()
        self._tracks: dict[str, str] = {}
        self._rng = random.Random(seed)
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
        tracks = {model.stable.bundle.version: "stable"}
        if model.canary is not None:
            tracks[model.canary.bundle.version] = "canary"
        with self._lock:
            self._live, self._routes, self._tracks = live, routes, tracks

    def route_track(self) -> tuple[str, str, str]:
        """(track, version, base URL) for the next call, drawn by weight as Envoy does (weighted random):
        the gateway routes predictions and feedback alike, so an exact cycle would phase-lock with the
        search/feedback alternation and send one version mostly feedback."""
        with self._lock:
            routes, tracks, draw = self._routes, self._tracks, self._rng.random() * 100
        version = routes[-1][0]
        for candidate, weight in routes:
            if draw < weight:
                version = candidate
                break
            draw -= weight
        return tracks.get(version, "stable"), version, self.endpoints[version]

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
