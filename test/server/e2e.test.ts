/**
 * The API server end to end with the real library, against the moto AWS emulator (with the
 * pandacluster_moto fixes) and a local etcd discovery service (test/helpers/services.ts):
 * a cluster's whole life over HTTP, 50 concurrent creates, a `pandacluster serve` child process
 * killed with SIGKILL in the middle of a create and restarted, and the CLI's --server mode.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, beforeEach, describe, it } from "node:test";
import { CloudFormationClient, DescribeStacksCommand } from "@aws-sdk/client-cloudformation";
import { DescribeInstancesCommand, EC2Client } from "@aws-sdk/client-ec2";
import Database from "better-sqlite3";
import { type Engine, libraryEngine } from "../../src/server/engine.js";
import type { SqliteStore } from "../../src/server/store/sqlite.js";
import { runCli } from "../helpers/cli.js";
import { awsServicesPerFile, type Served, serve } from "../helpers/harness.js";
import { isolatedAwsProcessEnv, refusedPort } from "../helpers/services.js";
import { ADMIN_TOKEN, admin, eventually, type TestServer, testServer } from "./helpers.js";

// The in-process servers (and the SDK clients below) talk to moto through the standard variables.
const services = awsServicesPerFile();
const moto = {
  get endpoint() {
    return services.moto.endpoint;
  },
};
const discovery = {
  get url() {
    return services.discovery.url;
  },
};
const dirs: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), "pandacluster-e2e-"));
  dirs.push(dir);
  return dir;
};

// Each test starts from an empty emulator (with key pair k): no test sees another's stacks.
beforeEach(() => services.reset());
after(async () => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

interface ClusterJson {
  stack_name: string;
  region: string;
  status: string;
  reasons: string[];
  result: {
    status: string;
    cluster: {
      stack_id: string;
      nodes: { instance_id: string; private_ip: string }[];
      dns: { records: unknown[] };
    };
  } | null;
}

async function untilStatus(
  t: TestServer,
  headers: Record<string, string>,
  name: string,
  statuses: string[],
  timeoutMs = 60_000,
) {
  return eventually(
    async () => {
      const got = (
        await t.server.app.inject({ method: "GET", url: `/clusters/${name}`, headers })
      ).json<ClusterJson>();
      return statuses.includes(got.status) ? got : undefined;
    },
    timeoutMs,
    `${name} to be ${statuses.join(" or ")}`,
  );
}

describe("API server end to end (moto + local etcd discovery)", () => {
  it("profile → create → online → events → DELETE → deleted, checked with an independent client", async () => {
    const t = await testServer({
      pollIntervalMs: 200,
      env: { PANDACLUSTER_DISCOVERY_SERVICES: discovery.url },
    });
    try {
      const alice = await t.profile("alice");
      const created = await t.server.app.inject({
        method: "POST",
        url: "/clusters",
        headers: alice,
        // A discovery service given: the (deprecated) discovery mode; 5 members (odd, as etcd wants).
        payload: { stack_name: "life", key_pair: "k", cluster_size: 5, discovery_service: discovery.url },
      });
      assert.equal(created.statusCode, 202, created.body);
      assert.equal(created.headers.location, "/clusters/life");
      const online = await untilStatus(t, alice, "life", ["online", "failed"]);
      assert.equal(online.status, "online", JSON.stringify(online.reasons));
      const result = online.result;
      assert.ok(result);
      assert.equal(result.status, "success");
      assert.equal(result.cluster.nodes.length, 5);
      // What the server says is what EC2 says.
      const reservations = await new EC2Client({}).send(
        new DescribeInstancesCommand({
          InstanceIds: result.cluster.nodes.map((n) => n.instance_id),
        }),
      );
      const instances = (reservations.Reservations ?? []).flatMap((r) => r.Instances ?? []);
      assert.equal(instances.length, 5);
      assert.deepEqual(
        instances.map((i) => i.PrivateIpAddress).sort(),
        result.cluster.nodes.map((n) => n.private_ip).sort(),
      );

      const events = (
        await t.server.app.inject({ method: "GET", url: "/clusters/life/events", headers: alice })
      ).json<{ seq: number; step: string; message: string }[]>();
      const steps = new Set(events.map((e) => e.step));
      for (const step of ["launch", "formation", "nodes", "customize"])
        assert.ok(steps.has(step), `no ${step} event`);
      assert.ok(
        events.some((e) => /discovery URL from http:\/\/127\.0\.0\.1/.test(e.message)),
        "discovery not from the local service",
      );
      assert.equal(events.at(-1)?.message, "cluster is online");

      const deleting = await t.server.app.inject({ method: "DELETE", url: "/clusters/life", headers: alice });
      assert.equal(deleting.statusCode, 202);
      assert.equal(deleting.json().status, "deleting");
      const deleted = await untilStatus(t, alice, "life", ["deleted", "failed"]);
      assert.equal(deleted.status, "deleted", JSON.stringify(deleted.reasons));
      const stack = await new CloudFormationClient({}).send(
        new DescribeStacksCommand({ StackName: result.cluster.stack_id }),
      );
      assert.equal(stack.Stacks?.[0]?.StackStatus, "DELETE_COMPLETE");
    } finally {
      await t.close();
    }
  });

  it("50 concurrent creates all reach online, with one stack-status call per poll cycle", async () => {
    const t = await testServer({
      pollIntervalMs: 250,
      concurrency: 8,
      env: { PANDACLUSTER_DISCOVERY_SERVICES: discovery.url },
    });
    try {
      const alice = await t.profile("alice");
      const names = Array.from({ length: 50 }, (_, i) => `many-${i}`);
      const answers = await Promise.all(
        names.map((name) =>
          t.server.app.inject({
            method: "POST",
            url: "/clusters",
            headers: alice,
            payload: { stack_name: name, key_pair: "k", discovery_service: discovery.url },
          }),
        ),
      );
      assert.deepEqual(
        answers.map((a) => a.statusCode),
        names.map(() => 202),
      );
      await eventually(
        async () => {
          const list = (await t.server.app.inject({ method: "GET", url: "/clusters", headers: alice })).json<
            { stack_name: string; status: string }[]
          >();
          const ours = list.filter((c) => c.stack_name.startsWith("many-"));
          const failed = ours.filter((c) => c.status === "failed");
          if (failed.length > 0) {
            const why = (await untilStatus(t, alice, failed[0]?.stack_name ?? "", ["failed"])).reasons;
            throw new Error(`${failed.length} failed, e.g. ${failed[0]?.stack_name}: ${why.join("; ")}`);
          }
          return ours.length === 50 && ours.every((c) => c.status === "online") ? true : undefined;
        },
        240_000,
        "50 clusters online",
      );
      const stats = t.server.poller.stats();
      assert.equal(stats.max_calls_per_cycle, 1, JSON.stringify(stats));
    } finally {
      await t.close();
    }
  });

  it("two profiles with different access keys of one AWS account (STS: 123456789012): the second create of a name → 409; STS asked once per credentials", async () => {
    // The library itself, with its STS lookups counted by credentials.
    const asked: string[] = [];
    const engine: Engine = {
      ...libraryEngine,
      accountId: (credentials, region) => {
        asked.push(credentials?.aws?.id ?? "server chain");
        return libraryEngine.accountId(credentials, region);
      },
    };
    const t = await testServer({
      engine,
      pollIntervalMs: 200,
      env: { PANDACLUSTER_DISCOVERY_SERVICES: discovery.url },
    });
    const secrets = ["one/Secret+Key0000000000000000000000000", "two/Secret+Key0000000000000000000000000"];
    try {
      // moto answers GetCallerIdentity with its one account for every access key.
      const one = await t.profile("one", { aws: { id: "AKIAONE0000000000001", secret: secrets[0] } });
      const two = await t.profile("two", { aws: { id: "AKIATWO0000000000002", secret: secrets[1] } });
      // The server's own credentials (AWS_ACCESS_KEY_ID=testing): the same account too.
      const three = await t.profile("three");
      const body = { stack_name: "shared", key_pair: "k", discovery_service: discovery.url };
      const first = await t.server.app.inject({
        method: "POST",
        url: "/clusters",
        headers: one,
        payload: body,
      });
      assert.equal(first.statusCode, 202, first.body);
      const store = t.server.store as SqliteStore;
      const row = store.db.prepare("SELECT account FROM clusters WHERE stack_name = 'shared'").get() as {
        account: string;
      };
      assert.equal(row.account, "aws:123456789012");

      const second = await t.server.app.inject({
        method: "POST",
        url: "/clusters",
        headers: two,
        payload: body,
      });
      assert.equal(second.statusCode, 409, second.body);
      assert.match(
        second.json<{ messages: string[] }>().messages[0] ?? "",
        /the name shared is taken in us-east-1 for this AWS account/,
      );
      // More requests, some at once: no more STS calls for credentials already asked about.
      const more = await Promise.all(
        [one, two, three, three, three].map((headers) =>
          t.server.app.inject({ method: "POST", url: "/clusters", headers, payload: body }),
        ),
      );
      assert.deepEqual(
        more.map((a) => a.statusCode),
        [409, 409, 409, 409, 409],
      );
      assert.deepEqual(asked.sort(), ["AKIAONE0000000000001", "AKIATWO0000000000002", "server chain"]);
      const rows = store.db
        .prepare("SELECT count(*) AS n FROM clusters WHERE stack_name = 'shared'")
        .get() as {
        n: number;
      };
      assert.equal(rows.n, 1);

      // Leave moto as we found it.
      const online = await untilStatus(t, one, "shared", ["online", "failed"]);
      assert.equal(online.status, "online", JSON.stringify(online.reasons));
      await t.server.app.inject({ method: "DELETE", url: "/clusters/shared", headers: one });
      await untilStatus(t, one, "shared", ["deleted", "failed"]);
      for (const secret of secrets) assert.ok(!t.log.text.includes(secret), "a secret is in the log");
    } finally {
      await t.close();
    }
  });

  it("STS unreachable: the create → 503 naming the problem, without any secret; nothing recorded", async () => {
    // A loopback port that nothing listens on, for STS only (AWS_ENDPOINT_URL_STS wins over AWS_ENDPOINT_URL).
    const closed = await refusedPort();
    const saved = process.env.AWS_ENDPOINT_URL_STS;
    process.env.AWS_ENDPOINT_URL_STS = `http://127.0.0.1:${closed}`;
    const t = await testServer({ env: { PANDACLUSTER_DISCOVERY_SERVICES: discovery.url } });
    const secret = "down/Secret+Key000000000000000000000000";
    try {
      const down = await t.profile("down", { aws: { id: "AKIADOWN000000000003", secret } });
      const answer = await t.server.app.inject({
        method: "POST",
        url: "/clusters",
        headers: down,
        payload: { stack_name: "no-sts", key_pair: "k", discovery_service: discovery.url },
      });
      assert.equal(answer.statusCode, 503, answer.body);
      assert.ok(answer.headers["retry-after"]);
      const json = answer.json<{ error: string; messages: string[] }>();
      assert.equal(json.error, "AWS account unknown");
      assert.match(json.messages[0] ?? "", /STS GetCallerIdentity\) failed: cannot reach AWS/);
      for (const text of [answer.body, t.log.text]) {
        assert.ok(!text.includes(secret), "the secret is shown");
        assert.ok(!text.includes("AKIADOWN000000000003"), "the key id is shown");
      }
      assert.match(t.log.text, /the AWS account of the profile's credentials is unknown/);
      const get = await t.server.app.inject({ method: "GET", url: "/clusters/no-sts", headers: down });
      assert.equal(get.statusCode, 404);
    } finally {
      if (saved === undefined) delete process.env.AWS_ENDPOINT_URL_STS;
      else process.env.AWS_ENDPOINT_URL_STS = saved;
      await t.close();
    }
  });

  it("kill -9 of `pandacluster serve` during a create: the restarted server brings the cluster online", async () => {
    const dir = tempDir();
    const db = join(dir, "server.db");
    const env: NodeJS.ProcessEnv = {
      ...isolatedAwsProcessEnv(moto.endpoint),
      HOME: dir,
      PANDACLUSTER_ADMIN_TOKEN: ADMIN_TOKEN,
      PANDACLUSTER_POLL_MS: "200",
      // Every start holds leases of its own: the restarted server takes the job once this runs out.
      PANDACLUSTER_LEASE_MS: "3000",
      PANDACLUSTER_DISCOVERY_SERVICES: discovery.url,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
    };
    const first = await serve({ env, db });
    let second: Served | undefined;
    try {
      const profile = await fetch(`${first.url}/profiles`, {
        method: "POST",
        headers: { ...admin, "content-type": "application/json" },
        body: JSON.stringify({ name: "alice", email: "alice@example.com" }),
      });
      const headers = { authorization: `Bearer ${((await profile.json()) as { token: string }).token}` };
      const created = await fetch(`${first.url}/clusters`, {
        method: "POST",
        headers: { ...headers, "content-type": "application/json" },
        body: JSON.stringify({ stack_name: "crash", key_pair: "k", discovery_service: discovery.url }),
      });
      assert.equal(created.status, 202);
      // Kill it the moment CreateStack has gone through: the job is between launch and online.
      await eventually(
        async () => {
          const events = (await (await fetch(`${first.url}/clusters/crash/events`, { headers })).json()) as {
            message: string;
          }[];
          return events.some((e) => e.message.startsWith("CreateStack accepted")) ? true : undefined;
        },
        30_000,
        "CreateStack",
      );
      first.child.kill("SIGKILL");
      await first.exited;
      const store = new Database(db, { readonly: true });
      const row = store.prepare("SELECT status FROM clusters WHERE stack_name = 'crash'").get() as {
        status: string;
      };
      const job = store.prepare("SELECT phase FROM jobs").get() as { phase: string };
      store.close();
      assert.equal(row.status, "creating", "the create finished before the kill: nothing was tested");
      assert.notEqual(job.phase, "done");

      second = await serve({ env, db });
      const cluster = await eventually(
        async () => {
          const got = (await (
            await fetch(`${second?.url}/clusters/crash`, { headers })
          ).json()) as ClusterJson;
          return got.status === "online" || got.status === "failed" ? got : undefined;
        },
        60_000,
        "crash online",
      );
      assert.equal(cluster.status, "online", JSON.stringify(cluster.reasons));
      assert.equal(cluster.result?.cluster.nodes.length, 3);
      const events = (await (await fetch(`${second.url}/clusters/crash/events`, { headers })).json()) as {
        message: string;
      }[];
      assert.ok(events.some((e) => e.message.startsWith("resuming the create")));
      assert.equal(
        events.filter((e) => e.message.startsWith("create requested")).length,
        1,
        "an event was lost or doubled",
      );
      // Launched once, and the stack is there, complete.
      assert.equal(events.filter((e) => e.message.startsWith("CreateStack accepted")).length, 1);
      const stacks = await new CloudFormationClient({}).send(
        new DescribeStacksCommand({ StackName: "crash" }),
      );
      assert.equal(stacks.Stacks?.[0]?.StackStatus, "CREATE_COMPLETE");
      // SIGTERM: a graceful stop, exit 0.
      second.child.kill("SIGTERM");
      assert.equal(await second.exited, 0);
    } finally {
      first.child.kill("SIGKILL");
      second?.child.kill("SIGKILL");
    }
  });

  it("the CLI's --server mode: create, status, list, wait, destroy print what the local mode prints", async () => {
    const t = await testServer({
      pollIntervalMs: 200,
      env: { PANDACLUSTER_DISCOVERY_SERVICES: discovery.url },
    });
    await t.server.app.listen({ host: "127.0.0.1", port: 0 });
    const address = t.server.app.server.address();
    const url = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
    try {
      const token = (await t.profile("alice")).authorization.slice("Bearer ".length);
      const env = {
        ...isolatedAwsProcessEnv(moto.endpoint),
        PANDACLUSTER_TOKEN: token,
        // The CLI follows the server's event stream; were it polling, it would wait 10 minutes.
        PANDACLUSTER_REMOTE_POLL_MS: "600000",
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
      };
      const create = await runCli(
        ["create", "-n", "cli", "-k", "k", "--discovery-service", discovery.url, "--server", url],
        { env },
      );
      assert.equal(create.code, 0, create.stderr);
      assert.match(
        create.stdout,
        /^Cluster cli is ready in us-east-1 in .*: 3 nodes, Flatcar stable amd64, t3\.small\./,
      );
      assert.match(create.stderr, /CreateStack accepted/);
      // The result line says the cluster is ready; the server's own closing line is not repeated.
      assert.doesNotMatch(create.stderr, /cluster is online/);

      // Ctrl-C stops following, not the server's job, and says how to pick it up again.
      const interrupted = await runCli(
        ["create", "-n", "cli-int", "-k", "k", "--discovery-service", discovery.url, "--server", url],
        { env, signalWhen: { text: "create requested", signal: "SIGINT" } },
      );
      assert.equal(interrupted.code, 130, interrupted.stderr);
      assert.match(interrupted.stderr, /still being created by the server/);
      assert.match(
        interrupted.stderr,
        new RegExp(`pandacluster wait -n cli-int -r us-east-1 --server ${url}`),
      );
      const resumed = await runCli(["wait", "-n", "cli-int", "--server", url], { env });
      assert.equal(resumed.code, 0, resumed.stderr);
      assert.match(resumed.stdout, /^Cluster cli-int is ready/);

      // The same command, locally and through the server: the same output.
      const remote = await runCli(["status", "-n", "cli", "--server", url], { env });
      const local = await runCli(["status", "-n", "cli"], { env: { ...env, PANDACLUSTER_SERVER: "" } });
      assert.equal(remote.code, 0, remote.stderr);
      assert.equal(local.code, 0, local.stderr);
      assert.equal(remote.stdout, local.stdout);
      assert.match(remote.stdout, /CREATE_COMPLETE/);

      const json = await runCli(["status", "-n", "cli", "--json"], {
        env: { ...env, PANDACLUSTER_SERVER: url },
      });
      assert.equal(json.code, 0, json.stderr);
      assert.equal(JSON.parse(json.stdout).stack_name, "cli");

      const list = await runCli(["list", "--server", url], { env });
      assert.equal(list.code, 0, list.stderr);
      assert.match(list.stdout, /^\s+cli\s+online\s+3\s+stable\s+amd64/m);

      const waited = await runCli(["wait", "-n", "cli", "--server", url, "--json"], { env });
      assert.equal(waited.code, 0, waited.stderr);
      assert.equal(JSON.parse(waited.stdout).status, "success");

      const duplicate = await runCli(["create", "-n", "cli", "-k", "k", "--server", url], { env });
      assert.equal(duplicate.code, 1);
      assert.match(duplicate.stderr, /already online in us-east-1/);

      const badToken = await runCli(["list", "--server", url], {
        env: { ...env, PANDACLUSTER_TOKEN: "pcp_wrong" },
      });
      assert.equal(badToken.code, 1);
      assert.match(badToken.stderr, /did not accept PANDACLUSTER_TOKEN/);

      const noToken = await runCli(["list", "--server", url], { env: { ...env, PANDACLUSTER_TOKEN: "" } });
      assert.equal(noToken.code, 2);

      const missing = await runCli(["destroy", "-n", "nope", "--server", url], { env });
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /no cluster named nope/);

      const destroy = await runCli(["destroy", "-n", "cli", "--server", url], { env });
      assert.equal(destroy.code, 0, destroy.stderr);
      assert.match(destroy.stdout, /^cluster cli deleted from us-east-1 \(\d/i);
      assert.match(destroy.stderr, /\bdestroy +delete requested/);
      assert.doesNotMatch(
        destroy.stderr,
        /\b(launch|formation|nodes|customize) /,
        "not the create's history",
      );
      const again = await runCli(["destroy", "-n", "cli", "--server", url], { env });
      assert.equal(again.code, 0, again.stderr);
      assert.match(again.stdout, /already deleted/);
    } finally {
      await t.close();
    }
  });
});
