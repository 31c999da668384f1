"""EKS cluster: control plane (logs with retention), managed add-ons, node groups, OIDC provider, IRSA roles."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.components.network import Vpc, VpcArgs
from infra.settings.cluster import EksCluster, NodePool
from infra.specs import aws as spec
from infra.specs import naming as n


@dataclass(frozen=True)
class TrainerAccess:
    """IRSA for the training Job; EKS access for the principals that submit runs (the release workflow)."""

    namespace: str
    bucket: str
    submitter_arns: tuple[str, ...] = ()


@dataclass(frozen=True)
class EksClusterArgs:
    cluster: EksCluster
    node_pools: tuple[NodePool, ...]
    bundle_buckets: tuple[str, ...]
    serving_namespace: str
    trainer: TrainerAccess | None = None  # set when the stack trains on the cluster


def _issuer(identities: Sequence[aws.eks.outputs.ClusterIdentity] | None) -> str:
    oidcs = identities[0].oidcs if identities else None
    return (oidcs[0].issuer or "") if oidcs else ""


class Eks(pulumi.ComponentResource):
    cluster_name: pulumi.Output[str]
    endpoint: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]
    oidc_provider_arn: pulumi.Output[str]
    node_groups: dict[str, aws.eks.NodeGroup]

    def __init__(self, name: str, args: EksClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("rankship:aws:EksCluster", name, None, opts)
        self._args = args
        vpc = Vpc(f"{name}-network", VpcArgs(args.cluster), pulumi.ResourceOptions(parent=self))
        cluster = self._control_plane(name, vpc)
        self.cluster_name = cluster.name
        self.endpoint = cluster.endpoint
        self.kubeconfig = pulumi.Output.secret(
            pulumi.Output.all(cluster.name, cluster.endpoint, cluster.certificate_authority.data).apply(
                lambda v: spec.eks_kubeconfig(v[0], v[1], v[2], args.cluster.region)
            )
        )
        node_role = self._role(f"{name}-node", "ec2.amazonaws.com", spec.EKS_NODE_POLICIES)
        self.oidc_provider_arn, ebs_role = self._irsa(name, cluster)
        early = [self._addon(name, cluster, a, []) for a in spec.EKS_ADDONS if a.before_nodes]
        self.node_groups = {
            p.name: self._node_group(name, cluster, node_role, vpc, p, early) for p in args.node_pools
        }
        nodes = list(self.node_groups.values())
        self.addons = early + [
            self._addon(name, cluster, a, nodes, ebs_role) for a in spec.EKS_ADDONS if not a.before_nodes
        ]
        self._access_entries(name, cluster)
        self.register_outputs(
            {
                "cluster_name": self.cluster_name,
                "endpoint": self.endpoint,
                "oidc_provider_arn": self.oidc_provider_arn,
            }
        )

    def _role(self, name: str, service: str, policies: tuple[str, ...]) -> aws.iam.Role:
        role = aws.iam.Role(
            name,
            assume_role_policy=spec.assume_role_policy(service),
            opts=pulumi.ResourceOptions(parent=self),
        )
        for i, policy in enumerate(policies):
            aws.iam.RolePolicyAttachment(
                f"{name}-{i}", role=role.name, policy_arn=policy, opts=pulumi.ResourceOptions(parent=self)
            )
        return role

    def _control_plane(self, name: str, vpc: Vpc) -> aws.eks.Cluster:
        c = self._args.cluster
        role = self._role(f"{name}-control-plane", "eks.amazonaws.com", (spec.EKS_CLUSTER_POLICY,))
        # EKS creates this group itself, without retention, unless it exists first.
        logs = aws.cloudwatch.LogGroup(
            f"{name}-control-plane-logs",
            name=spec.control_plane_log_group(c),
            retention_in_days=c.log_retention_days,
            opts=pulumi.ResourceOptions(parent=self),
        )
        public = bool(c.public_access_cidrs)  # none listed: the API is reachable from inside the VPC only
        return aws.eks.Cluster(
            name,
            name=c.name,
            version=c.kubernetes_version,
            role_arn=role.arn,
            vpc_config=aws.eks.ClusterVpcConfigArgs(
                subnet_ids=[*vpc.private_subnet_ids, *vpc.public_subnet_ids],
                endpoint_private_access=True,
                endpoint_public_access=public,
                public_access_cidrs=[str(cidr) for cidr in c.public_access_cidrs] if public else None,
            ),
            # Access entries instead of the aws-auth ConfigMap; whoever runs `pulumi up` becomes admin.
            access_config=aws.eks.ClusterAccessConfigArgs(
                authentication_mode="API", bootstrap_cluster_creator_admin_permissions=True
            ),
            enabled_cluster_log_types=list(spec.CONTROL_PLANE_LOG_TYPES),
            # Deleting the cluster deletes every workload and volume on it: `pulumi state unprotect` first.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[logs], protect=True),
        )

    def _addon(
        self,
        name: str,
        cluster: aws.eks.Cluster,
        addon: spec.ManagedAddon,
        after: Sequence[pulumi.Resource],
        role: aws.iam.Role | None = None,
    ) -> aws.eks.Addon:
        return aws.eks.Addon(
            f"{name}-{addon.name}",
            cluster_name=cluster.name,
            addon_name=addon.name,
            configuration_values=json.dumps(addon.configuration) if addon.configuration else None,
            service_account_role_arn=role.arn if role is not None else None,
            # The add-on's settings are ours: overwrite what a console edit changed.
            resolve_conflicts_on_create="OVERWRITE",
            resolve_conflicts_on_update="OVERWRITE",
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(after)),
        )

    def _node_group(
        self,
        name: str,
        cluster: aws.eks.Cluster,
        role: aws.iam.Role,
        vpc: Vpc,
        pool: NodePool,
        after: list[aws.eks.Addon],
    ) -> aws.eks.NodeGroup:
        return aws.eks.NodeGroup(
            f"{name}-{pool.name}",
            cluster_name=cluster.name,
            node_group_name_prefix=spec.node_group_name_prefix(pool),
            node_role_arn=role.arn,
            subnet_ids=vpc.private_subnet_ids,
            instance_types=list(pool.instance_types),
            capacity_type=pool.capacity_type,
            ami_type=spec.node_group_ami(pool),
            disk_size=pool.disk_size_gib,
            labels=pool.node_labels(),
            taints=[aws.eks.NodeGroupTaintArgs(**t) for t in spec.node_group_taints(pool)],
            scaling_config=aws.eks.NodeGroupScalingConfigArgs(
                min_size=pool.min_size, desired_size=pool.desired_size, max_size=pool.max_size
            ),
            # Only the first apply sets the size; afterwards the cluster autoscaler owns it. Protected against
            # deletion; a deliberate replacement (unprotect that one group first) creates the new group
            # before deleting the old, which the name prefix allows.
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=after,
                ignore_changes=["scalingConfig.desiredSize"],
                protect=True,
                delete_before_replace=False,
            ),
        )

    def _irsa(self, name: str, cluster: aws.eks.Cluster) -> tuple[pulumi.Output[str], aws.iam.Role]:
        issuer = cluster.identities.apply(_issuer)
        provider = aws.iam.OpenIdConnectProvider(
            f"{name}-oidc",
            url=issuer,
            client_id_lists=["sts.amazonaws.com"],
            opts=pulumi.ResourceOptions(parent=self),
        )
        c, a = self._args.cluster, self._args
        self._irsa_role(
            n.bundle_reader_role_name(c),
            provider,
            issuer,
            (a.serving_namespace, n.SERVICE_ACCOUNT),
            spec.bundle_reader_policy(sorted(a.bundle_buckets)),
        )
        self._irsa_role(
            n.autoscaler_role_name(c),
            provider,
            issuer,
            (n.AUTOSCALER_NAMESPACE, n.AUTOSCALER_SERVICE_ACCOUNT),
            spec.cluster_autoscaler_policy(c),
        )
        if a.trainer is not None:
            self._irsa_role(
                n.trainer_role_name(c),
                provider,
                issuer,
                (a.trainer.namespace, n.TRAINER_SERVICE_ACCOUNT),
                spec.trainer_policy(a.trainer.bucket),
            )
        ebs = self._irsa_role(
            f"{c.name}-ebs-csi", provider, issuer, spec.EBS_CSI_SERVICE_ACCOUNT, None, spec.EBS_CSI_POLICY
        )
        return provider.arn, ebs

    def _irsa_role(
        self,
        role_name: str,
        provider: aws.iam.OpenIdConnectProvider,
        issuer: pulumi.Output[str],
        account: tuple[str, str],
        policy: str | None,
        managed_policy: str | None = None,
    ) -> aws.iam.Role:
        """A role that exactly one Kubernetes service account can assume; its name fixes its ARN.

        `policy` is an inline document of ours; `managed_policy` an AWS-maintained one (the EBS CSI
        driver's, which AWS updates with the driver).
        """
        trust = pulumi.Output.all(provider.arn, issuer).apply(
            lambda v: spec.irsa_trust_policy(v[0], v[1], account[0], account[1])
        )
        role = aws.iam.Role(
            role_name, name=role_name, assume_role_policy=trust, opts=pulumi.ResourceOptions(parent=self)
        )
        if policy is not None:
            aws.iam.RolePolicy(
                role_name, role=role.id, policy=policy, opts=pulumi.ResourceOptions(parent=self)
            )
        if managed_policy is not None:
            aws.iam.RolePolicyAttachment(
                role_name, role=role.name, policy_arn=managed_policy, opts=pulumi.ResourceOptions(parent=self)
            )
        return role

    def _access_entries(self, name: str, cluster: aws.eks.Cluster) -> None:
        trainer = self._args.trainer
        grants = spec.cluster_access(
            self._args.cluster,
            trainer.namespace if trainer else None,
            trainer.submitter_arns if trainer else (),
        )
        for grant in grants:
            scope = (
                aws.eks.AccessPolicyAssociationAccessScopeArgs(
                    type="namespace", namespaces=list(grant.namespaces)
                )
                if grant.namespaces
                else aws.eks.AccessPolicyAssociationAccessScopeArgs(type="cluster")
            )
            self._access(f"{name}-{grant.name}", cluster, grant.principal_arn, grant.policy_arn, scope)

    def _access(
        self,
        name: str,
        cluster: aws.eks.Cluster,
        principal: str,
        policy: str,
        scope: aws.eks.AccessPolicyAssociationAccessScopeArgs,
    ) -> None:
        entry = aws.eks.AccessEntry(
            name, cluster_name=cluster.name, principal_arn=principal, opts=pulumi.ResourceOptions(parent=self)
        )
        aws.eks.AccessPolicyAssociation(
            name,
            cluster_name=cluster.name,
            principal_arn=principal,
            policy_arn=policy,
            access_scope=scope,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[entry]),
        )
