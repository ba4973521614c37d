import { SUBNETS, subnetRefs } from "./network.js";
import { clusterTags, getAtt, ref, type TemplatePart } from "./types.js";

/**
 * The nodes: an Auto Scaling group of exactly ClusterSize instances across the subnets, launched from
 * the launch template's latest version, tagged Name and pandacluster:cluster (propagated to the
 * instances, which is how the tool finds its nodes). It waits for the route to the internet: the
 * nodes reach the etcd discovery service and the Docker registry at boot.
 */
export function group(): TemplatePart {
  const size = ref("ClusterSize");
  return {
    resources: {
      AutoScalingGroup: {
        Type: "AWS::AutoScaling::AutoScalingGroup",
        DependsOn: ["PublicRoute", ...SUBNETS.map((s) => `${s.name}RouteTableAssociation`)],
        Properties: {
          LaunchTemplate: {
            LaunchTemplateId: ref("LaunchTemplate"),
            Version: getAtt("LaunchTemplate", "LatestVersionNumber"),
          },
          MinSize: size,
          MaxSize: size,
          DesiredCapacity: size,
          VPCZoneIdentifier: subnetRefs(),
          Tags: clusterTags().map((tag) => ({ ...(tag as object), PropagateAtLaunch: true })),
        },
      },
    },
  };
}
