"""Platform add-ons as Helm releases, installed in dependency order, each awaited before its dependants."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from infra.components.k8s import apply_object
from infra.settings.stack import StackSettings
from infra.specs import naming as n
from infra.specs.addons import HelmChart, addon_charts
from infra.specs.gateway import auth_objects, seldon_gateway, tls_objects
from infra.specs.outages import gateway_pod_monitor
from infra.specs.prometheus_stack import storage_class


@dataclass(frozen=True)
class PlatformArgs:
    settings: StackSettings
    depends_on: tuple[pulumi.Resource, ...] = ()


class Platform(pulumi.ComponentResource):
    releases: dict[str, k8s.helm.v3.Release]
    ingress_address: pulumi.Output[str]
    grafana_url: pulumi.Output[str]

    def __init__(self, name: str, args: PlatformArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("rankship:k8s:Platform", name, None, opts)
        self.releases = {}
        settings = args.settings
        timeout = settings.platform.helm_timeout_seconds
        # Prometheus's volumes need their StorageClass before the chart creates the claims.
        storage = storage_class(settings)
        self.storage_class = [
            apply_object(storage, pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on)))
        ] if storage else []  # fmt: skip
        for chart in addon_charts(settings):
            needs = [self.releases[r] for r in chart.needs]
            extra = self.storage_class if chart.release == n.PROMETHEUS_RELEASE else []
            self.releases[chart.release] = self._release(chart, timeout, [*args.depends_on, *needs, *extra])
        self.gateway = self._gateway_objects(settings)
        self.ingress_address = self._ingress_address(args.settings)
        # Grafana is not put on the public gateway: its login page would face the Internet.
        # Reach it with `kubectl -n monitoring port-forward svc/kube-prometheus-stack-grafana 3000:80`.
        self.grafana_url = pulumi.Output.from_input(
            f"http://{n.GRAFANA_SERVICE}.{n.MONITORING_NAMESPACE}.svc.cluster.local"
        )
        self.register_outputs({"ingress_address": self.ingress_address, "grafana_url": self.grafana_url})

    @property
    def ready(self) -> list[pulumi.Resource]:
        """What workloads wait for: every release (their CRDs and webhooks) and the gateway's objects."""
        return [*self.releases.values(), *self.gateway]

    def _gateway_objects(self, settings: StackSettings) -> list[pulumi.Resource]:
        """Certificates after cert-manager (its CRDs); Gateway and Istio policies after the gateway."""
        istio = [self.releases["istio-base"], self.releases[n.INGRESS_GATEWAY_RELEASE]]
        certificates = [
            apply_object(obj, pulumi.ResourceOptions(parent=self, depends_on=[self.releases["cert-manager"]]))
            for obj in tls_objects(settings)
        ]
        after = [*istio, *certificates]
        monitor = apply_object(
            gateway_pod_monitor(),
            pulumi.ResourceOptions(parent=self, depends_on=[self.releases[n.PROMETHEUS_RELEASE]]),
        )
        return [
            *certificates,
            *(
                apply_object(obj, pulumi.ResourceOptions(parent=self, depends_on=after))
                for obj in [seldon_gateway(settings), *auth_objects(settings)]
            ),
            monitor,
        ]

    def _release(
        self, chart: HelmChart, timeout: int, depends_on: list[pulumi.Resource]
    ) -> k8s.helm.v3.Release:
        return k8s.helm.v3.Release(
            chart.release,
            k8s.helm.v3.ReleaseArgs(
                name=chart.release,
                chart=chart.chart,
                version=chart.version,
                repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=chart.repo),
                namespace=chart.namespace,
                create_namespace=True,
                values=chart.values,
                # Wait until every workload of the chart is ready; roll back a failed upgrade.
                skip_await=False,
                atomic=True,
                timeout=timeout,
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=depends_on),
        )

    def _ingress_address(self, settings: StackSettings) -> pulumi.Output[str]:
        """Load balancer hostname or IP of the Istio ingress gateway ("" for NodePort: use port-forward)."""
        if settings.platform.ingress_service_type != "LoadBalancer":
            return pulumi.Output.from_input("")
        release = self.releases[n.INGRESS_GATEWAY_RELEASE]
        # The id comes from the release's status, so the read waits for the release (and is skipped in a
        # preview where the release does not exist yet).
        service = k8s.core.v1.Service.get(
            "ingress-gateway-service",
            pulumi.Output.concat(release.status.namespace, "/", release.status.name),
            opts=pulumi.ResourceOptions(parent=self),
        )

        def address(status: k8s.core.v1.outputs.ServiceStatus | None) -> str:
            ingress = (status.load_balancer.ingress if status and status.load_balancer else None) or []
            return (ingress[0].hostname or ingress[0].ip or "") if ingress else ""

        return service.status.apply(address)
