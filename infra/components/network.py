"""VPC for an EKS cluster: private subnets for nodes, public ones for the NAT gateway and load balancers."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.settings.cluster import EksCluster
from infra.specs.aws import subnet_layout, subnet_tags


@dataclass(frozen=True)
class VpcArgs:
    cluster: EksCluster


class Vpc(pulumi.ComponentResource):
    vpc_id: pulumi.Output[str]
    private_subnet_ids: list[pulumi.Output[str]]
    public_subnet_ids: list[pulumi.Output[str]]

    def __init__(self, name: str, args: VpcArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("rankship:aws:Vpc", name, None, opts)
        cluster = args.cluster
        vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=str(cluster.vpc_cidr),
            enable_dns_hostnames=True,  # EKS nodes register by their private DNS names
            enable_dns_support=True,
            tags={"Name": cluster.name},
            # Everything in the cluster lives in it: `pulumi state unprotect` before a deliberate delete.
            opts=pulumi.ResourceOptions(parent=self, protect=True),
        )
        self.vpc_id = vpc.id
        layout = subnet_layout(cluster)
        public = [self._subnet(name, cluster, z.zone, str(z.public), vpc, public=True) for z in layout]
        private = [self._subnet(name, cluster, z.zone, str(z.private), vpc, public=False) for z in layout]
        self._route_public(name, vpc, public)
        self._route_private(name, cluster, vpc, public[0], private)
        self.public_subnet_ids = [s.id for s in public]
        self.private_subnet_ids = [s.id for s in private]
        self.register_outputs(
            {
                "vpc_id": self.vpc_id,
                "private_subnet_ids": self.private_subnet_ids,
                "public_subnet_ids": self.public_subnet_ids,
            }
        )

    def _subnet(
        self, name: str, cluster: EksCluster, zone: str, cidr: str, vpc: aws.ec2.Vpc, public: bool
    ) -> aws.ec2.Subnet:
        kind = "public" if public else "private"
        return aws.ec2.Subnet(
            f"{name}-{kind}-{zone}",
            vpc_id=vpc.id,
            cidr_block=cidr,
            availability_zone=zone,
            map_public_ip_on_launch=public,
            tags={"Name": f"{cluster.name}-{kind}-{zone}", **subnet_tags(cluster, public)},
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _route_public(self, name: str, vpc: aws.ec2.Vpc, subnets: list[aws.ec2.Subnet]) -> None:
        child = pulumi.ResourceOptions(parent=self)
        gateway = aws.ec2.InternetGateway(f"{name}-igw", vpc_id=vpc.id, opts=child)
        table = aws.ec2.RouteTable(
            f"{name}-public",
            vpc_id=vpc.id,
            routes=[aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", gateway_id=gateway.id)],
            opts=child,
        )
        for i, subnet in enumerate(subnets):
            aws.ec2.RouteTableAssociation(
                f"{name}-public-{i}", subnet_id=subnet.id, route_table_id=table.id, opts=child
            )

    def _route_private(
        self,
        name: str,
        cluster: EksCluster,
        vpc: aws.ec2.Vpc,
        nat_subnet: aws.ec2.Subnet,
        subnets: list[aws.ec2.Subnet],
    ) -> None:
        # One NAT gateway, not one per zone: node egress (image pulls) then depends on one zone, at a third of
        # the cost; a NAT per zone is the upgrade path for stricter stacks.
        child = pulumi.ResourceOptions(parent=self)
        eip = aws.ec2.Eip(f"{name}-nat", domain="vpc", opts=child)
        nat = aws.ec2.NatGateway(f"{name}-nat", allocation_id=eip.id, subnet_id=nat_subnet.id, opts=child)
        table = aws.ec2.RouteTable(
            f"{name}-private",
            vpc_id=vpc.id,
            routes=[aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", nat_gateway_id=nat.id)],
            opts=child,
        )
        for i, subnet in enumerate(subnets):
            aws.ec2.RouteTableAssociation(
                f"{name}-private-{i}", subnet_id=subnet.id, route_table_id=table.id, opts=child
            )
        # S3 through a gateway endpoint: bundle downloads skip the NAT (no data processing charge).
        aws.ec2.VpcEndpoint(
            f"{name}-s3",
            vpc_id=vpc.id,
            service_name=f"com.amazonaws.{cluster.region}.s3",
            vpc_endpoint_type="Gateway",
            route_table_ids=[table.id],
            opts=child,
        )
