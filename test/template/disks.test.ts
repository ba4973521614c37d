/**
 * The bundled instance-store units (units/format-ephemeral.service, units/var-lib-docker.mount).
 *
 * systemd itself (systemd-analyze verify, on this machine) checks the units as a node gets them: it
 * found an ordering cycle in the seed's pair (a mount is Before=local-fs.target, the format service
 * After=sysinit.target) that the bundled mount's `nofail` breaks.
 *
 * The disk-finding script is run for real by /bin/sh, exactly as systemd would pass it (continuation
 * lines joined, `$$` turned into `$`). What the emulator of a node cannot give is stood in for: the
 * by-id folder is a temporary one with links named as udev names Nitro's disks
 * (nvme-Amazon_EC2_NVMe_Instance_Storage_<serial>, its `_1` namespace alias and `-part1`, and an EBS
 * volume's nvme-Amazon_Elastic_Block_Store_<vol>), and udevadm, blkid, lsblk, wipefs and mkfs.btrfs
 * are stand-ins on PATH that log their arguments and answer as the real ones would for the case.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { defaultUnits, loadUnits } from "../../src/template/units.js";
import { VARIABLE_DEFAULTS } from "../../src/template/variables.js";

function bundled(variables: Record<string, string> = {}): Map<string, string> {
  const units = loadUnits(defaultUnits(), {
    ...VARIABLE_DEFAULTS,
    channel: "stable",
    arch: "amd64",
    ...variables,
  });
  return new Map(units.map((u) => [u.name, u.content ?? ""]));
}

/** The shell text of the unit's ExecStart=/bin/sh -c '…', as systemd hands it to sh. */
function script(unit: string): string {
  const joined = unit.replace(/\\\n/g, " ");
  const line = joined.split("\n").find((l) => l.startsWith("ExecStart=/bin/sh -c '"));
  assert.ok(line, "an ExecStart running sh");
  return line.slice("ExecStart=/bin/sh -c '".length, -1).replaceAll("$$", "$");
}

interface Node {
  root: string;
  byId: string;
  link: string;
  log: string;
}

function fakeNode(disks: Record<string, string>, answers: { type?: string; mounted?: string } = {}): Node {
  const root = mkdtempSync(join(tmpdir(), "pandacluster-disks-"));
  const byId = join(root, "by-id");
  const dev = join(root, "dev");
  const bin = join(root, "bin");
  for (const dir of [byId, dev, bin]) mkdirSync(dir);
  for (const [name, device] of Object.entries(disks)) {
    if (!existsSync(join(dev, device))) writeFileSync(join(dev, device), "");
    symlinkSync(join(dev, device), join(byId, name));
  }
  const log = join(root, "log");
  writeFileSync(log, "");
  const tool = (name: string, body: string) => {
    writeFileSync(join(bin, name), `#!/bin/sh\necho "${name} $*" >> ${log}\n${body}\n`);
    chmodSync(join(bin, name), 0o755);
  };
  tool("udevadm", "exit 0");
  tool("blkid", `echo "${answers.type ?? ""}"`);
  tool("lsblk", `echo "${answers.mounted ?? ""}"`);
  tool("wipefs", "exit 0");
  tool("mkfs.btrfs", "exit 0");
  return { root, byId, link: join(root, "run", "pandacluster", "docker-disk"), log };
}

function run(node: Node) {
  const units = bundled({
    instance_store_disks: `${node.byId}/nvme-Amazon_EC2_NVMe_Instance_Storage_*`,
    docker_disk: node.link,
  });
  const result = spawnSync("/bin/sh", ["-c", script(units.get("format-ephemeral.service") ?? "")], {
    encoding: "utf8",
    env: { PATH: `${join(node.root, "bin")}:/usr/bin:/bin` },
  });
  const calls = readFileSync(node.log, "utf8").trim().split("\n").filter(Boolean);
  return { status: result.status, stdout: result.stdout, stderr: result.stderr, calls };
}

