/**
 * `pandacluster upgrade --etcd-version` (issue 17) through the real CLI on the paced emulator, checked
 * with the AWS CLI: the stack's EtcdVersion parameter moves (its previous template, every other
 * value kept), the controllers' launch template gets the new etcd in its user data, the three
 * controllers are replaced one at a time (never fewer than N-1 in service) although the image does
 * not change, and the workers, whose launch template does not change, are left alone. Refusals
 * (etcd's upgrade rules, a stack whose template has no EtcdVersion, bad values) exit 2.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";
import type { UpgradeResult } from "../../src/lifecycle/types.js";
import { buildTemplate } from "../../src/template/build.js";
import { membersReport, sampleInService } from "../helpers/roll-watch.js";
import { worldPerFile } from "../lifecycle/e2e.js";

const IMAGE = "ami-84380cf42e2ae29d6"; // Flatcar-stable-4230.2.3-hvm, the newest stable of the fixture

const world = worldPerFile({ paceMs: 1500, bootMs: 1500 });
const _credentials = { accessKeyId: "testing", secretAccessKey: "testing" };

interface Instance {
  InstanceId: string;
  ImageId: string;
  Tags?: { Key: string; Value: string }[];
}

/** The live instances of the cluster, as the AWS CLI sees them, by role. */
async function instances(name: string): Promise<{ controllers: Instance[]; workers: Instance[] }> {
  const seen = await world.aws<{ Reservations: { Instances: Instance[] }[] }>([
    "ec2",
    "describe-instances",
    "--filters",
    `Name=tag:pandacluster:cluster,Values=${name}`,
    "Name=instance-state-name,Values=running,pending",
  ]);
  const all = seen.Reservations.flatMap((r) => r.Instances);
  const isController = (i: Instance) => i.Tags?.some((t) => t.Key === "pandacluster:slot") ?? false;
  return { controllers: all.filter(isController), workers: all.filter((i) => !isController(i)) };
}

const tagOf = (i: Instance, key: string) => i.Tags?.find((t) => t.Key === key)?.Value;

async function parameters(name: string): Promise<Record<string, string>> {
  const stack = await world.aws<{
    Stacks: { Parameters: { ParameterKey: string; ParameterValue: string }[] }[];
  }>(["cloudformation", "describe-stacks", "--stack-name", name]);
  return Object.fromEntries(
    (stack.Stacks[0]?.Parameters ?? []).map((p) => [p.ParameterKey, p.ParameterValue]),
  );
}

/** The newest version of the controllers' launch template, its user data decoded (Ignition JSON). */
async function controllerUserData(name: string): Promise<string> {
  const templates = await world.aws<{ LaunchTemplates: { LaunchTemplateId: string; Tags?: unknown }[] }>([
    "ec2",
    "describe-launch-templates",
    "--filters",
    `Name=tag:pandacluster:cluster,Values=${name}`,
  ]);
  for (const t of templates.LaunchTemplates) {
    const got = await world.aws<{ LaunchTemplateVersions: { LaunchTemplateData: { UserData?: string } }[] }>([
      "ec2",
      "describe-launch-template-versions",
      "--launch-template-id",
      t.LaunchTemplateId,
      "--versions",
      "$Latest",
    ]);
    const text = Buffer.from(
      got.LaunchTemplateVersions[0]?.LaunchTemplateData.UserData ?? "",
      "base64",
    ).toString();
    if (text.includes("etcd-member.service")) return text;
  }
  throw new Error(`no controllers' launch template for ${name}`);
}

