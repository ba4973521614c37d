/**
 * The world the end-to-end tests run bin/pandacluster in: the moto emulator (with the Flatcar-like
 * image fixture and the fixes that make it delete and roll back stacks as AWS does), a real etcd
 * discovery service, a config file, and the AWS CLI as an independent client to check the results.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, beforeEach } from "node:test";
import { promisify } from "node:util";
import { EC2Client, ImportKeyPairCommand } from "@aws-sdk/client-ec2";
import { type CliRun, type CliRunOptions, runCli } from "../helpers/cli.js";
import {
  awsEnv,
  type Discovery,
  flatcarAmisFixture,
  isolatedAwsProcessEnv,
  type Moto,
  type MotoOptions,
  startDiscovery,
  startMoto,
} from "../helpers/services.js";

const run = promisify(execFile);

export const PUBLIC_KEY =
  "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB5Nq2Rj3ZV8uFv5tAqZ6uC1xV2sQe6r3gqkYb7sYH2x tester@example";

export interface World {
  moto: Moto;
  discovery: Discovery;
  dir: string;
  configPath: string;
  /** The CLI's environment: moto's endpoint and test keys, the config file, a HOME of its own. */
  env: NodeJS.ProcessEnv;
  cli(args: string[], options?: CliRunOptions): Promise<CliRun>;
  /** The CLI, expecting JSON on stdout. */
  cliJson<T = Record<string, unknown>>(
    args: string[],
    options?: CliRunOptions,
  ): Promise<{ run: CliRun; json: T }>;
  /** The AWS CLI against moto: an independent client to check what pandacluster did. */
  aws<T = Record<string, unknown>>(args: string[]): Promise<T>;
  /** Forget everything in moto, then import key pair k1 again. */
  reset(): Promise<void>;
  /** The discovery token's _config/size in etcd (v2 keys API). */
  discoverySize(url: string): Promise<number>;
  /** How many clusters the discovery service has registered. */
  registered(): Promise<number>;
  stop(): Promise<void>;
}

/**
 * One world per test file, shared by its tests: started before them, reset before each, stopped
 * after them. Its methods may be called once the file's tests run.
 */
export function worldPerFile(motoOptions: MotoOptions = {}): World {
  let world: World | undefined;
  before(async () => {
    world = await startWorld(motoOptions);
  });
  after(async () => {
    await world?.stop();
  });
  beforeEach(async () => {
    await world?.reset();
  });
  const started = () => {
    if (!world) throw new Error("the test world is used before its tests run");
    return world;
  };
  return new Proxy({} as World, {
    get: (_target, key: keyof World) => {
      const value = started()[key];
      return typeof value === "function" ? value.bind(started()) : value;
    },
  });
}

/** `motoOptions`: e.g. { paceMs } for AWS's pace (stacks that take time, instances pending first). */
export async function startWorld(motoOptions: MotoOptions = {}): Promise<World> {
  const [moto, discovery] = await Promise.all([
    startMoto({ amisPath: flatcarAmisFixture(), fixes: true, ...motoOptions }),
    startDiscovery(),
  ]);
  const dir = mkdtempSync(join(tmpdir(), "pandacluster-e2e-"));
  const configPath = join(dir, "pandacluster.cson");
  writeFileSync(configPath, `public_keys: ["${PUBLIC_KEY}"]\ndiscovery_service: "${discovery.url}"\n`, {
    mode: 0o600,
  });
  const env: NodeJS.ProcessEnv = {
    ...awsEnv(moto.endpoint),
    HOME: dir,
    PANDACLUSTER_CONFIG: configPath,
  };
  const awsProcessEnv = { ...isolatedAwsProcessEnv(moto.endpoint), HOME: dir };
  const world: World = {
    moto,
    discovery,
    dir,
    configPath,
    env,
    cli: (args, options = {}) => runCli(args, { ...options, env: { ...env, ...options.env } }),
    async cliJson(args, options) {
      const result = await world.cli([...args, "--json"], options);
      let json: unknown;
      try {
        json = JSON.parse(result.stdout);
      } catch {
        throw new Error(
          `not JSON on stdout (exit ${result.code}):\n${result.stdout}\n--- stderr ---\n${result.stderr}`,
        );
      }
      return { run: result, json: json as never };
    },
    async aws(args) {
      const { stdout } = await run("aws", [...args, "--output", "json"], { env: awsProcessEnv });
      return (stdout.trim() ? JSON.parse(stdout) : {}) as never;
    },
    async reset() {
      await moto.reset();
      const ec2 = new EC2Client({
        endpoint: moto.endpoint,
        region: "us-east-1",
        credentials: { accessKeyId: "testing", secretAccessKey: "testing" },
      });
      await ec2.send(new ImportKeyPairCommand({ KeyName: "k1", PublicKeyMaterial: Buffer.from(PUBLIC_KEY) }));
      ec2.destroy();
    },
    async discoverySize(url) {
      const token = url.split("/").pop();
      const answer = await fetch(`${discovery.etcdEndpoint}/v2/keys/_etcd/registry/${token}/_config/size`);
      const body = (await answer.json()) as { node?: { value?: string } };
      return Number(body.node?.value);
    },
    async registered() {
      const answer = await fetch(`${discovery.etcdEndpoint}/v2/keys/_etcd/registry`);
      const body = (await answer.json()) as { node?: { nodes?: unknown[] } };
      return body.node?.nodes?.length ?? 0;
    },
    async stop() {
      await Promise.all([moto.stop(), discovery.stop()]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return world;
}
