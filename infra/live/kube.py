"""Every call rankship's tools make to a Kubernetes API server, and nothing else.

The logic that judges what comes back (`infra.canary.live`, `infra.live.verify`) works on the plain dicts these
functions return, shaped like the API's JSON, so it is tested without a cluster. Any failure to reach or read
the API becomes `KubeError` with the reason; "not found" is `None`, not an error.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

import urllib3
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import DynamicApiError, NotFoundError, ResourceNotFoundError

from infra.settings.cluster import ExistingCluster
from infra.settings.stack import StackSettings

SELDON_GROUP, SELDON_VERSION, SELDON_PLURAL = "machinelearning.seldon.io", "v1", "seldondeployments"
REQUEST_TIMEOUT_S = 15


class KubeError(RuntimeError):
    """The API server could not be reached or refused a read; the message names the object."""


class Kube:
    """A connection to one cluster (kubeconfig, or the pod's service account when run in the cluster)."""

    def __init__(self, api: client.ApiClient) -> None:
        self.api = api
        self._dynamic: DynamicClient | None = None

    @classmethod
    def connect(cls, kubeconfig: str | None = None, context: str | None = None) -> Kube:
        """kubeconfig (and context) when given or found; inside a pod, its service account otherwise."""
        in_pod = bool(os.environ.get("KUBERNETES_SERVICE_HOST"))
        try:
            if kubeconfig is None and context is None and in_pod:
                config.load_incluster_config()
            else:
                path = str(Path(kubeconfig).expanduser()) if kubeconfig else None
                config.load_kube_config(config_file=path, context=context)
        except (ConfigException, OSError, TypeError) as e:
            if in_pod:  # e.g. a runner pod: the settings' kubeconfig/context are for people's machines
                with contextlib.suppress(ConfigException):
                    config.load_incluster_config()
                    return cls(client.ApiClient())
            where = kubeconfig or "$KUBECONFIG or ~/.kube/config"
            raise KubeError(
                f"no usable cluster credentials ({where}, context {context or 'current'}): {e}"
            ) from e
        return cls(client.ApiClient())

    @classmethod
    def for_stack(cls, settings: StackSettings) -> Kube:
        """Existing clusters name their kubeconfig/context in the settings; for EKS use the default one
        (`aws eks update-kubeconfig` writes it)."""
        c = settings.cluster
        if isinstance(c, ExistingCluster):
            return cls.connect(c.kubeconfig, c.context)
        return cls.connect()

    def seldon_deployment(self, namespace: str, name: str) -> dict[str, Any] | None:
        api = client.CustomObjectsApi(self.api)
        what = f"SeldonDeployment {namespace}/{name}"
        try:
            found = api.get_namespaced_custom_object(
                SELDON_GROUP,
                SELDON_VERSION,
                namespace,
                SELDON_PLURAL,
                name,
                _request_timeout=REQUEST_TIMEOUT_S,
            )
        except ApiException as e:
            if e.status == 404:
                return None
            raise KubeError(f"reading {what}: HTTP {e.status} {e.reason}") from e
        except urllib3.exceptions.HTTPError as e:
            raise KubeError(f"reading {what}: API server unreachable: {e}") from e
        if not isinstance(found, dict):
            raise KubeError(f"reading {what}: the API answered {type(found).__name__}, not an object")
        return found

    def get(self, api_version: str, kind: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        """Any object by apiVersion/kind; None when it (or its kind) does not exist."""
        what = f"{kind} {namespace + '/' if namespace else ''}{name}"
        try:
            resource = self._resources().get(api_version=api_version, kind=kind)
            found = resource.get(name=name, namespace=namespace, _request_timeout=REQUEST_TIMEOUT_S)
        except (NotFoundError, ResourceNotFoundError):
            return None
        except DynamicApiError as e:
            raise KubeError(f"reading {what}: HTTP {e.status} {e.reason}") from e
        except urllib3.exceptions.HTTPError as e:
            raise KubeError(f"reading {what}: API server unreachable: {e}") from e
        return dict(found.to_dict())

    def list(
        self, api_version: str, kind: str, namespace: str | None, label_selector: str
    ) -> list[dict[str, Any]]:
        """Objects of a kind with the labels; empty when the kind does not exist."""
        try:
            resource = self._resources().get(api_version=api_version, kind=kind)
            found = resource.get(
                namespace=namespace, label_selector=label_selector, _request_timeout=REQUEST_TIMEOUT_S
            )
        except ResourceNotFoundError:
            return []
        except DynamicApiError as e:
            raise KubeError(f"listing {kind} ({label_selector}): HTTP {e.status} {e.reason}") from e
        except urllib3.exceptions.HTTPError as e:
            raise KubeError(f"listing {kind}: API server unreachable: {e}") from e
        return [dict(item) for item in found.to_dict().get("items", [])]

    def _resources(self) -> Any:
        if self._dynamic is None:
            try:
                self._dynamic = DynamicClient(self.api)  # reads the API discovery documents once
            except (ApiException, urllib3.exceptions.HTTPError) as e:
                raise KubeError(f"API server unreachable: {e}") from e
        return self._dynamic.resources
