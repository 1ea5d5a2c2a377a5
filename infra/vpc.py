"""The functions in a VPC — opt-in (issue 22; docs/pipeline.md, "VPC").

Off by default: AWS's Lambda guidance is that a VPC brings no benefit unless a function must reach
resources inside one, and the functions need the internet (BLS, DataUSA), so a VPC costs a NAT gateway
(about $33 a month plus $0.045 per GB in us-east-1).

- `-c vpc=true`: a new VPC over two zones: public subnets (the NAT gateway only), private subnets with
  egress for the functions, one NAT gateway, an S3 gateway endpoint (free; S3 traffic stays off the NAT),
  flow logs to CloudWatch Logs (rejected and accepted traffic, one year).
- `-c vpc_id=vpc-… -c subnet_ids=subnet-a,subnet-b`: an existing VPC; the subnets must have a route to
  the internet (NAT) and, ideally, to S3 through a gateway endpoint.
Either way the functions get one security group (no ingress; egress HTTPS and HTTP to anywhere: BLS and
DataUSA; HTTPS covers the AWS APIs) and their roles the network-interface permissions Lambda needs.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Fn, RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from cdk_nag import NagSuppressions
from constructs import Construct

FLOW_LOG_RETENTION = logs.RetentionDays.ONE_YEAR
# What AWSLambdaVPCAccessExecutionRole grants: Lambda creates and deletes the functions' network interfaces.
ENI_ACTIONS = ["ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DeleteNetworkInterface",
               "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"]


@dataclass(frozen=True)
class NetworkOptions:
    """From CDK context: `vpc=true`, or `vpc_id` + `subnet_ids` (comma-separated)."""

    new_vpc: bool = False
    vpc_id: str | None = None
    subnet_ids: tuple[str, ...] = ()

    @property
    def enabled(self) -> bool:
        return self.new_vpc or self.vpc_id is not None

    @classmethod
    def from_context(cls, scope: Construct) -> NetworkOptions:
        new_vpc = str(scope.node.try_get_context("vpc") or "false").lower() in ("1", "true", "yes")
        vpc_id = scope.node.try_get_context("vpc_id") or None
        subnets = tuple(s.strip() for s in str(scope.node.try_get_context("subnet_ids") or "").split(",") if s.strip())
        if new_vpc and vpc_id:
            raise ValueError("context: give either vpc=true (a new VPC) or vpc_id (an existing one), not both")
        if vpc_id and len(subnets) < 1:
            raise ValueError("context 'vpc_id' needs 'subnet_ids' (private subnets with a route to the internet)")
        if subnets and not vpc_id:
            raise ValueError("context 'subnet_ids' needs 'vpc_id'")
        return cls(new_vpc=new_vpc, vpc_id=vpc_id, subnet_ids=subnets)


class FunctionNetwork(Construct):
    """The VPC (new or existing), the functions' subnets and security group."""

    def __init__(self, scope: Construct, construct_id: str, options: NetworkOptions) -> None:
        super().__init__(scope, construct_id)
        if options.new_vpc:
            self.vpc: ec2.IVpc = self._new_vpc()
            self.subnet_ids = list(self.vpc.select_subnets(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS).subnet_ids)
        else:
            assert options.vpc_id
            self.vpc = ec2.Vpc.from_vpc_attributes(self, "Existing", vpc_id=options.vpc_id,
                                                   availability_zones=Fn.get_azs())
            self.subnet_ids = list(options.subnet_ids)
        self.security_group = ec2.SecurityGroup(self, "Functions", vpc=self.vpc, allow_all_outbound=False,
                                                description="bls-pipeline functions: outbound HTTP(S) only")
        self.security_group.add_egress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "HTTPS: sources and AWS APIs")
        self.security_group.add_egress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(80), "HTTP: sources that redirect")

    def _new_vpc(self) -> ec2.Vpc:
        flow_logs = logs.LogGroup(self, "FlowLogs", retention=FLOW_LOG_RETENTION, removal_policy=RemovalPolicy.RETAIN)
        return ec2.Vpc(
            self, "Vpc",
            max_azs=2,
            nat_gateways=1,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24),
                ec2.SubnetConfiguration(name="functions", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS,
                                        cidr_mask=22),
            ],
            gateway_endpoints={"S3": ec2.GatewayVpcEndpointOptions(service=ec2.GatewayVpcEndpointAwsService.S3)},
            flow_logs={"All": ec2.FlowLogOptions(destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_logs),
                                                 traffic_type=ec2.FlowLogTrafficType.ALL)},
            restrict_default_security_group=True,
        )

    def vpc_config(self) -> dict[str, list[str]]:
        """The `VpcConfig` of a function."""
        return {"SecurityGroupIds": [self.security_group.security_group_id], "SubnetIds": self.subnet_ids}

    def allow_network_interfaces(self, role: iam.Role) -> None:
        role.add_to_policy(iam.PolicyStatement(sid="LambdaNetworkInterfaces", actions=ENI_ACTIONS, resources=["*"]))
        NagSuppressions.add_resource_suppressions(role, [{
            "id": "AwsSolutions-IAM5",
            "reason": "Lambda needs these EC2 network-interface actions to attach a function to its VPC; "
                      "they do not support resource-level permissions (the same as AWSLambdaVPCAccessExecutionRole).",
            "appliesTo": ["Resource::*"],
        }], apply_to_children=True)
