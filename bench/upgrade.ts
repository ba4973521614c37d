import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { EC2Client, ImportKeyPairCommand } from "@aws-sdk/client-ec2";
import type { UpgradeResult } from "../src/lifecycle/types.js";
import { awsEnv, flatcarAmisFixture, startMoto } from "../test/helpers/services.js";

/**
 * The upgrade's cost against its floor. On the paced emulator (every stack operation takes PACE,
 * every new instance is pending for BOOT before it serves), `pandacluster upgrade` of a cluster of
 * 3 controllers and 3 workers made on an older image. Its floor is what AWS's pace alone imposes on
 * a roll that never has two controllers down and keeps 90 % of the workers in service: the stack
 * update (PACE) plus one boot per replacement, one after another (3 controllers; 3 workers, each
 * behind one extra launched first because no batch of 3 keeps 90 % in service): PACE + 6 x BOOT.
 * Printed: the total time, the floor, and their ratio (1.0 would be a roll with no overhead of its
 * own: polling, DNS names after each step, reading the fleet).
 *
 * --quick (or BENCH_QUICK=1): short paces, to prove the bench runs end to end.
 */
const run = promisify(execFile);
const bin = fileURLToPath(new URL("../../bin/pandacluster", import.meta.url));
const quick = process.argv.includes("--quick") || process.env.BENCH_QUICK === "1";
const PACE_MS = Number(process.env.BENCH_PACE_MS ?? (quick ? 1_000 : 5_000));
const BOOT_MS = Number(process.env.BENCH_BOOT_MS ?? (quick ? 1_000 : 5_000));
const OLD_IMAGE = "ami-fa0d1c89df5ae07f8"; // Flatcar-stable-4152.2.3-hvm in the fixture
const PUBLIC_KEY =
  "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB5Nq2Rj3ZV8uFv5tAqZ6uC1xV2sQe6r3gqkYb7sYH2x bench@example";

const moto = await startMoto({ amisPath: flatcarAmisFixture(), paceMs: PACE_MS, bootMs: BOOT_MS });
const home = mkdtempSync(join(tmpdir(), "pandacluster-bench-upgrade-"));
try {
  const config = join(home, "pandacluster.cson");
  writeFileSync(config, `public_keys: ["${PUBLIC_KEY}"]\n`, { mode: 0o600 });
  const env = { PATH: process.env.PATH, HOME: home, PANDACLUSTER_CONFIG: config, ...awsEnv(moto.endpoint) };
  const ec2 = new EC2Client({
    endpoint: moto.endpoint,
    region: "us-east-1",
    credentials: { accessKeyId: "testing", secretAccessKey: "testing" },
  });
  await ec2.send(new ImportKeyPairCommand({ KeyName: "k1", PublicKeyMaterial: Buffer.from(PUBLIC_KEY) }));
  ec2.destroy();
  const cli = (args: string[]) =>
    run(process.execPath, [bin, ...args], { env, maxBuffer: 16 * 1024 * 1024, timeout: 900_000 });
  await cli([
    "create",
    "-n",
    "bench",
    "-k",
    "k1",
    "-s",
    "3",
    "--workers",
    "3",
    "--image-id",
    OLD_IMAGE,
    "--discovery-url",
    "http://127.0.0.1:9/0123456789abcdef0123456789abcdef",
  ]);
  const started = Date.now();
  const { stdout } = await cli(["upgrade", "-n", "bench", "--json"]);
  const total = Date.now() - started;
  const result = JSON.parse(stdout) as UpgradeResult;
  if (result.status !== "success" || result.replaced.length !== 6) {
    throw new Error(
      `upgrade did not complete: ${result.status}, ${result.replaced.length} replaced: ${result.message}`,
    );
  }
  const floor = PACE_MS + 6 * BOOT_MS;
  const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  console.log(
    `upgrade of 3 controllers + 3 workers on the paced emulator (pace ${s(PACE_MS)}, boot ${s(BOOT_MS)})`,
  );
  console.log(`  total ${s(total)}; floor (stack update + 6 boots one after another) ${s(floor)}`);
  console.log(`  ratio ${(total / floor).toFixed(2)}x the floor`);
} finally {
  await moto.stop();
  rmSync(home, { recursive: true, force: true });
}
