import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import {
  AutoScalingClient,
  CreateAutoScalingGroupCommand,
  SetDesiredCapacityCommand,
} from "@aws-sdk/client-auto-scaling";
import {
  CloudFormationClient,
  CreateStackCommand,
  DescribeStackEventsCommand,
} from "@aws-sdk/client-cloudformation";
import { CreateLaunchTemplateCommand, EC2Client, ImportKeyPairCommand } from "@aws-sdk/client-ec2";
import { createServer } from "../src/server/app.js";
import { hashToken } from "../src/server/crypto.js";
import { type Engine, libraryEngine } from "../src/server/engine.js";
import {
  awsEnv,
  flatcarAmisFixture,
  isolatedAwsProcessEnv,
  type Moto,
  startDiscovery,
  startMoto,
} from "../test/helpers/services.js";
import { median, sized, verdict } from "./measure.js";

/**
 * Workers' benchmarks, both on the moto emulator:
 *
 * 1. Noticing completion. With pandacluster_moto's pace set so that a stack takes BENCH_PACE_MS
 *    (default 20 s), the time from the stack's final event (its CREATE_COMPLETE timestamp) to the
 *    moment `pandacluster create` reports the formation complete (its progress line on stderr),
 *    against `aws cloudformation wait stack-create-complete` on the same template started at the
 *    same moment (noticed when the AWS CLI exits). Median over BENCH_PACE_ROUNDS (default 3)
 *    rounds, the two side by side in each round. Target: median <= 2 s and <= 0.2x the AWS CLI's.
 * 2. Reconcile cost. The server's reconciler with 200 clusters (2 groups each) in 2 regions of
 *    one account: AWS calls (DescribeAutoScalingGroups pages) per cycle, first sight, steady
 *    state, and after one cluster's group changed. Target: <= regions x pages, whatever the
 *    number of clusters. The per-cluster naming (syncInService) is counted, not run: these
 *    groups have no stacks.
 */
const run = promisify(execFile);
const bin = fileURLToPath(new URL("../../bin/pandacluster", import.meta.url));
const PACE_MS = sized(20_000, 3_000, "BENCH_PACE_MS");
// 3 at full size: each round waits out the AWS CLI's 30 s waiter, and `npm run bench` must stay under 10 minutes.
const ROUNDS = sized(3, 1, "BENCH_PACE_ROUNDS");
const PUBLIC_KEY =
  "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB5Nq2Rj3ZV8uFv5tAqZ6uC1xV2sQe6r3gqkYb7sYH2x bench@example";
const creds = { accessKeyId: "testing", secretAccessKey: "testing" };

async function finalEventTime(cfn: CloudFormationClient, stack: string): Promise<number> {
  const events = (await cfn.send(new DescribeStackEventsCommand({ StackName: stack }))).StackEvents ?? [];
  const final = events.find((e) => e.LogicalResourceId === stack && e.ResourceStatus === "CREATE_COMPLETE");
  if (!final?.Timestamp) throw new Error(`${stack} has no CREATE_COMPLETE event`);
  return final.Timestamp.getTime();
}

/** Starts `pandacluster create`; resolves with the wall time its stderr says the formation is complete. */
function pandaclusterNotice(env: NodeJS.ProcessEnv, name: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(process.execPath, [bin, "create", "-n", name, "-k", "k1", "--json"], {
      env,
    });
    let stderr = "";
    let noticed: number | undefined;
    const line = new RegExp(`formation +${name} +CREATE_COMPLETE`);
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
      if (noticed === undefined && line.test(stderr)) noticed = Date.now();
    });
    child.stdout?.resume();
    child.on("close", (code) => {
      if (code !== 0 || noticed === undefined)
        reject(new Error(`create ${name} exited ${code}: ${stderr.slice(-2000)}`));
      else resolve(noticed);
    });
  });
}

