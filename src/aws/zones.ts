import type { EC2Client } from "@aws-sdk/client-ec2";
import { sdk } from "./sdk.js";

/**
 * How many availability zones the region offers this account (zone type availability-zone, state
 * available: not Local Zones or Wavelength Zones, which a cluster's subnets must not land in). The
 * template is built for this many, at most three: CloudFormation itself cannot count them.
 */
export async function availabilityZoneCount(ec2: EC2Client): Promise<number> {
  const { DescribeAvailabilityZonesCommand } = sdk.ec2();
  const answer = await ec2.send(
    new DescribeAvailabilityZonesCommand({
      Filters: [
        { Name: "zone-type", Values: ["availability-zone"] },
        { Name: "state", Values: ["available"] },
      ],
    }),
  );
  return (answer.AvailabilityZones ?? []).length;
}
