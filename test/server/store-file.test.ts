/**
 * Issue 7, low items on the server's store file: a store others may write (or that belongs to
 * someone else) is refused at start (exit 2, naming the fix); a corrupt store's error names the
 * file; /healthz says 503 once the store file is deleted under the running server.
 */
import assert from "node:assert/strict";
import { chmodSync, chownSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { UsageError } from "../../src/errors.js";
import { createServer } from "../../src/server/app.js";
import { runCli } from "../helpers/cli.js";
import { FakeEngine } from "./fake-engine.js";
import { LogCapture } from "./helpers.js";

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "pc-store-file-"));
  dirs.push(dir);
  return dir;
}
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const env = {
  PANDACLUSTER_ADMIN_TOKEN: "test-admin-token-0123456789abcdef",
  PANDACLUSTER_SECRET_KEY: "22".repeat(32),
};
const open = (db: string) =>
  createServer({ db, env, engine: new FakeEngine(), logStream: new LogCapture(), resume: false });

describe("the store file (issue 7, low)", () => {
  for (const [mode, who] of [
    [0o666, /writable by its group and everyone \(mode 666\)/],
    [0o620, /writable by its group \(mode 620\)/],
    [0o602, /writable by everyone \(mode 602\)/],
  ] as const) {
    it(`a store of mode ${mode.toString(8)} is refused at start, naming the fix`, async () => {
      const db = join(tempDir(), "server.db");
      writeFileSync(db, "");
      chmodSync(db, mode);
      await assert.rejects(open(db), (error: unknown) => {
        assert.ok(error instanceof UsageError, String(error));
        assert.match(error.message, who);
        assert.match(error.message, new RegExp(`chmod 600 ${db}`));
        return true;
      });
    });
  }

  it("`pandacluster serve` on a world-writable store exits 2 with that message, nothing listening", async () => {
    const dir = tempDir();
    const db = join(dir, "server.db");
    writeFileSync(db, "");
    chmodSync(db, 0o666);
    const config = join(dir, "config.cson");
    writeFileSync(config, "{}\n", { mode: 0o600 });
    const run = await runCli(["serve", "--db", db, "--port", "0"], {
      env: { HOME: dir, PANDACLUSTER_CONFIG: config, ...env },
      timeoutMs: 30_000,
    });
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, /is writable by its group and everyone/);
    assert.doesNotMatch(run.stderr, /listening/);
  });

  it("a store owned by another user is refused", {
    skip: process.getuid?.() !== 0 && "needs root to chown",
  }, async () => {
    const db = join(tempDir(), "server.db");
    writeFileSync(db, "", { mode: 0o600 });
    chownSync(db, 65534, 65534);
    await assert.rejects(open(db), /belongs to user id 65534, not to this server's user/);
  });

  it("a corrupt store's error names the file", async () => {
    const db = join(tempDir(), "server.db");
    writeFileSync(
      db,
      "this is not an SQLite database, but it is long enough to look like a header\n".repeat(20),
      {
        mode: 0o600,
      },
    );
    await assert.rejects(open(db), (error: unknown) => {
      assert.match((error as Error).message, new RegExp(`the store ${db} cannot be used: .*not a database`));
      return true;
    });
  });

  it("/healthz says 503 once the store file is deleted", async () => {
    const db = join(tempDir(), "server.db");
    const server = await open(db);
    try {
      assert.equal((await server.app.inject({ method: "GET", url: "/healthz" })).statusCode, 200);
      unlinkSync(db);
      const answer = await server.app.inject({ method: "GET", url: "/healthz" });
      assert.equal(answer.statusCode, 503, answer.body);
      assert.doesNotMatch(answer.body, new RegExp(db), "a public route names the server's files");
    } finally {
      await server.close();
    }
  });
});
