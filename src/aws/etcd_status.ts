import type { EC2Client } from "@aws-sdk/client-ec2";
import { sdk } from "./sdk.js";

/** What one static controller's etcd member said last (its instance tag pandacluster:etcd-status). */
export interface SlotReport {
  slot: number;
  instance_id: string;
  state: string;
  status: string;
}

/**
 * The etcd status each controller of a cluster put on its instance (terminated ones included: EC2
 * still lists them for a while, and a failed creation's reason is on them), slot order.
 */
export async function slotReports(ec2: EC2Client, stackName: string): Promise<SlotReport[]> {
  const { DescribeInstancesCommand } = sdk.ec2();
  const reports: SlotReport[] = [];
  let token: string | undefined;
  do {
    const page = await ec2.send(
      new DescribeInstancesCommand({
        Filters: [
          { Name: "tag:pandacluster:cluster", Values: [stackName] },
          { Name: "tag-key", Values: ["pandacluster:etcd-status"] },
        ],
        NextToken: token,
      }),
    );
    for (const instance of (page.Reservations ?? []).flatMap((r) => r.Instances ?? [])) {
      const tag = (key: string) => instance.Tags?.find((t) => t.Key === key)?.Value;
      const slot = Number(tag("pandacluster:slot"));
      if (!Number.isInteger(slot)) continue;
      reports.push({
        slot,
        instance_id: instance.InstanceId ?? "",
        state: instance.State?.Name ?? "unknown",
        status: tag("pandacluster:etcd-status") ?? "",
      });
    }
    token = page.NextToken;
  } while (token);
  return reports.sort((a, b) => a.slot - b.slot || a.instance_id.localeCompare(b.instance_id));
}
