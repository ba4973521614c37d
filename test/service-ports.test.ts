/**
 * Two test runs side by side (issue 20): a service's port is picked free, then the service binds
 * it; in between, another run's server can take it. The service then fails to bind (and exits),
 * while the other run's server answers the readiness probe on that port as if it were ours. Each
 * start-up here is given, as its first pick, a port that another live server of the same kind
 * holds: the start-up must not take that server for its own, and must come up on another port.
 * (Shown failing without the ownership checks: with the old probes, etcd's GET /v2/keys/,
 * discovery's GET /new, PostgreSQL's SELECT 1, and moto's /moto-api/ alone, each start-up here
 * returned the other server's port.)
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import {
  type Discovery,
  freePort,
  type Moto,
  type PortPicker,
  type Postgres,
  refusedPort,
  startDiscovery,
  startEtcdMember,
  startMoto,
  startPostgres,
} from "./helpers/services.js";

/** Gives `taken` at the given pick numbers (1-based), free ports otherwise; counts the picks. */
function pickerGiving(taken: Record<number, number>): PortPicker & { picks: number } {
  const picker = Object.assign(
    async () => {
      picker.picks += 1;
      return taken[picker.picks] ?? (await freePort());
    },
    { picks: 0 },
  );
  return picker;
}

async function etcdName(endpoint: string): Promise<string> {
  const answer = await fetch(`${endpoint}/v2/stats/self`);
  return ((await answer.json()) as { name: string }).name;
}

describe("a service whose port another server took between the pick and the bind", () => {
  let other: Discovery;
  const started: { stop(): Promise<void> }[] = [];
  before(async () => {
    other = await startDiscovery();
  });
  after(async () => {
    await Promise.all(started.map((s) => s.stop()));
    await other?.stop();
  });

  it("etcd: does not take the other run's etcd for its own; starts on another port", async () => {
    const otherPort = Number(new URL(other.etcdEndpoint).port);
    // Pick 1 is etcd's client port (pick 2 its peer port).
    const picker = pickerGiving({ 1: otherPort });
    const mine = await startDiscovery({ pickPort: picker });
    started.push(mine);
    assert.ok(picker.picks >= 4, "etcd was started again on new ports");
    assert.notEqual(mine.etcdEndpoint, other.etcdEndpoint);
    assert.notEqual(await etcdName(mine.etcdEndpoint), await etcdName(other.etcdEndpoint));
  });

  it("the discovery service: does not take the other run's service for its own", async () => {
    const otherPort = Number(new URL(other.url).port);
    // Picks 1 and 2 are etcd's ports; pick 3 is the discovery service's (more picks only if a real
    // clash made etcd start again).
    const picker = pickerGiving({ 3: otherPort });
    const mine = await startDiscovery({ pickPort: picker });
    started.push(mine);
    assert.ok(picker.picks >= 4, "the discovery service was started again on a new port");
    assert.notEqual(mine.url, other.url);
    const token = await (await fetch(`${mine.url}/new?size=3`)).text();
    assert.ok(token.startsWith(`${mine.url}/`), token);
  });

  it("an etcd member: starts again on other ports when one is taken, and joins", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pc-ports-"));
    try {
      const url = (await (await fetch(`${other.url}/new?size=1`)).text()).trim();
      const taken = Number(new URL(other.etcdEndpoint).port);
      const picker = pickerGiving({ 1: taken });
      const member = await startEtcdMember(url, "solo", dir, { pickPort: picker });
      started.push(member);
      assert.ok(picker.picks >= 4, "the member was started again on new ports");
      assert.notEqual(member.clientUrl, other.etcdEndpoint);
      // The cluster of one forms: the member serves, under its own name (etcd's v3 JSON gateway:
      // a member started this way has no v2 API).
      const names = async () => {
        const answer = await fetch(`${member.clientUrl}/v3/cluster/member/list`, {
          method: "POST",
          body: "{}",
        });
        return ((await answer.json()) as { members?: { name?: string }[] }).members?.map((m) => m.name);
      };
      const deadline = Date.now() + 60_000;
      let seen: (string | undefined)[] | undefined;
      while (Date.now() < deadline && seen?.[0] !== "solo") {
        seen = await names().catch(() => undefined);
        if (seen?.[0] !== "solo") await new Promise((resolve) => setTimeout(resolve, 250));
      }
      assert.deepEqual(seen, ["solo"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("PostgreSQL whose port another PostgreSQL took", () => {
  let other: Postgres | undefined;
  let mine: Postgres | undefined;
  after(async () => {
    await Promise.all([other?.stop(), mine?.stop()]);
  });

  it("does not take the other server for its own; starts on another port", async () => {
    other = await startPostgres();
    const picker = pickerGiving({ 1: other.port });
    mine = await startPostgres({ pickPort: picker });
    assert.ok(picker.picks >= 2, "postgres was started again on a new port");
    assert.notEqual(mine.port, other.port);
    const dataDirectory = async (url: string) => {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        return (await client.query<{ d: string }>("SELECT current_setting('data_directory') AS d")).rows[0]
          ?.d;
      } finally {
        await client.end();
      }
    };
    assert.notEqual(await dataDirectory(mine.url), await dataDirectory(other.url));
  });
});

describe("moto whose port another moto took", () => {
  let other: Moto | undefined;
  let mine: Moto | undefined;
  after(async () => {
    await Promise.all([other?.stop(), mine?.stop()]);
  });

  it("does not take the other moto for its own; starts on another port", async () => {
    other = await startMoto({ fixes: false });
    const picker = pickerGiving({ 1: other.port });
    mine = await startMoto({ fixes: false, pickPort: picker });
    assert.ok(picker.picks >= 2, "moto was started again on a new port");
    assert.notEqual(mine.port, other.port);
  });
});

describe("refusedPort", () => {
  it("gives a port that refuses connections", async () => {
    const port = await refusedPort();
    await assert.rejects(
      fetch(`http://127.0.0.1:${port}/`),
      (error: Error & { cause?: { code?: string } }) => {
        assert.equal(error.cause?.code, "ECONNREFUSED");
        return true;
      },
    );
  });
});
