import { SUBNETS } from "./network.js";
import { groupId } from "./security.js";
import { type CfnOutput, ref } from "./types.js";

/** What the stack reports once created: `create`, `status` and `destroy` read these. */
export function outputs(): Record<string, CfnOutput> {
  return {
    VpcId: { Description: "the cluster's VPC", Value: ref("VPC") },
    SubnetIds: {
      Description: "the cluster's subnets, comma-separated",
      Value: { "Fn::Join": [",", SUBNETS.map((s) => ref(s.name))] },
    },
    ControllerSecurityGroupId: {
      Description: "the controllers' security group",
      Value: groupId("controller"),
    },
    WorkerSecurityGroupId: { Description: "the workers' security group", Value: groupId("worker") },
    AutoScalingGroupName: {
      Description: "the controllers' Auto Scaling group (etcd members)",
      Value: ref("AutoScalingGroup"),
    },
    WorkerGroupName: { Description: "the workers' Auto Scaling group", Value: ref("WorkerGroup") },
  };
}
