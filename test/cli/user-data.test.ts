/**
 * The user data EC2 gets is measured at the point of sending, with the values CreateStack sends, for
 * every launch template (issue 14, Medium): `create -t template.json --workers 1` with a long
 * --private-domain is refused before anything is created; create's result and build-template's
 * closing line report each launch template. moto (pandacluster_moto fixes), the AWS CLI to read back.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import type { ClusterResult } from "../../src/lifecycle/types.js";
import { worldPerFile } from "../lifecycle/e2e.js";

const world = worldPerFile();

describe("user data measured as sent", () => {
  it("create -t with a long --private-domain: the workers' user data over 16,384 bytes with it is refused (exit 2), nothing created", async () => {
    // A template of one's own whose workers' user data holds the PrivateDomain parameter twice.
    const filler = "#".repeat(16_000);
    const template = {
      Parameters: {
        PrivateDomain: { Type: "String" },
        DiscoveryURL: { Type: "String" },
        Workers: { Type: "Number" },
        ClusterSize: { Type: "Number" },
        ImageId: { Type: "String" },
      },
      Resources: {
        WorkerLaunchTemplate: {
          Type: "AWS::EC2::LaunchTemplate",
          Properties: {
            LaunchTemplateData: {
              ImageId: { Ref: "ImageId" },
              UserData: {
                "Fn::Base64": {
                  "Fn::Join": [
                    "",
                    [filler, "\n", { Ref: "PrivateDomain" }, "\n", { Ref: "PrivateDomain" }, "\n"],
                  ],
                },
              },
            },
          },
        },
      },
    };
    const path = join(world.dir, "own.json");
    writeFileSync(path, JSON.stringify(template));
    const zone = `${"z".repeat(63)}.${"z".repeat(63)}.${"z".repeat(63)}.cluster`;
    const ran = await world.cli([
      "create",
      "-n",
      "own",
      "-k",
      "k1",
      "-t",
      path,
      "--workers",
      "1",
      "--private-domain",
      zone,
    ]);
    assert.equal(ran.code, 2, ran.stderr);
    const sent = 16_000 + 1 + zone.length + 1 + zone.length + 1;
    assert.match(
      ran.stderr,
      new RegExp(
        `launch template WorkerLaunchTemplate: ${sent.toLocaleString("en-US")} bytes with the values CreateStack would send`,
      ),
    );
    const stacks = await world.aws<{ Stacks: unknown[] }>(["cloudformation", "describe-stacks"]);
    assert.equal(stacks.Stacks.length, 0, "nothing created");

    // A short zone fits: created, and the result reports the bytes sent for that launch template.
    const ok = await world.cliJson<ClusterResult>([
      "create",
      "-n",
      "own",
      "-k",
      "k1",
      "-t",
      path,
      "--workers",
      "1",
      "--private-domain",
      "o.cluster",
    ]);
    const launch = (
      ok.json.details as { launch?: { resolved?: { template?: { user_data_sent?: unknown } } } }
    ).launch;
    assert.deepEqual(launch?.resolved?.template?.user_data_sent, [
      { launch_template: "WorkerLaunchTemplate", bytes: 16_000 + 1 + 9 + 1 + 9 + 1, limit: 16_384 },
    ]);
  });

  it("build-template's closing line reports each launch template", async () => {
    const ran = await world.cli(["build-template", "--offline", "-p", join(world.dir, "t.json")]);
    assert.equal(ran.code, 0, ran.stderr);
    assert.match(
      ran.stderr + ran.stdout,
      /each launch template's user data \(with the longest PrivateDomain it accepts\): LaunchTemplate [\d,]+, WorkerLaunchTemplate [\d,]+ of 16,384 bytes/,
    );
  });
});
