"""kube-prometheus-stack values: persistent Prometheus, Alertmanager receivers from the settings, and no
scrapes of control-plane parts a managed cluster hides.

- Storage: one PersistentVolumeClaim per Prometheus replica (EBS gp3 through the EBS CSI add-on on aws-eks),
  retention by time and by size (80% of the volume, `PrometheusStorage.retention_size`), so a restart keeps
  the 3-day burn-rate window and a full disk never stops ingestion.
- Receivers: Alertmanager reads each credential from a file of a mounted Secret (`*_file` fields), so the
  settings, the rendered values and the Helm release hold secret *names*, never values.
- EKS runs kube-controller-manager, kube-scheduler and etcd out of reach and kube-proxy's metrics listen on
  127.0.0.1: their scrapes fail forever and keep the chart's *Down alerts firing, so they are off there.
"""

from __future__ import annotations

from typing import Any

from infra.settings.platform import Receiver
from infra.settings.stack import StackSettings
from infra.specs import naming as n

SECRETS_DIR = "/etc/alertmanager/secrets"
# The StorageClass rankship creates on aws-eks (infra/components/platform.py): EBS gp3, encrypted.
EBS_STORAGE_CLASS = "rankship-gp3"
EKS_HIDDEN_SCRAPES = ("kubeControllerManager", "kubeScheduler", "kubeEtcd", "kubeProxy")
_GROUP_BY = ["alertname", "namespace", n.PROM_MODEL_LABEL]


def storage_class(settings: StackSettings) -> dict[str, Any] | None:
    """The gp3 StorageClass for Prometheus on aws-eks (EBS CSI driver); None elsewhere."""
    if not settings.is_eks:
        return None
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {"name": EBS_STORAGE_CLASS, "labels": dict(n.PART_OF)},
        "provisioner": "ebs.csi.aws.com",
        "parameters": {"type": "gp3", "encrypted": "true"},
        # Bind where the pod lands, so the volume is in its zone; Retain keeps history past a chart uninstall.
        "volumeBindingMode": "WaitForFirstConsumer",
        "reclaimPolicy": "Retain",
        "allowVolumeExpansion": True,
    }


def _storage_spec(settings: StackSettings) -> dict[str, Any]:
    storage = settings.platform.prometheus
    claim: dict[str, Any] = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": f"{storage.volume_gib}Gi"}},
    }
    name = storage.storage_class or (EBS_STORAGE_CLASS if settings.is_eks else None)
    if name:
        claim["storageClassName"] = name
    return {"volumeClaimTemplate": {"spec": claim}}


def _receiver_config(r: Receiver) -> dict[str, Any]:
    path = f"{SECRETS_DIR}/{r.secret}/{r.key}"
    if r.kind == "slack":
        return {"slack_configs": [{"api_url_file": path, "send_resolved": True}]}
    if r.kind == "pagerduty":
        return {"pagerduty_configs": [{"routing_key_file": path, "send_resolved": True}]}
    return {"webhook_configs": [{"url_file": path, "send_resolved": True}]}


def alertmanager_config(settings: StackSettings) -> dict[str, Any]:
    """Routes by severity to the settings' receivers; with none, alerts stay in Alertmanager's UI only."""
    receivers = settings.platform.receivers
    routes = [
        {"receiver": r.name, "matchers": [f'severity=~"{"|".join(r.severities)}"'], "continue": True}
        for r in receivers
    ]
    return {
        "route": {
            "receiver": "null",
            "group_by": _GROUP_BY,
            "group_wait": "30s",
            "group_interval": "5m",
            "repeat_interval": "4h",
            "routes": [
                # The chart's always-firing heartbeat goes nowhere unless someone wires a dead man's switch.
                {"receiver": "null", "matchers": ['alertname="Watchdog"']},
                *routes,
            ],
        },
        "receivers": [{"name": "null"}, *({"name": r.name, **_receiver_config(r)} for r in receivers)],
    }


def prometheus_values(settings: StackSettings) -> dict[str, Any]:
    storage = settings.platform.prometheus
    values: dict[str, Any] = {
        "prometheus": {
            "prometheusSpec": {
                "retention": storage.retention,
                "retentionSize": storage.retention_size,
                "storageSpec": _storage_spec(settings),
                # Select only monitors and rules labelled release=<this release>, as ours are.
                "podMonitorSelectorNilUsesHelmValues": True,
                "ruleSelectorNilUsesHelmValues": True,
            }
        },
        "alertmanager": {
            "config": alertmanager_config(settings),
            "alertmanagerSpec": {"secrets": sorted({r.secret for r in settings.platform.receivers})},
        },
        "grafana": {
            "sidecar": {
                "dashboards": {
                    "enabled": True,
                    "label": "grafana_dashboard",
                    "labelValue": "1",
                    "searchNamespace": "ALL",
                    "folderAnnotation": "grafana_folder",
                    "provider": {"foldersFromFilesStructure": True},
                }
            }
        },
    }
    if settings.is_eks:
        values.update({part: {"enabled": False} for part in EKS_HIDDEN_SCRAPES})
    return values
