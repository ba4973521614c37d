import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { type CountingProxy, countingProxy } from "../test/helpers/counting-proxy.js";
import {
  type Discovery,
  flatcarAmisFixture,
  isolatedAwsProcessEnv,
  type Moto,
  startDiscovery,
  startMoto,
} from "../test/helpers/services.js";
import { median, quick, ratioLine, sized, verdict } from "./measure.js";

/**
 * The full cycle of a 3-node cluster on the moto emulator, pandacluster against the AWS CLI, in the
 * same run, interleaved:
 *
 *   pandacluster  create -n X -k K --json, status -n X --json, destroy -n X --json
 *   AWS CLI       create-stack (same template, same parameters), wait stack-create-complete,
 *                 ec2 describe-instances, delete-stack, wait stack-delete-complete
 *
 * pandacluster does more (key pair and image checks, a discovery URL, the nodes' DNS zone and
 * names); the AWS CLI gets a discovery URL and the image id for free. Every AWS call of both goes
 * through a counting proxy in front of moto, so the call counts are what went over the wire
 * (SDK retries included).
 */
const run = promisify(execFile);
const bin = fileURLToPath(new URL("../../bin/pandacluster", import.meta.url));
const rounds = sized(5, 1, "BENCH_ROUNDS");
const warmup = quick ? 0 : 1;

function total(calls: Map<string, number>): number {
  return [...calls.values()].reduce((a, b) => a + b, 0);
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "pandacluster-bench-lifecycle-"));
  let moto: Moto | undefined;
  let discovery: Discovery | undefined;
  let proxy: CountingProxy | undefined;
  try {
    [moto, discovery] = await Promise.all([
      startMoto({ amisPath: flatcarAmisFixture(), fixes: true }),
      startDiscovery(),
    ]);
    proxy = await countingProxy(moto.endpoint);
    const config = join(dir, "pandacluster.cson");
    writeFileSync(config, `discovery_service: "${discovery.url}"\n`, { mode: 0o600 });
    const env = { ...isolatedAwsProcessEnv(proxy.endpoint), HOME: dir, PANDACLUSTER_CONFIG: config };
    const key =
      "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB5Nq2Rj3ZV8uFv5tAqZ6uC1xV2sQe6r3gqkYb7sYH2x bench@example";
    writeFileSync(join(dir, "key.pub"), key);
    await run(
      "aws",
      [
        "ec2",
        "import-key-pair",
        "--key-name",
        "bench",
        "--public-key-material",
        `fileb://${join(dir, "key.pub")}`,
      ],
      { env },
    );

    // The same template for the AWS CLI: built once, offline (the image id is then a parameter).
    const templatePath = join(dir, "template.json");
    await run(process.execPath, [bin, "build-template", "--offline", "-p", templatePath], { env });
    const declared = new Set(
      Object.keys(
        (JSON.parse(readFileSync(templatePath, "utf8")) as { Parameters?: object }).Parameters ?? {},
      ),
    );
    const bytes = readFileSync(templatePath).length;
    proxy.take();

    const time = async (steps: [string, string[]][]): Promise<number> => {
      const started = process.hrtime.bigint();
      for (const [command, args] of steps) {
        try {
          await run(command, args, { env });
        } catch (error) {
          const e = error as { stderr?: string; message: string };
          throw new Error(`${command} ${args.slice(0, 3).join(" ")} failed: ${e.stderr || e.message}`);
        }
      }
      return Number(process.hrtime.bigint() - started) / 1e6;
    };
    const pandacluster = (name: string) =>
      time([
        [process.execPath, [bin, "create", "-n", name, "-k", "bench", "--json"]],
        [process.execPath, [bin, "status", "-n", name, "--json"]],
        [process.execPath, [bin, "destroy", "-n", name, "--json"]],
      ]);
    const awsCli = async (name: string) => {
      // The parameters create would pass for this name (its dry run prints the CreateStack request:
      // the image it resolves, a fresh discovery URL, the private zone…), kept to those the template
      // declares: whatever the template comes to take or default, the AWS CLI gets what create sends.
      // The dry run's own AWS calls are not counted.
      const dry = await run(
        process.execPath,
        [bin, "create", "-n", name, "-k", "bench", "--dry-run", "--json"],
        {
          env,
        },
      );
      proxy?.take();
      const request = (
        JSON.parse(dry.stdout) as {
          details: {
            launch: { request: { Parameters: { ParameterKey: string; ParameterValue: string }[] } };
          };
        }
      ).details.launch.request;
      // A dry run requests no discovery URL (its value says so): ask the service, as create would.
      const size = request.Parameters.find((p) => p.ParameterKey === "ClusterSize")?.ParameterValue ?? "3";
      const fresh = async () =>
        (await fetch(`${discovery?.url}/new?size=${size}`).then((r) => r.text())).trim();
      const parameters: string[] = [];
      for (const p of request.Parameters.filter((p) => declared.has(p.ParameterKey))) {
        const value =
          p.ParameterKey === "DiscoveryURL" && p.ParameterValue.startsWith("<")
            ? await fresh()
            : p.ParameterValue;
        parameters.push(`ParameterKey=${p.ParameterKey},ParameterValue=${value}`);
      }
      return time([
        [
          "aws",
          [
            "cloudformation",
            "create-stack",
            "--stack-name",
            name,
            "--template-body",
            `file://${templatePath}`,
            "--parameters",
            ...parameters,
          ],
        ],
        ["aws", ["cloudformation", "wait", "stack-create-complete", "--stack-name", name]],
        ["aws", ["ec2", "describe-instances"]],
        ["aws", ["cloudformation", "delete-stack", "--stack-name", name]],
        ["aws", ["cloudformation", "wait", "stack-delete-complete", "--stack-name", name]],
      ]);
    };

    const samples = { pandacluster: [] as number[], aws: [] as number[] };
    const calls = { pandacluster: new Map<string, number>(), aws: new Map<string, number>() };
    for (let round = 0; round < warmup + rounds; round++) {
      const ms = await pandacluster(`bench-p${round}`);
      const pandaCalls = proxy.take();
      const awsMs = await awsCli(`bench-a${round}`);
      const awsCalls = proxy.take();
      if (round < warmup) continue;
      samples.pandacluster.push(ms);
      samples.aws.push(awsMs);
      calls.pandacluster = pandaCalls;
      calls.aws = awsCalls;
    }

    const pandaMs = median(samples.pandacluster);
    const awsMs = median(samples.aws);
    console.log(
      `create → status → destroy of a 3-node cluster on moto; medians of ${rounds} interleaved rounds`,
    );
    console.log(`(template ${bytes} bytes; every AWS request counted by a proxy in front of moto)`);
    console.log(ratioLine("AWS CLI: 5 commands (baseline)", awsMs, awsMs));
    console.log(ratioLine("pandacluster: create, status, destroy", pandaMs, awsMs, 0.5));
    // A missed target fails a full run (verdict), as in the other benchmarks.
    process.exitCode = verdict(pandaMs / awsMs <= 0.5);
    console.log(
      `AWS API calls per cycle: pandacluster ${total(calls.pandacluster)}, AWS CLI ${total(calls.aws)}`,
    );
    for (const [who, counted] of Object.entries(calls)) {
      const list = [...counted.entries()].sort((a, b) => a[0].localeCompare(b[0]));
      console.log(`  ${who}: ${list.map(([op, n]) => `${op}${n > 1 ? ` ×${n}` : ""}`).join(", ")}`);
    }
  } finally {
    proxy?.close();
    await Promise.all([moto?.stop(), discovery?.stop()]);
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
