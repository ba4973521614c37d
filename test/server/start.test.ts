/** `pandacluster serve`'s start-up: the admin token, loopback by default, graceful stop. */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { describeDb } from "../../src/server/app.js";
import { startServer } from "../../src/server/start.js";
import { runCli } from "../helpers/cli.js";
import { FakeEngine } from "./fake-engine.js";
import { LogCapture } from "./helpers.js";

const dir = mkdtempSync(join(tmpdir(), "pandacluster-start-"));
after(() => rmSync(dir, { recursive: true, force: true }));

async function start(env: NodeJS.ProcessEnv) {
  const stderr = new LogCapture();
  const log = new LogCapture();
  const running = await startServer({
    host: "127.0.0.1",
    port: 0,
    db: join(dir, "server.db"),
    env,
    stderr,
    handleSignals: false,
    server: { engine: new FakeEngine(), logStream: log },
  });
  return { running, stderr, log };
}

describe("serve start-up", () => {
  it("generates the admin token on the first start, prints it once, keeps only its digest", async () => {
    const first = await start({});
    const match = /admin token \(shown only now[^)]*\): (\S+)/.exec(first.stderr.text);
    assert.ok(match?.[1], first.stderr.text);
    const token = match[1];
    assert.match(first.stderr.text, /listening on http:\/\/127\.0\.0\.1:\d+/);
    const address = first.running.server.app.server.address();
    assert.equal(typeof address === "object" && address ? address.address : "", "127.0.0.1");
    const created = await fetch(`${first.running.url}/profiles`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "alice", email: "alice@example.com" }),
    });
    assert.equal(created.status, 201);
    await first.running.shutdown("test");
    await first.running.closed;
    assert.ok(!first.log.text.includes(token), "the admin token is in the log");
    assert.equal(statSync(join(dir, "server.key")).mode & 0o777, 0o600);
    assert.equal(statSync(join(dir, "server.db")).mode & 0o777, 0o600);

    const second = await start({});
    try {
      assert.doesNotMatch(second.stderr.text, /admin token/);
      const listed = await fetch(`${second.running.url}/profiles`, {
        headers: { authorization: `Bearer ${token}` },
      });
      assert.equal(listed.status, 200);
      const wrong = await fetch(`${second.running.url}/profiles`, {
        headers: { authorization: "Bearer pca_other" },
      });
      assert.equal(wrong.status, 401);
    } finally {
      await second.running.shutdown("test");
    }
  });

  it("PANDACLUSTER_ADMIN_TOKEN wins over a stored one and is never printed", async () => {
    const env = { PANDACLUSTER_ADMIN_TOKEN: "env-admin-token-0123456789abcdef" };
    const { running, stderr } = await start(env);
    try {
      assert.doesNotMatch(stderr.text, /admin token/);
      assert.ok(!stderr.text.includes(env.PANDACLUSTER_ADMIN_TOKEN));
      const listed = await fetch(`${running.url}/profiles`, {
        headers: { authorization: `Bearer ${env.PANDACLUSTER_ADMIN_TOKEN}` },
      });
      assert.equal(listed.status, 200);
    } finally {
      await running.shutdown("test");
    }
    await assert.rejects(start({ PANDACLUSTER_ADMIN_TOKEN: "short" }), /at least 16 characters/);
  });
});

describe("serve --db with a PostgreSQL URL that cannot be used", () => {
  it("a URL that does not parse is bad input (exit 2), never echoed: it may hold a password", async () => {
    const run = await runCli(["serve", "--port", "0", "--db", "postgresql://a:hunter2@[::1:5432/x"], {
      env: { HOME: dir },
    });
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, /^error: --db: the PostgreSQL URL does not parse/);
    assert.ok(!run.stderr.includes("hunter2"), run.stderr);
  });

  it("an unreachable database is named without its password (exit 1)", async () => {
    const run = await runCli(["serve", "--port", "0", "--db", "postgres://nobody:hunter2@127.0.0.1:1/x"], {
      env: { HOME: dir },
    });
    assert.equal(run.code, 1, run.stderr);
    assert.match(
      run.stderr,
      /cannot use the database PostgreSQL postgres:\/\/nobody:\*\*\*@127\.0\.0\.1:1\/x: /,
    );
    assert.ok(!run.stderr.includes("hunter2"), run.stderr);
  });

  it("a password in the URL's query (?password=) is shown as *** at start and in errors", async () => {
    assert.equal(
      describeDb("postgres://alice@127.0.0.1:5432/db?password=hunter2&sslmode=disable"),
      "PostgreSQL postgres://alice@127.0.0.1:5432/db?password=***&sslmode=disable",
    );
    assert.equal(
      describeDb("postgresql://alice:hunter2@127.0.0.1/db?sslpassword=hunter3"),
      "PostgreSQL postgresql://alice:***@127.0.0.1/db?sslpassword=***",
    );
    const run = await runCli(["serve", "--port", "0"], {
      env: { HOME: dir, PANDACLUSTER_DATABASE_URL: "postgres://nobody@127.0.0.1:1/x?password=hunter2" },
    });
    assert.equal(run.code, 1, run.stderr);
    assert.match(
      run.stderr,
      /cannot use the database PostgreSQL postgres:\/\/nobody@127\.0\.0\.1:1\/x\?password=\*\*\*/,
    );
    assert.ok(!run.stderr.includes("hunter2"), run.stderr);
  });

  it("numeric variables are bounded: an interval past Node's timer range, 0, or junk is refused (exit 2) naming the range", async () => {
    for (const [name, value] of [
      ["PANDACLUSTER_RECONCILE_MS", "99999999999"],
      ["PANDACLUSTER_POLL_MS", "0"],
      ["PANDACLUSTER_LEASE_MS", "1e3"],
      ["PANDACLUSTER_RETRY_MS", "-5"],
      ["PANDACLUSTER_JOB_CONCURRENCY", "100000"],
    ] as const) {
      const run = await runCli(["serve", "--port", "0", "--db", ":memory:"], {
        env: { HOME: dir, [name]: value },
      });
      assert.equal(run.code, 2, `${name}=${value}: ${run.stderr}`);
      assert.match(run.stderr, new RegExp(`${name} must be a whole number from \\d+ to \\d+`), run.stderr);
    }
    const remote = await runCli(["list", "--server", "http://127.0.0.1:1"], {
      env: { HOME: dir, PANDACLUSTER_TOKEN: "t", PANDACLUSTER_REMOTE_POLL_MS: "99999999999" },
    });
    assert.equal(remote.code, 2, remote.stderr);
    assert.match(remote.stderr, /PANDACLUSTER_REMOTE_POLL_MS must be a whole number from 10 to 600000/);
  });
});