const INSTANCE_STORE = "nvme-Amazon_EC2_NVMe_Instance_Storage_AWS1B2C3D4E5F6A7B8C9";
const EBS = "nvme-Amazon_Elastic_Block_Store_vol0123456789abcdef0";

describe("the bundled instance-store units", () => {
  it("systemd-analyze verify accepts them as a node gets them (no ordering cycle)", () => {
    const folder = mkdtempSync(join(tmpdir(), "pandacluster-units-"));
    const paths = [...bundled()].map(([name, content]) => {
      writeFileSync(join(folder, name), content);
      return join(folder, name);
    });
    const result = spawnSync("systemd-analyze", ["verify", "--man=no", ...paths], { encoding: "utf8" });
    assert.notEqual(
      result.error?.message.includes("ENOENT"),
      true,
      "systemd-analyze is not on PATH (Debian: systemd)",
    );
    assert.equal(result.status, 0, result.stderr);
    assert.doesNotMatch(result.stderr, /cycl/i);
  });

  it("a type without instance store: nothing is touched, the unit succeeds, no link (the mount is then skipped)", () => {
    const node = fakeNode({ [EBS]: "nvme1n1", [`${EBS}-part1`]: "nvme1n1p1" });
    const { status, stdout, calls } = run(node);
    assert.equal(status, 0);
    assert.match(stdout, /no instance-store NVMe disk: \/var\/lib\/docker stays on the root volume/);
    assert.deepEqual(calls, ["udevadm settle"]);
    assert.equal(existsSync(node.link), false);
    assert.match(
      bundled().get("var-lib-docker.mount") ?? "",
      /^ConditionPathExists=\/run\/pandacluster\/docker-disk$/m,
    );
  });

  it("an instance-store disk that came up as nvme1n1 while the EBS root is nvme0n1: that disk, by its stable name, is formatted and linked", () => {
    const node = fakeNode({
      [EBS]: "nvme0n1",
      [INSTANCE_STORE]: "nvme1n1",
      [`${INSTANCE_STORE}_1`]: "nvme1n1",
      [`${INSTANCE_STORE}-part1`]: "nvme1n1p1",
    });
    const { status, calls } = run(node);
    const disk = join(node.root, "dev", "nvme1n1");
    assert.equal(status, 0);
    assert.deepEqual(calls, [
      "udevadm settle",
      `blkid -s TYPE -o value ${disk}`,
      `lsblk -nro MOUNTPOINT ${disk}`,
      `wipefs -a ${disk}`,
      `mkfs.btrfs -f ${disk}`,
    ]);
    assert.equal(readlinkSync(node.link), disk);
  });

  it("an instance-store disk that is nvme0n1 (EBS root elsewhere): never the EBS volume", () => {
    const node = fakeNode({ [EBS]: "nvme1n1", [INSTANCE_STORE]: "nvme0n1" });
    const { status, calls } = run(node);
    assert.equal(status, 0);
    assert.ok(
      calls.every((c) => !c.includes("nvme1n1")),
      calls.join("\n"),
    );
    assert.equal(readlinkSync(node.link), join(node.root, "dev", "nvme0n1"));
  });

  it("a disk that already holds btrfs (a reboot keeps the instance store) keeps its data and is linked again", () => {
    const node = fakeNode({ [INSTANCE_STORE]: "nvme1n1" }, { type: "btrfs" });
    const { status, calls } = run(node);
    assert.equal(status, 0);
    assert.ok(!calls.some((c) => /^(wipefs|mkfs)/.test(c)), calls.join("\n"));
    assert.equal(readlinkSync(node.link), join(node.root, "dev", "nvme1n1"));
  });

  it("a disk that is mounted is never wiped: the unit fails and says why", () => {
    const node = fakeNode({ [INSTANCE_STORE]: "nvme1n1" }, { mounted: "/mnt/data" });
    const { status, stdout, calls } = run(node);
    assert.equal(status, 1);
    assert.match(stdout, /nvme1n1 is mounted: not formatted/);
    assert.ok(!calls.some((c) => /^(wipefs|mkfs)/.test(c)), calls.join("\n"));
    assert.equal(existsSync(node.link), false);
  });
});
