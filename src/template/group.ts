import { MAX_ZONES, subnetRefs, subnets } from "./network.js";
import { type CfnValue, clusterTags, getAtt, ref, type TemplatePart } from "./types.js";

/** The two kinds of node: etcd members (bootstrapped from the discovery URL) and the rest. */
export type Role = "controller" | "worker";

/** Tag each group (and, propagated, each instance) carries: which kind of node it holds. */
export const ROLE_TAG = "pandacluster:role";

/** The logical ids of each role's group and launch template, and the parameter sizing it. */
export const ROLES: Record<Role, { group: string; launchTemplate: string; size: string }> = {
  controller: { group: "AutoScalingGroup", launchTemplate: "LaunchTemplate", size: "ClusterSize" },
  worker: { group: "WorkerGroup", launchTemplate: "WorkerLaunchTemplate", size: "Workers" },
};

/**
 * A role's Auto Scaling group: exactly its size parameter's count of instances across the subnets,
 * launched from the role's launch template's latest version, tagged Name, pandacluster:cluster and
 * pandacluster:role (propagated to the instances). Controllers: ClusterSize, fixed at bootstrap
 * (etcd's membership); workers: Workers, changed by `scale` through UpdateStack (which updates the
 * group in place). It waits for the route to the internet: the nodes reach the etcd discovery
 * service and the Docker registry at boot.
 */
export function group(role: Role = "controller", zones: number = MAX_ZONES): TemplatePart {
  const { group: name, launchTemplate, size: sizeParameter } = ROLES[role];
  const size = ref(sizeParameter);
  const tags: CfnValue[] = [
    ...clusterTags(role === "worker" ? "-worker" : ""),
    { Key: ROLE_TAG, Value: role },
  ];
  return {
    resources: {
      [name]: {
        Type: "AWS::AutoScaling::AutoScalingGroup",
        DependsOn: ["PublicRoute", ...subnets(zones).map((s) => `${s.name}RouteTableAssociation`)],
        Properties: {
          LaunchTemplate: {
            LaunchTemplateId: ref(launchTemplate),
            Version: getAtt(launchTemplate, "LatestVersionNumber"),
          },
          MinSize: size,
          MaxSize: size,
          DesiredCapacity: size,
          VPCZoneIdentifier: subnetRefs(zones),
          Tags: tags.map((tag) => ({ ...(tag as object), PropagateAtLaunch: true })),
        },
      },
    },
  };
}
