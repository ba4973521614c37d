/**
 * etcd's upgrade rules as `upgrade --etcd-version` applies them (issue 17): from 3.5 below 3.5.26
 * only to 3.5.26 or later within 3.5; 3.6 only from 3.5.26 or later; one minor at a time; never back
 * to an older minor. Every refusal names its rule, and the options layer refuses a version the build
 * would refuse before any AWS call (exit 2 on the CLI, see test/cli/upgrade-etcd.test.ts).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { UsageError } from "../../src/errors.js";
import { validateOptions } from "../../src/options.js";
import {
  compareVersions,
  ETCD_UPGRADE_GUIDE,
  etcdMoveProblem,
  MIN_ETCD_VERSION,
} from "../../src/template/etcd/version.js";

describe("etcd's upgrade rules", () => {
  it("allows patch moves within a minor (from 3.5.26 on), and 3.5.26+ → 3.6, 3.6 → 3.7", () => {
    for (const [from, to] of [
      ["3.5.26", "3.5.27"],
      ["3.5.27", "3.5.26"],
      ["3.5.26", "3.6.0"],
      ["3.5.27", "3.6.4"],
      ["3.6.4", "3.6.9"],
      ["3.6.4", "3.7.1"],
      ["3.5.16", "3.5.26"],
      ["3.5.16", "3.5.27"],
    ] as const) {
      assert.equal(etcdMoveProblem(from, to), undefined, `${from} → ${to}`);
    }
    assert.equal(etcdMoveProblem("3.5.27", "3.5.27"), undefined, "no move is no problem");
  });

  it("below 3.5.26 the only move is to 3.5.26 or later within 3.5 (the zombie-member fix)", () => {
    const to36 = etcdMoveProblem("3.5.16", "3.6.4");
    assert.match(to36 ?? "", /3\.6 only from 3\.5\.26 or later/);
    assert.match(to36 ?? "", /zombie members/);
    assert.match(to36 ?? "", /move to 3\.5\.26 or later within 3\.5 first/);
    const patch = etcdMoveProblem("3.5.16", "3.5.20");
    assert.match(patch ?? "", /etcd 3\.5\.16 → 3\.5\.20: etcd 3\.5\.20 is older than 3\.5\.26/);
    assert.equal(MIN_ETCD_VERSION, "3.5.26");
  });

  it("never skips a minor, never goes back to an older minor, never crosses a major", () => {
    assert.match(etcdMoveProblem("3.5.27", "3.7.0") ?? "", /skips minor version 3\.6: never skip a minor/);
    assert.match(etcdMoveProblem("3.5.27", "3.8.1") ?? "", /skips minor version 3\.6/);
    assert.match(
      etcdMoveProblem("3.6.4", "3.5.27") ?? "",
      /goes back to an older minor version: never downgrade a minor/,
    );
    assert.match(etcdMoveProblem("3.6.4", "4.0.0") ?? "", /crosses a major version/);
    for (const [from, to] of [
      ["3.5.27", "3.7.0"],
      ["3.6.4", "3.5.27"],
      ["3.6.4", "4.0.0"],
      ["3.5.16", "3.6.4"],
    ] as const) {
      assert.ok(etcdMoveProblem(from, to)?.includes(ETCD_UPGRADE_GUIDE), `${from} → ${to} cites the guide`);
    }
  });

  it("keeps the build's rules for the target: a discovery-mode cluster cannot go where v2 discovery is gone", () => {
    assert.equal(etcdMoveProblem("3.6.4", "3.7.1", false), undefined);
    assert.match(etcdMoveProblem("3.6.4", "3.7.1", true) ?? "", /has no v2 discovery \(removed in 3\.7\.0\)/);
  });

  it("compares versions numerically", () => {
    assert.ok(compareVersions("3.5.9", "3.5.26") < 0);
    assert.ok(compareVersions("3.10.0", "3.9.9") > 0);
    assert.equal(compareVersions("3.6.0", "3.6.0"), 0);
  });

  it("upgrade's etcd_version is checked like any argument: pattern, then the oldest version accepted", () => {
    const refused = (etcd_version: unknown) => {
      try {
        validateOptions("upgrade", { stack_name: "demo", etcd_version }, "library");
      } catch (error) {
        assert.ok(error instanceof UsageError);
        return error.message;
      }
      assert.fail(`${String(etcd_version)} was accepted`);
    };
    assert.match(refused("v3.6.4"), /an etcd release such as 3\.5\.27/);
    assert.match(refused("3.6"), /an etcd release such as 3\.5\.27/);
    assert.match(refused("3.5.20"), /older than 3\.5\.26/);
    const ok = validateOptions("upgrade", { stack_name: "demo", etcd_version: "3.6.4" }, "library") as {
      etcd_version?: string;
    };
    assert.equal(ok.etcd_version, "3.6.4");
    const none = validateOptions("upgrade", { stack_name: "demo" }, "library") as { etcd_version?: unknown };
    assert.ok(none.etcd_version == null, "no etcd move unless asked");
  });
});

describe("the etcd version written into an older stack's controllers' user data", () => {
  it("is found in plain text, gzip, and base64 data: URLs (Ignition files, a merged gzip config)", async () => {
    const { gzipSync } = await import("node:zlib");
    const { writtenEtcdVersion } = await import("../../src/template/etcd/written_version.js");
    const env = "ETCD_IMAGE_TAG=v3.5.27\nETCD_DATA_DIR=/var/lib/etcd/data\n";
    const file = `data:;base64,${Buffer.from(env).toString("base64")}`;
    const ignition = JSON.stringify({
      ignition: { version: "3.3.0" },
      storage: { files: [{ contents: { source: file } }] },
    });
    assert.equal(writtenEtcdVersion(Buffer.from(ignition)), "3.5.27");
    const merged = JSON.stringify({
      ignition: {
        config: {
          merge: [{ source: `data:;base64,${gzipSync(ignition).toString("base64")}`, compression: "gzip" }],
        },
      },
    });
    assert.equal(writtenEtcdVersion(Buffer.from(merged)), "3.5.27");
    assert.equal(writtenEtcdVersion(gzipSync(`#cloud-config\n${env}`)), "3.5.27");
    assert.equal(writtenEtcdVersion(Buffer.from('{"ignition":{"version":"3.3.0"}}')), undefined);
    assert.equal(writtenEtcdVersion(Buffer.from([0x1f, 0x8b, 0, 1])), undefined, "broken gzip: not found");
  });
});
