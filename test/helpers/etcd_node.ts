/**
 * The controllers' node side as a test runs it against moto: the node script and its fixed
 * environment taken from the Ignition config EC2 holds for the controllers (their launch template's
 * user data), run step by step with a stand-in metadata service (imds.ts) and moto's endpoint.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { gunzipSync } from "node:zlib";
import { NODE_SCRIPT_PATH, PREPARE_UNIT, STATIC_ENV_PATH } from "../../src/template/etcd/node.js";
import type { World } from "../lifecycle/e2e.js";

const run = promisify(execFile);

interface IgnitionFile {
  path: string;
  contents: { source: string; compression?: string };
}
export interface Ignition {
  storage: { files: IgnitionFile[] };
  systemd: { units: { name: string; contents?: string }[] };
}

function fileText(file: IgnitionFile): string {
  const data = Buffer.from(file.contents.source.replace(/^data:;base64,/, ""), "base64");
  return (file.contents.compression === "gzip" ? gunzipSync(data) : data).toString();
}

/**
 * The controllers' Ignition config as EC2 holds it: the user data of the launch template the slot
 * groups launch from (what every controller boots with).
 */
export async function controllerConfig(world: World, launchTemplateName: string): Promise<Ignition> {
  const got = await world.aws<{ LaunchTemplateVersions: { LaunchTemplateData: { UserData: string } }[] }>([
    "ec2",
    "describe-launch-template-versions",
    "--launch-template-name",
    launchTemplateName,
    "--versions",
    "$Latest",
  ]);
  const userData = got.LaunchTemplateVersions[0]?.LaunchTemplateData.UserData ?? "";
  return JSON.parse(Buffer.from(userData, "base64").toString()) as Ignition;
}

/** The node script, its fixed environment and the command line of the prepare unit, from the config. */
export function nodeSide(
  config: Ignition,
  scratch: string,
): { script: string; env: Record<string, string>; exec: string } {
  const file = (path: string) => config.storage.files.find((f) => f.path === path);
  const script = file(NODE_SCRIPT_PATH);
  const envFile = file(STATIC_ENV_PATH);
  assert.ok(script && envFile, "the config writes the script and its environment");
  const local = join(scratch, "pandacluster-etcd");
  writeFileSync(local, fileText(script));
  chmodSync(local, 0o755);
  const env = Object.fromEntries(
    fileText(envFile)
      .split("\n")
      .filter((l) => l.includes("="))
      .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
  );
  const unit = config.systemd.units.find((u) => u.name === PREPARE_UNIT)?.contents ?? "";
  const exec = /^ExecStart=(\S+) prepare$/m.exec(unit)?.[1];
  assert.equal(exec, NODE_SCRIPT_PATH, "the prepare unit runs the script");
  return { script: local, env, exec: exec as string };
}

/** One step of the script, as the node runs it: only the metadata service and AWS endpoints differ. */
export async function step(
  world: World,
  side: ReturnType<typeof nodeSide>,
  imds: string,
  runDir: string,
  ...args: string[]
): Promise<{ stdout: string; stderr: string }> {
  return run(side.script, args, {
    env: {
      PATH: process.env.PATH,
      ...side.env,
      // Flatcar's paths under /run and /var; a folder of the test's here.
      PANDACLUSTER_ETCD_RUN_DIR: runDir,
      AWS_EC2_METADATA_SERVICE_ENDPOINT: imds,
      AWS_ENDPOINT_URL: world.moto.endpoint,
      PANDACLUSTER_ETCD_RETRY_SECONDS: "1",
    },
    timeout: 60_000,
  });
}

/** The controllers' launch template's name, from the stack's resources. */
export async function controllerLaunchTemplate(world: World, stack: string): Promise<string> {
  const resources = await world.aws<{
    StackResources: { LogicalResourceId: string; PhysicalResourceId: string }[];
  }>(["cloudformation", "describe-stack-resources", "--stack-name", stack]);
  const id = resources.StackResources.find(
    (r) => r.LogicalResourceId === "LaunchTemplate",
  )?.PhysicalResourceId;
  const templates = await world.aws<{ LaunchTemplates: { LaunchTemplateName: string }[] }>([
    "ec2",
    "describe-launch-templates",
    "--launch-template-ids",
    id as string,
  ]);
  return templates.LaunchTemplates[0]?.LaunchTemplateName as string;
}
