import { clusterTags, ref, type TemplatePart } from "./types.js";

/**
 * The cluster's subnets, one per availability zone (the region's first AZs, picked by Fn::GetAZs):
 * three where the region has three, so that no zone holds a majority of the etcd members. How many
 * a template has is chosen when it is built (`zones`, default 3): CloudFormation cannot count a
 * region's zones (Fn::GetAZs has no length, and Fn::Select past its end fails the stack), so
 * `create` asks EC2 (DescribeAvailabilityZones) and builds for the region's count, at most 3.
 */
export const SUBNETS = [
  { name: "SubnetA", az: 0, cidr: "10.0.0.0/20" },
  { name: "SubnetB", az: 1, cidr: "10.0.16.0/20" },
  { name: "SubnetC", az: 2, cidr: "10.0.32.0/20" },
] as const;

export type Subnet = (typeof SUBNETS)[number];

/** The most zones a cluster spreads over, and the fewest (a region with one zone cannot hold it). */
export const MAX_ZONES = 3;
export const MIN_ZONES = 2;

/** The first `zones` subnets. */
export function subnets(zones: number = MAX_ZONES): Subnet[] {
  return SUBNETS.slice(0, Math.max(MIN_ZONES, Math.min(MAX_ZONES, zones)));
}

/**
 * The cluster's own network: a VPC (DNS support and host names on, as Route 53 private zones need),
 * public subnets in `zones` availability zones, an internet gateway and a route to it.
 */
export function network(zones: number = MAX_ZONES): TemplatePart {
  const resources: TemplatePart["resources"] = {
    VPC: {
      Type: "AWS::EC2::VPC",
      Properties: {
        CidrBlock: "10.0.0.0/16",
        EnableDnsSupport: true,
        EnableDnsHostnames: true,
        Tags: clusterTags(),
      },
    },
    InternetGateway: {
      Type: "AWS::EC2::InternetGateway",
      Properties: { Tags: clusterTags() },
    },
    GatewayAttachment: {
      Type: "AWS::EC2::VPCGatewayAttachment",
      Properties: { VpcId: ref("VPC"), InternetGatewayId: ref("InternetGateway") },
    },
    RouteTable: {
      Type: "AWS::EC2::RouteTable",
      Properties: { VpcId: ref("VPC"), Tags: clusterTags() },
    },
    PublicRoute: {
      Type: "AWS::EC2::Route",
      DependsOn: "GatewayAttachment",
      Properties: {
        RouteTableId: ref("RouteTable"),
        DestinationCidrBlock: "0.0.0.0/0",
        GatewayId: ref("InternetGateway"),
      },
    },
  };
  for (const subnet of subnets(zones)) {
    resources[subnet.name] = {
      Type: "AWS::EC2::Subnet",
      Properties: {
        VpcId: ref("VPC"),
        CidrBlock: subnet.cidr,
        // Fn::GetAZs "" is the stack's own region.
        AvailabilityZone: { "Fn::Select": [subnet.az, { "Fn::GetAZs": "" }] },
        MapPublicIpOnLaunch: true,
        Tags: clusterTags(`-${subnet.name.slice(-1).toLowerCase()}`),
      },
    };
    resources[`${subnet.name}RouteTableAssociation`] = {
      Type: "AWS::EC2::SubnetRouteTableAssociation",
      Properties: { SubnetId: ref(subnet.name), RouteTableId: ref("RouteTable") },
    };
  }
  return { resources };
}

/** The subnets' ids, for the Auto Scaling group. */
export const subnetRefs = (zones: number = MAX_ZONES) => subnets(zones).map((s) => ref(s.name));
