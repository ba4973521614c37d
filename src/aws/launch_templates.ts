import type { EC2Client } from "@aws-sdk/client-ec2";
import { sdk } from "./sdk.js";

/**
 * The user data of a launch template's newest version, as EC2 holds it (base64-decoded bytes), or
 * undefined when it has none: one DescribeLaunchTemplateVersions.
 */
export async function latestUserData(ec2: EC2Client, launchTemplateId: string): Promise<Buffer | undefined> {
  const { DescribeLaunchTemplateVersionsCommand } = sdk.ec2();
  const answer = await ec2.send(
    new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateId: launchTemplateId, Versions: ["$Latest"] }),
  );
  const data = answer.LaunchTemplateVersions?.[0]?.LaunchTemplateData?.UserData;
  return data ? Buffer.from(data, "base64") : undefined;
}
