import { SUBNETS } from "./network.js";
import { securityGroupId } from "./security.js";
import { type CfnOutput, type CfnParameter, ref } from "./types.js";

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
      Value: securityGroupId("controller"),
    },
    WorkerSecurityGroupId: { Description: "the workers' security group", Value: securityGroupId("worker") },
    AutoScalingGroupName: {
      Description: "the controllers' Auto Scaling group (etcd members)",
      Value: ref("AutoScalingGroup"),
    },
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
