import { groupId, PRIVATE_ZONE } from "./etcd/slots.js";
import { MAX_ZONES, subnets } from "./network.js";
import { type CfnOutput, getAtt, ref } from "./types.js";

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
    SecurityGroupId: { Description: "the nodes' security group", Value: getAtt("SecurityGroup", "GroupId") },
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
