import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { newDiscoveryUrl } from "../src/discovery.js";
import { type Discovery, type EtcdMember, startDiscovery, startEtcdMember } from "./helpers/services.js";

/**
 * The proof that a discovery URL works: real etcd processes, started as Flatcar's etcd-member is
 * (with --discovery), form exactly the cluster the URL was asked for, and no bigger one.
 */
describe("a discovery URL from pandacluster bootstraps a real etcd cluster of its size", () => {
  let discovery: Discovery;
  let dir: string;
  const members: EtcdMember[] = [];
  before(async () => {
    discovery = await startDiscovery();
    dir = mkdtempSync(join(tmpdir(), "pc-bootstrap-"));
  });
  after(async () => {
    await Promise.all(members.map((m) => m.stop()));
    await discovery?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("3 members form one cluster; a 4th is turned away", async () => {
    const url = await newDiscoveryUrl(discovery.url, 3);
    assert.ok(url.startsWith(`${discovery.url}/`), url);
    for (const name of ["node-1", "node-2", "node-3"]) members.push(await startEtcdMember(url, name, dir));

    const deadline = Date.now() + 30_000;
    let names: string[] = [];
    while (Date.now() < deadline) {
      names = await memberNames(members[0] as EtcdMember);
      if (names.length === 3 && names.every(Boolean)) break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    assert.deepEqual(names.sort(), ["node-1", "node-2", "node-3"], "all three joined one cluster");
    // Every member sees the same cluster, whichever one is asked.
    assert.deepEqual((await memberNames(members[2] as EtcdMember)).sort(), names);

    const fourth = await startEtcdMember(url, "node-4", dir);
    members.push(fourth);
    let timer: NodeJS.Timeout | undefined;
    const code = await Promise.race([
      fourth.exited,
      new Promise((resolve) => {
        timer = setTimeout(() => resolve("running"), 20_000);
      }),
    ]);
    clearTimeout(timer);
    assert.notEqual(code, "running", "the 4th member should have been turned away");
    assert.notEqual(code, 0);
    assert.match(readFileSync(fourth.logPath, "utf8"), /cluster is full/i);
    assert.equal((await memberNames(members[0] as EtcdMember)).length, 3);
  });
});

/** The member list through etcd's v3 JSON gateway. */
async function memberNames(member: EtcdMember): Promise<string[]> {
  try {
    const answer = await fetch(`${member.clientUrl}/v3/cluster/member/list`, { method: "POST", body: "{}" });
    if (!answer.ok) return [];
    const body = (await answer.json()) as { members?: { name?: string }[] };
    return (body.members ?? []).map((m) => m.name ?? "");
  } catch {
    return [];
  }
}
