import type { EC2Client } from "@aws-sdk/client-ec2";
import { UsageError } from "../errors.js";
import { shellQuote } from "../shell.js";
import { awsFailure } from "./errors.js";
import { sdk } from "./sdk.js";

export interface KeyPairInfo {
  key_name: string;
  key_pair_id: string | null;
  key_type: string | null;
}

/**
 * The key pair must exist before anything is created: a stack launched with a missing key pair
 * fails minutes later, halfway built. One DescribeKeyPairs lists them all, so the error can name
 * the ones that do exist.
 */
export async function checkKeyPair(ec2: EC2Client, name: string, region: string): Promise<KeyPairInfo> {
  const { DescribeKeyPairsCommand } = sdk.ec2();
  let pairs: { KeyName?: string; KeyPairId?: string; KeyType?: string }[];
  try {
    pairs = (await ec2.send(new DescribeKeyPairsCommand({}))).KeyPairs ?? [];
  } catch (error) {
    throw awsFailure(`listing the EC2 key pairs in ${region}`, error);
  }
  const found = pairs.find((p) => p.KeyName === name);
  if (found) {
    return { key_name: name, key_pair_id: found.KeyPairId ?? null, key_type: found.KeyType ?? null };
  }
  const names = pairs.map((p) => p.KeyName).filter((n): n is string => Boolean(n));
  const existing =
    names.length > 0 ? `the key pairs there are: ${names.sort().join(", ")}` : "there are none";
  throw new UsageError([
    {
      argument: "key_pair",
      message:
        `no EC2 key pair named "${name}" in ${region} (${existing}); ` +
        `import yours with: aws ec2 import-key-pair --region ${shellQuote(region)} --key-name ${shellQuote(name)} ` +
        "--public-key-material fileb://~/.ssh/id_ed25519.pub",
    },
  ]);
}
