"""The training namespace and one training run (ConfigMap, headless Service, Indexed Job) as a component."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from infra.components.k8s import apply_object, without_await
from infra.settings.stack import StackSettings
from infra.specs import naming as n
from infra.specs.training import training_namespace_objects, training_run_objects, worker_hosts


@dataclass(frozen=True)
class TrainingJobArgs:
    settings: StackSettings
    # Children get these explicitly: a component's own depends_on does not hold back its children.
    depends_on: tuple[pulumi.Resource, ...] = ()


class TrainingJob(pulumi.ComponentResource):
    """Applies `infra/specs/training.py` for a `training.runner: cluster` stack; the Job is not awaited."""

    job_name: str
    namespace: str
    worker_hosts: list[str]

    def __init__(self, name: str, args: TrainingJobArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("rankship:k8s:TrainingJob", name, None, opts)
        training = args.settings.training
        if not training.on_cluster or training.run_id is None:
            raise ValueError("TrainingJob needs training.runner: cluster with a run_id")
        shared = training_namespace_objects(args.settings)
        namespace = apply_object(
            shared[0], pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on))
        )
        after = [*args.depends_on, namespace]
        setup = [namespace] + [
            apply_object(obj, pulumi.ResourceOptions(parent=self, depends_on=after)) for obj in shared[1:]
        ]
        config_map, service, job = training_run_objects(args.settings)
        ready = [*after, *setup[1:]]
        run_setup = [
            apply_object(obj, pulumi.ResourceOptions(parent=self, depends_on=ready))
            for obj in (config_map, without_await(service))
        ]
        # Jobs are immutable: any change to the spec replaces it, and the old run must go first because the
        # name (from run_id) stays the same. A new run_id gives a new name and a plain create.
        apply_object(
            without_await(job),
            pulumi.ResourceOptions(parent=self, depends_on=[*ready, *run_setup], delete_before_replace=True),
        )
        self.job_name = n.train_job_name(training.run_id)
        self.namespace = training.namespace
        self.worker_hosts = worker_hosts(training.run_id, training.replicas)
        self.register_outputs(
            {"job": self.job_name, "namespace": self.namespace, "worker_hosts": self.worker_hosts}
        )

    def summary(self) -> dict[str, object]:
        """The stack output for training: where the Job runs and how its workers find each other."""
        return {
            "runner": "cluster",
            "namespace": self.namespace,
            "job": self.job_name,
            "workers": self.worker_hosts,
        }
