import { clusterTags, ref, type TemplatePart } from "./types.js";

/** The cluster's subnets, one per availability zone (the region's first AZs, picked by Fn::GetAZs). */
export const SUBNETS = [
  { name: "SubnetA", az: 0, cidr: "10.0.0.0/20" },
  { name: "SubnetB", az: 1, cidr: "10.0.16.0/20" },
] as const;

/**
 * The cluster's own network: a VPC (DNS support and host names on, as Route 53 private zones need),
 * public subnets in different availability zones, an internet gateway and a route to it.
 * Two subnets, because some regions offer an account only two zones.
 */
export function network(): TemplatePart {
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
  for (const subnet of SUBNETS) {
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
export const subnetRefs = () => SUBNETS.map((s) => ref(s.name));