async function noticing(): Promise<void> {
  const [moto, discovery] = await Promise.all([
    startMoto({ amisPath: flatcarAmisFixture(), paceMs: PACE_MS }),
    startDiscovery(),
  ]);
  const dir = mkdtempSync(join(tmpdir(), "pandacluster-bench-workers-"));
  try {
    const config = join(dir, "pandacluster.cson");
    const { writeFileSync } = await import("node:fs");
    writeFileSync(config, `public_keys: ["${PUBLIC_KEY}"]\ndiscovery_service: "${discovery.url}"\n`, {
      mode: 0o600,
    });
    const env = { ...isolatedAwsProcessEnv(moto.endpoint), HOME: dir, PANDACLUSTER_CONFIG: config };
    await run(process.execPath, [bin, "build-template", "--offline", "-p", join(dir, "t.json")], { env });
    const body = readFileSync(join(dir, "t.json"), "utf8");
    const client = { endpoint: moto.endpoint, region: "us-east-1", credentials: creds };
    const cfn = new CloudFormationClient(client);
    const ec2 = new EC2Client(client);
    const ours: number[] = [];
    const theirs: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      await moto.reset();
      await ec2.send(new ImportKeyPairCommand({ KeyName: "k1", PublicKeyMaterial: Buffer.from(PUBLIC_KEY) }));
      const a = `pc${round}`;
      const b = `cli${round}`;
      const awsSide = (async () => {
        await cfn.send(
          new CreateStackCommand({
            StackName: b,
            TemplateBody: body,
            Parameters: Object.entries({
              KeyPair: "k1",
              ImageId: "ami-84380cf42e2ae29d6",
              DiscoveryURL: `${discovery.url}/0123456789abcdef0123456789abcdef`,
              PrivateDomain: `${b}.cluster`,
            }).map(([ParameterKey, ParameterValue]) => ({ ParameterKey, ParameterValue })),
          }),
        );
        await run("aws", ["cloudformation", "wait", "stack-create-complete", "--stack-name", b], {
          env: { ...isolatedAwsProcessEnv(moto.endpoint), HOME: dir },
        });
        return Date.now();
      })();
      const [ourNotice, theirNotice] = await Promise.all([pandaclusterNotice(env, a), awsSide]);
      ours.push(ourNotice - (await finalEventTime(cfn, a)));
      theirs.push(theirNotice - (await finalEventTime(cfn, b)));
      process.stdout.write(
        `  round ${round + 1}: pandacluster ${(ours.at(-1) as number) / 1000}s, aws wait ${(theirs.at(-1) as number) / 1000}s after the final event\n`,
      );
    }
    const m = median(ours);
    const baseline = median(theirs);
    const ratio = m / baseline;
    if (!(m <= 2000 && ratio <= 0.2)) process.exitCode = verdict(false);
    process.stdout.write(
      `noticing completion (stack of ${PACE_MS / 1000} s, median of ${ROUNDS}): pandacluster ${(m / 1000).toFixed(2)} s, ` +
        `aws cloudformation wait ${(baseline / 1000).toFixed(2)} s, ${ratio.toFixed(2)}x ` +
        `(target <= 2 s and <= 0.2x: ${m <= 2000 && ratio <= 0.2 ? "met" : "MISSED"})\n`,
    );
    cfn.destroy();
    ec2.destroy();
  } finally {
    await Promise.all([moto.stop(), discovery.stop()]);
    rmSync(dir, { recursive: true, force: true });
  }
}

