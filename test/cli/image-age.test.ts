/**
 * The expiry warning (issue 17): `status` and `list` say when a cluster's image is older than its
 * channel's newest or deprecated by AWS, with the date and the command to run. Through the real CLI
 * against moto with the Flatcar image fixture; the deprecation times are Flatcar's (the publisher's)
 * state, given to the emulator by pandacluster_moto's image-deprecation fix.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ListResult, StatusResult } from "../../src/lifecycle/types.js";
import { worldPerFile } from "../lifecycle/e2e.js";

const NEWEST_STABLE = "ami-84380cf42e2ae29d6"; // Flatcar-stable-4230.2.3-hvm
const OLDER_STABLE = "ami-fa0d1c89df5ae07f8"; // Flatcar-stable-4152.2.3-hvm
const DEPRECATED_STABLE = "ami-3dea0b44311457889"; // Flatcar-stable-4081.2.0-hvm

const world = worldPerFile({
  env: {
    PANDACLUSTER_MOTO_IMAGE_DEPRECATIONS: JSON.stringify({ [DEPRECATED_STABLE]: "2025-09-10T00:00:00Z" }),
  },
});

async function createWith(name: string, imageId: string): Promise<void> {
  const created = await world.cli(["create", "-n", name, "-k", "k1", "--image-id", imageId]);
  assert.equal(created.code, 0, created.stderr);
}

describe("image expiry warning", () => {
  it("status says nothing about a cluster on the channel's newest image", async () => {
    await createWith("current", NEWEST_STABLE);
    const { json } = await world.cliJson<StatusResult>(["status", "-n", "current"]);
    assert.equal(json.image?.image_id, NEWEST_STABLE);
    assert.equal(json.image?.warning, null);
    assert.equal(json.image?.newer, null);
    const text = await world.cli(["status", "-n", "current"]);
    assert.doesNotMatch(text.stdout, /Warning/);
  });

  it("status names the newer image, the removal date and the upgrade command for an older one", async () => {
    await createWith("older", OLDER_STABLE);
    const { json } = await world.cliJson<StatusResult>(["status", "-n", "older"]);
    assert.equal(json.image?.newer?.image_id, NEWEST_STABLE);
    assert.equal(json.image?.image_name, "Flatcar-stable-4152.2.3-hvm");
    // Created 2025-05-14: Flatcar removes images about 270 days after release.
    assert.equal(json.image?.expected_removal?.slice(0, 10), "2026-02-08");
    assert.match(json.image?.warning ?? "", /older than the channel's newest, Flatcar-stable-4230\.2\.3-hvm/);
    assert.equal(json.image?.command, "pandacluster upgrade -n older -r us-east-1");
    const text = await world.cli(["status", "-n", "older"]);
    assert.match(
      text.stdout,
      /Warning: image ami-fa0d1c89df5ae07f8 .* pandacluster upgrade -n older -r us-east-1/,
    );
  });

  it("status and list put a deprecation by AWS first, with its date", async () => {
    await createWith("stale", DEPRECATED_STABLE);
    await createWith("fresh", NEWEST_STABLE);
    const { json } = await world.cliJson<StatusResult>(["status", "-n", "stale"]);
    assert.equal(json.image?.deprecated_at, "2025-09-10T00:00:00.000Z");
    assert.match(json.image?.warning ?? "", /was deprecated by AWS on 2025-09-10/);
    // The AWS CLI sees the same deprecation time the warning gives.
    const seen = await world.aws<{ Images: { DeprecationTime?: string }[] }>([
      "ec2",
      "describe-images",
      "--image-ids",
      DEPRECATED_STABLE,
    ]);
    assert.equal(seen.Images[0]?.DeprecationTime, json.image?.deprecated_at);

    const listed = await world.cliJson<ListResult>(["list"]);
    const byName = new Map(listed.json.clusters.map((c) => [c.stack_name, c]));
    assert.match(
      byName.get("stale")?.image_warning ?? "",
      /deprecated by AWS on 2025-09-10.*upgrade -n stale/,
    );
    assert.equal(byName.get("fresh")?.image_warning, null);
    const text = await world.cli(["list"]);
    assert.match(text.stdout, /Image warnings:\n {2}stale: image ami-3dea0b44311457889/);
    assert.doesNotMatch(text.stdout, /fresh: image/);
  });

  it("an image that no longer exists is the most urgent warning", async () => {
    await createWith("orphan", OLDER_STABLE);
    await world.aws(["ec2", "deregister-image", "--image-id", OLDER_STABLE]);
    const { json } = await world.cliJson<StatusResult>(["status", "-n", "orphan"]);
    assert.equal(json.image?.gone, true);
    assert.match(json.image?.warning ?? "", /no longer exists in us-east-1: .*cannot launch a replacement/);
  });
});
