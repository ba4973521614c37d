/**
 * What a rolling upgrade test watches and stands in for on the paced emulator, shared by the CLI's,
 * the etcd move's and the server's upgrade tests.
 */
import { AutoScalingClient, DescribeAutoScalingGroupsCommand } from "@aws-sdk/client-auto-scaling";
import { CreateTagsCommand, DescribeInstancesCommand, EC2Client } from "@aws-sdk/client-ec2";

const credentials = { accessKeyId: "testing", secretAccessKey: "testing" };

export interface FewestInService {
  controllers: number;
  workers: number;
  samples: number;
}

/**
 * Samples the cluster's groups until stopped (an in-process SDK client: the AWS CLI starts too
 * slowly to sample with); returns the fewest controllers and workers seen in service at one moment.
 */
export function sampleInService(endpoint: string, name: string): { stop(): Promise<FewestInService> } {
  const client = new AutoScalingClient({ endpoint, region: "us-east-1", credentials });
  const fewest = { controllers: Number.POSITIVE_INFINITY, workers: Number.POSITIVE_INFINITY, samples: 0 };
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const answer = await client.send(new DescribeAutoScalingGroupsCommand({}));
      const count = { controllers: 0, workers: 0 };
      for (const group of answer.AutoScalingGroups ?? []) {
        const tag = (key: string) => group.Tags?.find((t) => t.Key === key)?.Value;
        if (tag("pandacluster:cluster") !== name) continue;
        const inService = (group.Instances ?? []).filter((i) => i.LifecycleState === "InService").length;
        count[tag("pandacluster:role") === "worker" ? "workers" : "controllers"] += inService;
      }
      fewest.controllers = Math.min(fewest.controllers, count.controllers);
      fewest.workers = Math.min(fewest.workers, count.workers);
      fewest.samples += 1;
      await new Promise((resolve) => setTimeout(resolve, 150));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      client.destroy();
      return fewest;
    },
  };
}

/**
 * Stands in for the controllers' boot script, which moto does not run: once a controller is
 * running, its etcd member says it is healthy (the pandacluster:etcd-status tag the script writes
 * after joining), a little later, as a real member would once caught up. The roll waits for it.
 */
export function membersReport(endpoint: string): { stop(): Promise<void> } {
  const ec2 = new EC2Client({ endpoint, region: "us-east-1", credentials });
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const seen = await ec2.send(
        new DescribeInstancesCommand({
          Filters: [
            { Name: "tag-key", Values: ["pandacluster:slot"] },
            { Name: "instance-state-name", Values: ["running"] },
          ],
        }),
      );
      const fresh = (seen.Reservations ?? [])
        .flatMap((r) => r.Instances ?? [])
        .filter((i) => !i.Tags?.some((t) => t.Key === "pandacluster:etcd-status"))
        .map((i) => i.InstanceId ?? "");
      if (fresh.length > 0) {
        await new Promise((resolve) => setTimeout(resolve, 300));
        await ec2.send(
          new CreateTagsCommand({
            Resources: fresh,
            Tags: [{ Key: "pandacluster:etcd-status", Value: "healthy: one of 3 voting members" }],
          }),
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      ec2.destroy();
    },
  };
}
