import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { interleavedMedians, ratioLine, sized, timeCommand, verdict } from "./measure.js";

/**
 * The CLI's start-up cost, against `node -e 0` measured in the same run: `pandacluster --help`, and
 * `build-template --offline` with 200 units and 50 SSH keys (a large but legal cluster config), in
 * both provisioning formats.
 */
const bin = fileURLToPath(new URL("../../bin/pandacluster", import.meta.url));
const node = process.execPath;
const rounds = sized(21, 3, "BENCH_ROUNDS");
/** The goals of issue 18: --help within 1.1x of a bare node, a large build-template within 1.5x. */
const HELP_TARGET = 1.1;
const BUILD_TARGET = 1.5;

const dir = mkdtempSync(join(tmpdir(), "pandacluster-bench-cli-"));
try {
  const unitsDir = join(dir, "units");
  mkdirSync(unitsDir);
  const entries: string[] = [];
  for (let i = 0; i < 200; i++) {
    const name = `bench-${i}.service`;
    writeFileSync(join(unitsDir, name), `[Service]\nType=oneshot\nExecStart=/usr/bin/true ${i}\n`);
    entries.push(`  {name: "${name}", command: "start", content: "${name}"}`);
  }
  writeFileSync(join(unitsDir, "unit-config.cson"), `[\n${entries.join("\n")}\n]\n`);
  const keys = Array.from(
    { length: 50 },
    (_, i) => `  "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI${String(i).padStart(40, "K")} user${i}@bench"`,
  );
  const config = join(dir, "pandacluster.cson");
  writeFileSync(config, `public_keys: [\n${keys.join("\n")}\n]\n`, { mode: 0o600 });
  // Its own cache folder: the CSON parse cache and bin/pandacluster's code caches, written by the
  // warm-up runs, as on a machine where the tool has run before. "cold" runs have none (a first run).
  const env = { ...process.env, PANDACLUSTER_CONFIG: config, XDG_CACHE_HOME: join(dir, "cache") };
  // A file where the cache folder would be: nothing can be cached there, every run is a first run.
  writeFileSync(join(dir, "not-a-folder"), "");
  const cold = { ...env, XDG_CACHE_HOME: join(dir, "not-a-folder") };
  const out = join(dir, "template.json");
  const build = [bin, "build-template", "--offline", "-u", join(unitsDir, "unit-config.cson"), "-p", out];

  const medians = interleavedMedians(
    {
      baseline: () => timeCommand(node, ["-e", "0"], env),
      help: () => timeCommand(node, [bin, "--help"], env),
      ignition: () => timeCommand(node, [...build, "--provisioning", "ignition"], env),
      // 200 units and 50 keys make a cloud-config of about 30 kB: build-template cannot gzip it (the
      // discovery URL is a template parameter), so what is timed is the whole build up to its refusal.
      cloudConfig: () => timeCommand(node, [...build, "--provisioning", "cloud-config"], env, 2),
      helpCold: () => timeCommand(node, [bin, "--help"], cold),
      ignitionCold: () => timeCommand(node, [...build, "--provisioning", "ignition"], cold),
    },
    rounds,
  );
  const base = medians.baseline as number;
  console.log(`medians of ${rounds} interleaved runs each`);
  console.log(ratioLine("node -e 0 (baseline)", base, base));
  const help = medians.help as number;
  const built = medians.ignition as number;
  console.log(ratioLine("pandacluster --help", help, base, HELP_TARGET));
  console.log(ratioLine("build-template --offline, 200 units, 50 keys", built, base, BUILD_TARGET));
  console.log(ratioLine("  same, cloud-config (refused: exit 2)", medians.cloudConfig as number, base));
  console.log(ratioLine("--help, first run (no caches)", medians.helpCold as number, base));
  console.log(ratioLine("build-template, first run (no caches)", medians.ignitionCold as number, base));
  process.exitCode = verdict(help / base <= HELP_TARGET && built / base <= BUILD_TARGET);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
