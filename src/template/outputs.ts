import { SUBNETS } from "./network.js";
import { groupId } from "./security.js";
import { type CfnOutput, ref } from "./types.js";

/**
 * What the stack reports once created: `create`, `status` and `destroy` read these. PrivateDomain
 * and DiscoveryURL repeat two parameters for whoever deployed the template by hand; they also keep
 * both parameters in use where the boot config has the value written in (create knows the zone, and
 * a gzipped cloud-config holds the URL), which cfn-lint would otherwise flag (W2001).
 */
export function outputs(): Record<string, CfnOutput> {
  return {
    PrivateDomain: {
      Description: "the cluster's private DNS zone: workers reach etcd at the name etcd in it",
      Value: ref("PrivateDomain"),
    },
    DiscoveryURL: {
      Description: "the etcd discovery URL the controllers bootstrap from",
      Value: ref("DiscoveryURL"),
    },
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
