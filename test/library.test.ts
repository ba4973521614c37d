import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";

// The package's own name: what a user's `import ... from "pandacluster"` resolves to (package.json exports).
const library = await import("pandacluster");
const { build_template, create, destroy, status, list, wait, UsageError } = library;

function usageError(pattern: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof UsageError, String(error));
    assert.equal(error.exitCode, 2);
    assert.match(error.message, pattern);
    return true;
  };
}

describe("the library API (the package's main export)", () => {
  it("exports the seed's operations and the new ones", () => {
    for (const fn of [build_template, create, destroy, status, list, wait])
      assert.equal(typeof fn, "function");
  });

  it("build_template without write_path returns the template and writes nothing", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pc-library-"));
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      const result = await build_template({ offline: true, channel: "beta", arch: "arm64" });
      assert.equal(result.template.AWSTemplateFormatVersion, "2010-09-09");
      assert.match(result.template.Description, /beta.*arm64/);
      assert.equal(result.written_to, undefined);
      assert.equal(existsSync(join(dir, "template.json")), false);
      const none = await build_template({ offline: true, write_path: false });
      assert.equal(none.written_to, undefined);
    } finally {
      process.chdir(cwd);
    }
  });

  it("build_template with write_path writes the file", async () => {
    const path = join(mkdtempSync(join(tmpdir(), "pc-library-")), "cluster.json");
    const result = await build_template({ offline: true, write_path: path });
    assert.equal(result.written_to, path);
    assert.deepEqual(JSON.parse(readFileSync(path, "utf8")), result.template);
  });

  it("checks options against the definitions, naming them by name, before any work", async () => {
    await assert.rejects(
      build_template({ virtualization: "pv" }),
      usageError(/^virtualization: "pv" is refused/),
    );
    await assert.rejects(
      build_template({ channel: "nightly", units: 3 } as never),
      usageError(/channel: "nightly" is not allowed[\s\S]*units: must be a CSON file path or an object/),
    );
    // AWS is unreachable here: these fail on the options, before any call could be made.
    const aws = { aws: { id: "AKIAEXAMPLE", secret: "never-used", region: "us-east-1" } };
    await assert.rejects(
      create(aws, { stack_name: "demo", key_pair: "k", cluster_size: 2 }),
      usageError(/^cluster_size: 2 is out of range; use an odd number from 3 to 7: etcd recommends/),
    );
    await assert.rejects(create(aws, { key_pair: "k" }), usageError(/^stack_name: is required$/));
    await assert.rejects(
      destroy(aws, { stack_name: "demo", json: true } as never),
      usageError(/^json: unknown option$/),
    );
    await assert.rejects(
      status(aws, { stack_name: "-bad" }),
      usageError(/stack_name: "-bad" is not a letter/),
    );
    await assert.rejects(
      list(aws, { region: "mars" }),
      usageError(/region: "mars" is not an AWS region name/),
    );
    await assert.rejects(
      wait(aws, { stack_name: "x", timeout: 0 }),
      usageError(/timeout: 0 is out of range/),
    );
  });
});
