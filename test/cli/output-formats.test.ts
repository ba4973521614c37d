/**
 * -o, --output table|json|yaml on every command that prints a result: YAML parsed back is the very
 * document --json prints, command by command, against the moto emulator and a real etcd discovery
 * service. PANDACLUSTER_OUTPUT sets the default; a bad one, or --json with another -o, is bad input.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parse } from "yaml";
import type { ClusterResult } from "../../src/lifecycle/types.js";
import { runCli } from "../helpers/cli.js";
import { worldPerFile } from "../lifecycle/e2e.js";

const world = worldPerFile();

/**
 * What differs between two runs of the same command, whatever the format: how long each step took,
 * and the ClientRequestToken's fresh UUID. Everything else must be equal.
 */
function steady(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(steady);
  if (typeof value === "string")
    return value.replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, "UUID");
  if (typeof value !== "object" || value === null) return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([key]) => key !== "timings" && key !== "elapsed")
      .map(([key, inner]) => [key, steady(inner)]),
  );
}

/** Runs a command as --json, then as -o yaml, and checks that both say the same. */
async function sameInBoth(args: string[], code = 0): Promise<Record<string, unknown>> {
  const asJson = await world.cli([...args, "--json"]);
  const asYaml = await world.cli([...args, "-o", "yaml"]);
  assert.equal(asJson.code, code, `${args.join(" ")} --json: ${asJson.stderr}`);
  assert.equal(asYaml.code, code, `${args.join(" ")} -o yaml: ${asYaml.stderr}`);
  assert.doesNotMatch(asYaml.stdout, /^\s*[{[]/, "a YAML document, not JSON (which YAML also parses)");
  const json = JSON.parse(asJson.stdout) as Record<string, unknown>;
  assert.deepEqual(steady(parse(asYaml.stdout)), steady(json), args.join(" "));
  return json;
}

describe("-o yaml parsed back equals --json", () => {
  it("create --dry-run, status, list, sync, scale, wait, destroy", async () => {
    const created = await world.cli(["create", "-n", "demo", "-k", "k1", "--workers", "1", "-o", "yaml"]);
    assert.equal(created.code, 0, created.stderr);
    const cluster = parse(created.stdout) as ClusterResult;
    assert.equal(cluster.status, "success");
    assert.equal(cluster.cluster.nodes.length, 4);
    const discovery = cluster.cluster.discovery_url as string;

    const dry = await sameInBoth([
      "create",
      "-n",
      "other",
      "-k",
      "k1",
      "--dry-run",
      "--discovery-url",
      discovery,
    ]);
    assert.equal(dry.status, "success");
    const status = await sameInBoth(["status", "-n", "demo"]);
    assert.equal(status.stack_status, "CREATE_COMPLETE");
    const listed = await sameInBoth(["list"]);
    assert.equal((listed.clusters as unknown[]).length, 1);
    const synced = await sameInBoth(["sync", "-n", "demo"]);
    assert.equal(synced.status, "success");
    // The worker count it already has: scale checks the nodes and names and changes nothing.
    const scaled = await sameInBoth(["scale", "-n", "demo", "--workers", "1"]);
    assert.equal(scaled.status, "success");
    const waited = await sameInBoth(["wait", "-n", "demo"]);
    assert.equal(waited.status, "success");
    // A failure is a document too, in the format asked for, with the same exit code.
    const missing = await sameInBoth(["destroy", "-n", "never-made"], 1);
    assert.equal(missing.status, "failure");

    // PANDACLUSTER_OUTPUT=yaml is the default that --output overrides.
    const table = await world.cli(["list", "-o", "table"], { env: { PANDACLUSTER_OUTPUT: "yaml" } });
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^ +demo +CREATE_COMPLETE /m);
    const destroyed = await world.cli(["destroy", "-n", "demo"], { env: { PANDACLUSTER_OUTPUT: "yaml" } });
    assert.equal(destroyed.code, 0, destroyed.stderr);
    assert.deepEqual(
      { status: parse(destroyed.stdout).status, already_gone: parse(destroyed.stdout).already_gone },
      { status: "success", already_gone: false },
    );
  });

  it("a failure is a YAML document on stdout, with its exit code", async () => {
    const missing = await world.cli(["status", "-n", "nope", "-o", "yaml"]);
    assert.equal(missing.code, 1, missing.stderr);
    const doc = parse(missing.stdout) as { status: string; error: { message: string; exit_code: number } };
    assert.equal(doc.status, "failure");
    assert.equal(doc.error.exit_code, 1);
    assert.match(doc.error.message, /nope/);
  });
});

describe("choosing the format (no AWS call is made)", () => {
  const unreachable = { AWS_ENDPOINT_URL: "http://127.0.0.1:9", AWS_REGION: "us-east-1" };

  it("a PANDACLUSTER_OUTPUT that is no format is bad input naming it (exit 2)", async () => {
    const run = await runCli(["list"], { env: { ...unreachable, PANDACLUSTER_OUTPUT: "xml" } });
    assert.equal(run.code, 2);
    assert.match(
      run.stderr,
      /^error: PANDACLUSTER_OUTPUT: "xml" is not an output format; use one of table, json, yaml/,
    );
    assert.equal(run.stdout, "");
  });

  it("-o with another value, and --json with -o yaml, are bad input (exit 2)", async () => {
    const bad = await runCli(["status", "-n", "demo", "-o", "xml"], { env: unreachable });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--output \(-o\): .*"xml".*table, json, yaml/);
    const both = await runCli(["status", "-n", "demo", "--json", "-o", "yaml"], { env: unreachable });
    assert.equal(both.code, 2);
    assert.match(both.stderr, /--json: is the same as --output json, and --output yaml was given too/);
    // Agreeing is fine: the command runs (and fails on the unreachable endpoint, exit 1).
    const agree = await runCli(["list", "--json", "--output=json"], { env: unreachable });
    assert.equal(agree.code, 1, agree.stderr);
    assert.equal(JSON.parse(agree.stdout).status, "failure");
  });

  it("scale -s without --workers says why the controllers cannot change", async () => {
    const run = await runCli(["scale", "-n", "demo", "-s", "5"], { env: unreachable });
    assert.equal(run.code, 2);
    assert.match(run.stderr, /controllers .*cannot be changed by scale: .*etcd's membership is fixed/);
    assert.match(run.stderr, /pandacluster scale -n demo --workers N/);
    assert.doesNotMatch(run.stderr, /--workers \(-w\): is required/);
  });
});
