/** The small pieces of the lifecycle: pacing, abortable pauses, failure reasons, stack judgement, templates. */
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { judge } from "../../src/lifecycle/follow.js";
import { Aborted, Pace, pause } from "../../src/lifecycle/pace.js";
import { failureReasons } from "../../src/lifecycle/reasons.js";
import { loadTemplate } from "../../src/lifecycle/template.js";
import { createOptions, event } from "./scenario.js";

describe("Pace", () => {
  it("starts at the first pause, grows to the cap while nothing happens, and resets", () => {
    const pace = new Pace(2000, 15000);
    const within = (ms: number, base: number) => ms >= base * 0.8 && ms <= base * 1.2;
    assert.ok(within(pace.next(), 2000));
    for (let i = 0; i < 20; i++) pace.slower();
    for (let i = 0; i < 50; i++) assert.ok(within(pace.next(), 15000), "capped, with ±20 % jitter");
    pace.reset();
    assert.ok(within(pace.next(), 2000));
  });

  it("jitters: pauses differ between waiters", () => {
    const pace = new Pace(2000, 15000);
    const samples = new Set(Array.from({ length: 20 }, () => pace.next()));
    assert.ok(samples.size > 5);
  });
});

describe("pause", () => {
  it("ends early with Aborted when the signal fires", async () => {
    const controller = new AbortController();
    const started = Date.now();
    setTimeout(() => controller.abort(), 20);
    await assert.rejects(pause(10_000, controller.signal), Aborted);
    // Ended by the abort (20 ms), not by the 10 s pause; the bound leaves a loaded machine room.
    assert.ok(Date.now() - started < 5_000, `${Date.now() - started} ms`);
  });

  it("rejects at once when already aborted", async () => {
    await assert.rejects(pause(10_000, AbortSignal.abort()), Aborted);
  });
});

describe("judge", () => {
  it("knows when a create is done, failed or still going", () => {
    assert.equal(judge("create", "CREATE_COMPLETE"), "ok");
    assert.equal(judge("create", "CREATE_IN_PROGRESS"), "waiting");
    assert.equal(judge("create", "ROLLBACK_IN_PROGRESS"), "waiting");
    for (const s of ["ROLLBACK_COMPLETE", "CREATE_FAILED", "DELETE_COMPLETE", "ROLLBACK_FAILED"]) {
      assert.equal(judge("create", s), "failed", s);
    }
  });

  it("knows when a delete is done or failed", () => {
    assert.equal(judge("delete", "DELETE_COMPLETE"), "ok");
    assert.equal(judge("delete", "DELETE_FAILED"), "failed");
    assert.equal(judge("delete", "DELETE_IN_PROGRESS"), "waiting");
    assert.equal(judge("delete", "CREATE_COMPLETE"), "waiting", "DeleteStack not seen yet");
  });
});

describe("failureReasons", () => {
  it("puts root causes first, cascades and the stack's summary after, without duplicates", () => {
    const events = [
      event("LaunchTemplate", "CREATE_FAILED", "Resource creation cancelled"),
      event("SubnetA", "CREATE_FAILED", "Value (us-east-1z) for parameter availabilityZone is invalid"),
      event("demo", "ROLLBACK_IN_PROGRESS", "The following resource(s) failed to create: [SubnetA]."),
      event("SubnetA", "CREATE_FAILED", "Value (us-east-1z) for parameter availabilityZone is invalid"),
      event("VPC", "CREATE_COMPLETE"),
    ];
    const reasons = failureReasons(events);
    assert.match(reasons[0] ?? "", /^SubnetA \(AWS::EC2::VPC\) CREATE_FAILED: Value \(us-east-1z\)/);
    assert.match(reasons[1] ?? "", /LaunchTemplate .*Resource creation cancelled/);
    assert.equal(reasons.length, 2, "the stack's own summary adds nothing here");
  });

  it("falls back on the stack's own events, then its status reason", () => {
    const stackEvents = [
      event("demo", "CREATE_IN_PROGRESS", "User Initiated"),
      event("demo", "ROLLBACK_IN_PROGRESS", "Parameter validation failed: KeyPair"),
    ];
    assert.deepEqual(failureReasons(stackEvents), [
      "demo ROLLBACK_IN_PROGRESS: Parameter validation failed: KeyPair",
    ]);
    const stack = {
      StackName: "demo",
      StackStatus: "ROLLBACK_COMPLETE" as const,
      StackStatusReason: "Quota",
    };
    assert.deepEqual(failureReasons([], stack as never), ["demo ROLLBACK_COMPLETE: Quota"]);
  });

  it("is empty when nothing failed", () => {
    assert.deepEqual(failureReasons([event("VPC", "CREATE_COMPLETE")]), []);
  });
});

describe("loadTemplate with --template-path", () => {
  const dir = mkdtempSync(join(tmpdir(), "pandacluster-template-"));
  const options = (template_path: string) => createOptions({ template_path });

  it("reads a YAML template and passes only the parameters it declares", async () => {
    const path = join(dir, "t.yaml");
    writeFileSync(
      path,
      "Parameters:\n  KeyPair: {Type: String}\n  ImageId: {Type: String}\nResources:\n  R: {Type: AWS::SNS::Topic}\n",
    );
    const loaded = await loadTemplate(options(path), {});
    assert.equal(loaded.source, "file");
    assert.deepEqual([...loaded.parameters].sort(), ["ImageId", "KeyPair"]);
    assert.equal(loaded.needs_iam, false);
  });

  it("asks for CAPABILITY_IAM when the template makes IAM resources", async () => {
    const path = join(dir, "iam.json");
    writeFileSync(path, JSON.stringify({ Resources: { Role: { Type: "AWS::IAM::Role", Properties: {} } } }));
    assert.equal((await loadTemplate(options(path), {})).needs_iam, true);
  });

  it("refuses a file that is not a template, naming the option", async () => {
    const path = join(dir, "nope.json");
    writeFileSync(path, "{ not json");
    await assert.rejects(
      loadTemplate(options(path), {}),
      /template_path: .*nope\.json is not a JSON or YAML template/,
    );
    await assert.rejects(loadTemplate(options(join(dir, "missing.json")), {}), /no such file/);
  });
});
