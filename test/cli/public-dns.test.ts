/**
 * Ownership of the public DNS names this tool writes (issue 14, High 4): two clusters named alike in
 * two regions with one public_domain share <name>.<domain>. The second is refused up front (exit 2)
 * naming the first (the caller's credentials can see it); a name another cluster owns is never
 * overwritten nor deleted. moto (pandacluster_moto fixes), a local discovery service, the AWS CLI.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { EC2Client, ImportKeyPairCommand } from "@aws-sdk/client-ec2";
import type { ClusterResult } from "../../src/lifecycle/types.js";
import { PUBLIC_KEY, worldPerFile } from "../lifecycle/e2e.js";

const world = worldPerFile();

type Sets = { ResourceRecordSets: { Name: string; Type: string; ResourceRecords?: { Value: string }[] }[] };

/** web.example.com's A and TXT values as the AWS CLI lists them. */
async function held(zoneId: string): Promise<{ a: string[]; txt: string[] }> {
  const sets = await world.aws<Sets>(["route53", "list-resource-record-sets", "--hosted-zone-id", zoneId]);
  const of = (type: string) =>
    sets.ResourceRecordSets.filter((s) => s.Name === "web.example.com." && s.Type === type)
      .flatMap((s) => (s.ResourceRecords ?? []).map((r) => r.Value))
      .sort();
  return { a: of("A"), txt: of("TXT") };
}

describe("public DNS names carry their owner (TXT), like external-dns", () => {
  it("web in us-east-1 and web in us-west-2 with one public domain: the second is refused (exit 2), the first's name is never overwritten or deleted", async () => {
    const west = new EC2Client({
      endpoint: world.moto.endpoint,
      region: "us-west-2",
      credentials: { accessKeyId: "testing", secretAccessKey: "testing" },
    });
    await west.send(new ImportKeyPairCommand({ KeyName: "k1", PublicKeyMaterial: Buffer.from(PUBLIC_KEY) }));
    west.destroy();
    const zone = await world.aws<{ HostedZone: { Id: string } }>([
      "route53",
      "create-hosted-zone",
      "--name",
      "example.com",
      "--caller-reference",
      `public-dns-${Date.now()}`,
    ]);
    const zoneId = zone.HostedZone.Id.replace("/hostedzone/", "");

    const first = await world.cliJson<ClusterResult>([
      "create",
      "-n",
      "web",
      "-k",
      "k1",
      "-s",
      "3",
      "-r",
      "us-east-1",
      "--public-domain",
      "example.com",
    ]);
    assert.equal(first.run.code, 0, first.run.stderr);
    const owned = await held(zoneId);
    assert.equal(owned.a.length, 3);
    assert.equal(owned.txt.length, 1);
    assert.match(
      owned.txt[0] as string,
      /^"heritage=pandacluster,pandacluster\/owner=[0-9a-f]{32},pandacluster\/region=us-east-1"$/,
    );
    assert.ok(
      !(owned.txt[0] as string).includes(first.json.cluster.stack_id as string),
      "no StackId in public DNS",
    );

    const second = await world.cli([
      "create",
      "-n",
      "web",
      "-k",
      "k1",
      "-s",
      "3",
      "-r",
      "us-west-2",
      "--public-domain",
      "example.com",
    ]);
    assert.equal(second.code, 2, second.stderr);
    assert.match(
      second.stderr,
      /public_domain: the public name web\.example\.com is already taken by cluster web in us-east-1/,
    );
    const westStacks = await world.aws<{ Stacks: unknown[] }>([
      "cloudformation",
      "describe-stacks",
      "--region",
      "us-west-2",
    ]);
    assert.equal(westStacks.Stacks.length, 0, "nothing created in us-west-2");
    assert.deepEqual(await held(zoneId), owned);

    // Its own name: sync rewrites it in place.
    const synced = await world.cli(["sync", "-n", "web", "-r", "us-east-1"]);
    assert.equal(synced.code, 0, synced.stderr);
    assert.deepEqual(await held(zoneId), owned);

    // The name now held by another cluster (its ownership record says so): sync refuses to overwrite
    // it, and destroy deletes the cluster but leaves that name alone.
    const other =
      '"heritage=pandacluster,pandacluster/owner=00000000000000000000000000000000,pandacluster/region=eu-west-1"';
    await world.aws([
      "route53",
      "change-resource-record-sets",
      "--hosted-zone-id",
      zoneId,
      "--change-batch",
      JSON.stringify({
        Changes: [
          {
            Action: "UPSERT",
            ResourceRecordSet: {
              Name: "web.example.com",
              Type: "TXT",
              TTL: 60,
              ResourceRecords: [{ Value: other }],
            },
          },
          {
            Action: "UPSERT",
            ResourceRecordSet: {
              Name: "web.example.com",
              Type: "A",
              TTL: 60,
              ResourceRecords: [{ Value: "192.0.2.7" }],
            },
          },
        ],
      }),
    ]);
    const foreign = await held(zoneId);
    const refused = await world.cli(["sync", "-n", "web", "-r", "us-east-1"]);
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(
      refused.stderr + refused.stdout,
      /web\.example\.com is another cluster's, not web's: not overwritten/,
    );
    assert.deepEqual(await held(zoneId), foreign);
    const destroyed = await world.cliJson<{ status: string; removed: string[] }>([
      "destroy",
      "-n",
      "web",
      "-r",
      "us-east-1",
    ]);
    assert.equal(destroyed.run.code, 0, destroyed.run.stderr);
    assert.ok(
      !destroyed.json.removed.some((r) => r.startsWith("public record")),
      destroyed.json.removed.join(", "),
    );
    assert.deepEqual(await held(zoneId), foreign, "another cluster's name is not deleted");
  });
});