describe("pandacluster upgrade --etcd-version", () => {
  let members: { stop(): Promise<void> } | undefined;
  beforeEach(() => {
    members = membersReport(world.moto.endpoint);
  });
  afterEach(async () => {
    await members?.stop();
  });

  it("moves EtcdVersion, replaces the 3 controllers one at a time on the same image, leaves the workers alone", async () => {
    const created = await world.cli(
      ["create", "-n", "etcdmv", "-k", "k1", "-s", "3", "--workers", "2", "--image-id", IMAGE],
      { timeoutMs: 180_000 },
    );
    assert.equal(created.code, 0, created.stderr);

    assert.equal((await parameters("etcdmv")).EtcdVersion, "3.5.27", "the build's version by default");
    const before = await instances("etcdmv");
    assert.equal(before.controllers.length, 3);
    assert.equal(before.workers.length, 2);
    for (const c of before.controllers) assert.equal(tagOf(c, "pandacluster:etcd-version"), "3.5.27");
    for (const w of before.workers) assert.equal(tagOf(w, "pandacluster:etcd-version"), undefined);
    assert.match(await controllerUserData("etcdmv"), /ETCD_IMAGE_TAG=v3\.5\.27/);

    // etcd's rules, against the stack's version (3.5.27): a skipped minor is refused, nothing changes.
    const skip = await world.cli(["upgrade", "-n", "etcdmv", "--etcd-version", "3.7.0"]);
    assert.equal(skip.code, 2, skip.stderr);
    assert.match(skip.stderr, /etcd 3\.5\.27 → 3\.7\.0 skips minor version 3\.6: never skip a minor/);
    assert.match(skip.stderr, /etcd\.io\/docs\/latest\/upgrades\/upgrade_3_6/);

    const planned = await world.cliJson<UpgradeResult>([
      "upgrade",
      "-n",
      "etcdmv",
      "--etcd-version",
      "3.6.4",
      "--dry-run",
    ]);
    assert.equal(planned.run.code, 0, planned.run.stderr);
    assert.equal(planned.json.status, "planned");
    assert.equal(planned.json.etcd_from, "3.5.27");
    assert.equal(planned.json.etcd_to, "3.6.4");
    assert.equal(planned.json.image_to, IMAGE, "the image stays");
    assert.equal(planned.json.plan.controllers.length, 3);
    assert.equal(planned.json.plan.workers.length, 0, "the workers' launch template does not change");
    for (const step of planned.json.plan.controllers) {
      assert.equal(step.etcd_from, "3.5.27");
      assert.equal(step.etcd_to, "3.6.4");
    }
    const text = await world.cli(["upgrade", "-n", "etcdmv", "--etcd-version", "3.6.4", "--dry-run"]);
    assert.match(
      text.stdout,
      /dry run: would update stack etcdmv to image ami-84380cf42e2ae29d6 and etcd 3\.5\.27 → 3\.6\.4/,
    );
    assert.match(text.stdout, /etcd +3\.5\.27 → 3\.6\.4/);
    assert.equal((await parameters("etcdmv")).EtcdVersion, "3.5.27", "the dry run changed nothing");

    const sampler = sampleInService(world.moto.endpoint, "etcdmv");
    const upgraded = await world.cliJson<UpgradeResult>(
      ["upgrade", "-n", "etcdmv", "--etcd-version", "3.6.4"],
      {
        timeoutMs: 300_000,
      },
    );
    const fewest = await sampler.stop();
    assert.equal(upgraded.run.code, 0, upgraded.run.stderr);
    assert.equal(upgraded.json.status, "success", upgraded.json.message);
    assert.deepEqual(
      upgraded.json.replaced.map((s) => [s.role, s.etcd_from, s.etcd_to]),
      Array.from({ length: 3 }, () => ["controller", "3.5.27", "3.6.4"]),
    );
    assert.ok(fewest.samples > 10, `sampled ${fewest.samples} times`);
    assert.ok(
      fewest.controllers >= 2,
      `never fewer than N-1 controllers in service (saw ${fewest.controllers})`,
    );

    // Read back: the parameter moved, every other value kept; the controllers' newest launch
    // template version runs the new etcd; new controllers carry it; the workers are the same two.
    const after = await parameters("etcdmv");
    assert.equal(after.EtcdVersion, "3.6.4");
    assert.equal(after.ImageId, IMAGE);
    assert.equal(after.Workers, "2");
    assert.match(await controllerUserData("etcdmv"), /ETCD_IMAGE_TAG=v3\.6\.4/);
    const now = await instances("etcdmv");
    assert.equal(now.controllers.length, 3);
    for (const c of now.controllers) {
      assert.equal(tagOf(c, "pandacluster:etcd-version"), "3.6.4", c.InstanceId);
      assert.equal(c.ImageId, IMAGE);
      assert.ok(!before.controllers.some((b) => b.InstanceId === c.InstanceId), `${c.InstanceId} is new`);
    }
    assert.deepEqual(
      now.workers.map((w) => w.InstanceId).sort(),
      before.workers.map((w) => w.InstanceId).sort(),
      "the workers were left alone",
    );

    // Both at once (planned only): every node for the image, the controllers for etcd too.
    const both = await world.cliJson<UpgradeResult>([
      "upgrade",
      "-n",
      "etcdmv",
      "--etcd-version",
      "3.6.9",
      "--image-id",
      "ami-fa0d1c89df5ae07f8",
      "--dry-run",
    ]);
    assert.equal(both.run.code, 0, both.run.stderr);
    assert.equal(both.json.plan.controllers.length, 3);
    assert.equal(both.json.plan.workers.length, 2);
    assert.deepEqual(
      [...new Set(both.json.plan.controllers.map((c) => `${c.etcd_from}→${c.etcd_to} ${c.image_to}`))],
      ["3.6.4→3.6.9 ami-fa0d1c89df5ae07f8"],
    );
    assert.ok(both.json.plan.workers.every((w) => w.etcd_to === undefined));

    // Back to an older minor: refused, naming the rule.
    const down = await world.cli(["upgrade", "-n", "etcdmv", "--etcd-version", "3.5.27"]);
    assert.equal(down.code, 2, down.stderr);
    assert.match(down.stderr, /goes back to an older minor version: never downgrade a minor/);
    // The same version again: nothing to do.
    const again = await world.cliJson<UpgradeResult>(["upgrade", "-n", "etcdmv", "--etcd-version", "3.6.4"]);
    assert.equal(again.run.code, 0, again.run.stderr);
    assert.match(again.json.message, /already runs ami-84380cf42e2ae29d6 and etcd 3\.6\.4 on every node/);
  });

  it("Ctrl-C stops the etcd roll between steps; wait finishes it from the stack's EtcdVersion", async () => {
    const created = await world.cli(
      ["create", "-n", "etcdhalt", "-k", "k1", "-s", "3", "--workers", "1", "--image-id", IMAGE],
      { timeoutMs: 180_000 },
    );
    assert.equal(created.code, 0, created.stderr);
    const workers = (await instances("etcdhalt")).workers.map((w) => w.InstanceId);
    const stopped = await world.cli(["upgrade", "-n", "etcdhalt", "--etcd-version", "3.6.4"], {
      signalWhen: { text: "replacing controller", signal: "SIGINT" },
      timeoutMs: 300_000,
    });
    assert.equal(stopped.code, 130, stopped.stderr);
    assert.match(stopped.stderr, /pandacluster wait -n etcdhalt -r us-east-1/);
    assert.equal((await parameters("etcdhalt")).EtcdVersion, "3.6.4", "the stack update was done");
    const between = (await instances("etcdhalt")).controllers;
    assert.ok(
      between.some((c) => tagOf(c, "pandacluster:etcd-version") === "3.5.27"),
      "the roll is not done yet",
    );

    // wait knows no --etcd-version: the target is the stack's EtcdVersion.
    const resumed = await world.cliJson<UpgradeResult>(["wait", "-n", "etcdhalt"], { timeoutMs: 300_000 });
    assert.equal(resumed.run.code, 0, resumed.run.stderr);
    assert.equal(resumed.json.status, "success", resumed.json.message);
    const done = await instances("etcdhalt");
    for (const c of done.controllers)
      assert.equal(tagOf(c, "pandacluster:etcd-version"), "3.6.4", c.InstanceId);
    assert.deepEqual(
      done.workers.map((w) => w.InstanceId),
      workers,
      "the worker was left alone",
    );
  });

  it("refuses --etcd-version for a stack whose template has no EtcdVersion, saying what to do", async () => {
    // A template as pandacluster built it before the parameter: the version written in.
    const built = await buildTemplate(
      { channel: "stable", arch: "amd64", offline: true, units: { units: [], source: "inline" } },
      {},
    );
    const old = JSON.parse(JSON.stringify(built.template).replaceAll('{"Ref":"EtcdVersion"}', '"3.5.27"'));
    delete old.Parameters.EtcdVersion;
    assert.ok(!JSON.stringify(old).includes("EtcdVersion"));
    const path = join(world.dir, "old-template.json");
    writeFileSync(path, JSON.stringify(old));
    const created = await world.cli(
      [
        "create",
        "-n",
        "oldtpl",
        "-k",
        "k1",
        "-s",
        "3",
        "--workers",
        "0",
        "--image-id",
        IMAGE,
        "--template-path",
        path,
      ],
      { timeoutMs: 180_000 },
    );
    assert.equal(created.code, 0, created.stderr);
    const refused = await world.cli(["upgrade", "-n", "oldtpl", "--etcd-version", "3.6.4"]);
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /template has no EtcdVersion parameter/);
    // The version where such a stack has it: written into its controllers' user data.
    assert.match(refused.stderr, /its controllers run etcd 3\.5\.27, written into their user data/);
    assert.match(refused.stderr, /build-template --etcd-version 3\.6\.4/);
    assert.match(refused.stderr, /aws cloudformation update-stack --stack-name oldtpl/);
    // etcd's rules hold for it too, from the version written in.
    const skip = await world.cli(["upgrade", "-n", "oldtpl", "--etcd-version", "3.7.0"]);
    assert.equal(skip.code, 2, skip.stderr);
    assert.match(skip.stderr, /Nor may it move so: etcd 3\.5\.27 → 3\.7\.0 skips minor version 3\.6/);
    // Its image upgrade still works as before (no etcd target: the tag is not looked at).
    const planned = await world.cliJson<UpgradeResult>(["upgrade", "-n", "oldtpl", "--dry-run"]);
    assert.equal(planned.run.code, 0, planned.run.stderr);
    assert.equal(planned.json.etcd_to, null);
    assert.equal(planned.json.plan.controllers.length, 0, "already on the newest image");
  });

  it("refuses a bad etcd version before any AWS call", async () => {
    for (const [value, why] of [
      ["v3.6.4", /--etcd-version: .*an etcd release such as 3\.5\.27/],
      ["3.6", /--etcd-version: .*an etcd release such as 3\.5\.27/],
      ["3.5.20", /--etcd-version: etcd 3\.5\.20 is older than 3\.5\.26/],
    ] as const) {
      const bad = await world.cli(["upgrade", "-n", "nosuch", "--etcd-version", value]);
      assert.equal(bad.code, 2, `${value}: ${bad.stderr}`);
      assert.match(bad.stderr, why);
      assert.doesNotMatch(bad.stderr, /no cluster named nosuch/, "refused before looking for the cluster");
    }
  });
});