async function reconcileCost(moto: Moto): Promise<void> {
  const regions = ["us-east-1", "eu-west-1"];
  const perRegion = sized(100, 10);
  Object.assign(process.env, awsEnv(moto.endpoint), {
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
  });
  const groupName = (cluster: string, role: string) => `${cluster}-${role}`;
  for (const region of regions) {
    const client = { endpoint: moto.endpoint, region, credentials: creds };
    const ec2 = new EC2Client(client);
    const autoscaling = new AutoScalingClient(client);
    const lt = await ec2.send(
      new CreateLaunchTemplateCommand({
        LaunchTemplateName: "bench",
        LaunchTemplateData: { ImageId: "ami-84380cf42e2ae29d6", InstanceType: "t3.small" },
      }),
    );
    for (let i = 0; i < perRegion; i++) {
      const cluster = `c-${region}-${i}`;
      for (const role of ["controller", "worker"]) {
        await autoscaling.send(
          new CreateAutoScalingGroupCommand({
            AutoScalingGroupName: groupName(cluster, role),
            LaunchTemplate: { LaunchTemplateId: lt.LaunchTemplate?.LaunchTemplateId, Version: "1" },
            MinSize: 0,
            MaxSize: 3,
            DesiredCapacity: 0,
            AvailabilityZones: [`${region}a`],
            Tags: [
              { Key: "pandacluster:cluster", Value: cluster, PropagateAtLaunch: true },
              { Key: "pandacluster:role", Value: role, PropagateAtLaunch: true },
            ],
          }),
        );
      }
    }
    ec2.destroy();
    autoscaling.destroy();
  }
  let syncs = 0;
  const engine: Engine = {
    ...libraryEngine,
    syncInService: async (_c, options) => {
      syncs += 1;
      return {
        status: "success",
        message: "",
        stack_name: options.stack_name,
        region: options.region,
        private_zone: null,
        private_zone_id: null,
        changes: [],
        nodes: [],
        records: [],
        reasons: [],
        timings: {},
      };
    },
  };
  const server = await createServer({
    db: ":memory:",
    engine,
    resume: false,
    reconcileMs: 3_600_000,
    env: { PANDACLUSTER_ADMIN_TOKEN: "bench-admin-token-0123456789" },
    logger: false,
  });
  try {
    const store = server.store;
    const profile = await store.createProfile({
      name: "bench",
      email: "bench@example.com",
      token_hash: hashToken("bench"),
      aws_id: "testing",
      aws_secret_sealed: null,
      aws_region: null,
      public_keys: null,
      // Above the default quota of live clusters: the bench stores them all in one profile.
      max_clusters: perRegion * regions.length,
    });
    if (profile === "exists") throw new Error("profile exists");
    for (const region of regions) {
      for (let i = 0; i < perRegion; i++) {
        const stack_name = `c-${region}-${i}`;
        const made = await store.createCluster(
          {
            profile_id: profile.id,
            stack_name,
            region,
            account: "aws:123456789012",
            cluster_size: 3,
            create_token: `bench-${stack_name}`,
            options: { stack_name, key_pair: "k", region } as never,
          },
          undefined,
          () => ({ status_code: 202, body: "{}", location: null }),
          {},
        );
        if (made.kind !== "created") throw new Error(made.kind);
        await store.completeJob(made.job.id, made.cluster.id, {
          status: "online",
          stack_id: `id-${stack_name}`,
        });
      }
    }
    const cycles: string[] = [];
    const cycle = async (label: string) => {
      syncs = 0;
      const started = Date.now();
      const c = await server.reconciler.runOnce();
      cycles.push(
        `  ${label.padEnd(34)} ${String(c.group_calls).padStart(3)} DescribeAutoScalingGroups calls, ` +
          `${c.clusters} clusters, ${syncs} synced, ${Date.now() - started} ms`,
      );
      return c.group_calls;
    };
    await cycle("first cycle (every cluster new)");
    const steady = await cycle("steady cycle (nothing changed)");
    const autoscaling = new AutoScalingClient({
      endpoint: moto.endpoint,
      region: "us-east-1",
      credentials: creds,
    });
    await autoscaling.send(
      new SetDesiredCapacityCommand({
        AutoScalingGroupName: groupName("c-us-east-1-7", "worker"),
        DesiredCapacity: 1,
      }),
    );
    autoscaling.destroy();
    await cycle("after one group changed");
    const pages = Math.ceil((perRegion * 2) / 100);
    if (steady > regions.length * pages) process.exitCode = verdict(false);
    process.stdout.write(
      `reconcile cost (${perRegion * regions.length} clusters, ${regions.length} regions, ${pages} pages of groups each):\n${cycles.join("\n")}\n` +
        `  steady: ${steady} calls per cycle (target <= regions x pages = ${regions.length * pages}: ${steady <= regions.length * pages ? "met" : "MISSED"})\n`,
    );
  } finally {
    await server.close();
  }
}

async function main(): Promise<void> {
  const which = process.env.BENCH_WORKERS ?? "noticing,reconcile";
  if (which.includes("reconcile")) {
    const moto = await startMoto({ amisPath: flatcarAmisFixture() });
    try {
      await reconcileCost(moto);
    } finally {
      await moto.stop();
    }
  }
  if (which.includes("noticing")) await noticing();
}

await main();
