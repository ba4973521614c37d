import { groupId, PRIVATE_ZONE } from "./etcd/slots.js";
import { MAX_ZONES, subnets } from "./network.js";
import { securityGroupId } from "./security.js";
import { type CfnOutput, type CfnParameter, ref } from "./types.js";

/**
 * What the stack reports once created: `create`, `status` and `destroy` read these. `controllers`:
 * the number of static slots (undefined: the discovery mode's one controller group).
 */
export function outputs(zones: number = MAX_ZONES, controllers?: number): Record<string, CfnOutput> {
  return {
    VpcId: { Description: "the cluster's VPC", Value: ref("VPC") },
    SubnetIds: {
      Description: "the cluster's subnets, comma-separated",
      Value: { "Fn::Join": [",", subnets(zones).map((s) => ref(s.name))] },
    },
    ControllerSecurityGroupId: {
      Description: "the controllers' security group",
      Value: securityGroupId("controller"),
    },
    WorkerSecurityGroupId: { Description: "the workers' security group", Value: securityGroupId("worker") },
    ...(controllers === undefined
      ? {
          AutoScalingGroupName: {
            Description: "the controllers' Auto Scaling group (etcd members)",
            Value: ref("AutoScalingGroup"),
          },
        }
      : {
          ControllerGroupNames: {
            Description: "the controllers' Auto Scaling groups, slot 1 first (one etcd member each)",
            Value: { "Fn::Join": [",", Array.from({ length: controllers }, (_, i) => ref(groupId(i + 1)))] },
          },
          PrivateZoneId: { Description: "the cluster's private hosted zone", Value: ref(PRIVATE_ZONE) },
        }),
    WorkerGroupName: { Description: "the workers' Auto Scaling group", Value: ref("WorkerGroup") },
  };
}

/**
 * Outputs that repeat parameters, for whoever deployed the template by hand: the private zone and
 * the discovery URL, when the template has them. They also keep those parameters in use where the
 * boot config has the value written in (create knows the zone; a gzipped cloud-config holds the
 * URL), which cfn-lint would otherwise flag (W2001, unused parameter).
 */
export function parameterOutputs(parameters: Record<string, CfnParameter>): Record<string, CfnOutput> {
  const echoed: Record<string, string> = {
    PrivateDomain: "the cluster's private DNS zone",
    DiscoveryURL: "the etcd discovery URL the controllers bootstrap from",
  };
  return Object.fromEntries(
    Object.entries(echoed)
      .filter(([name]) => Object.hasOwn(parameters, name))
      .map(([name, description]) => [name, { Description: description, Value: ref(name) }]),
  );
}
