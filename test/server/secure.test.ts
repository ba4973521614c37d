/**
 * Issue 16 over HTTP: the API server applies the CLI's rule (one definition of the arguments). A
 * create without allow_ssh_from sends no AllowSSHFrom (the template's empty default: no SSH rule) and
 * says SSH is closed; volume_size reaches VolumeSize; bad values are 400 naming the field. Runs the
 * real library against moto, in dry runs (the CreateStack request is the answer).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { assertNothingCreated, awsServicesPerFile } from "../helpers/harness.js";
import { type TestServer, testServer } from "./helpers.js";

const services = awsServicesPerFile({ discovery: false });
let t: TestServer;
let alice: { authorization: string };

before(async () => {
  t = await testServer({ env: { PANDACLUSTER_DISCOVERY_SERVICES: "http://127.0.0.1:9" } });
  alice = await t.profile("alice");
});
after(async () => {
  await t?.close();
});

async function dryRun(extra: Record<string, unknown>) {
  return t.server.app.inject({
    method: "POST",
    url: "/clusters",
    headers: { ...alice, "content-type": "application/json" },
    payload: {
      stack_name: "dry",
      key_pair: "k",
      dry_run: true,
      discovery_url: "http://127.0.0.1:9/abc",
      ...extra,
    },
  });
}

type DryRun = {
  result: {
    details: {
      launch: {
        request: { Parameters: { ParameterKey: string; ParameterValue: string }[] };
        resolved: { notices: string[] };
      };
    };
  };
};
const parameters = (answer: DryRun) =>
  Object.fromEntries(
    answer.result.details.launch.request.Parameters.map((p) => [p.ParameterKey, p.ParameterValue]),
  );

describe("the API server: SSH closed unless asked for, volume_size (issue 16)", () => {
  it("no allow_ssh_from: no AllowSSHFrom sent (the template's empty default), VolumeSize 30, and a notice says SSH is closed", async () => {
    const answer = await dryRun({});
    assert.equal(answer.statusCode, 200, answer.body);
    const json = answer.json<DryRun>();
    assert.equal(parameters(json).AllowSSHFrom, undefined);
    assert.equal(parameters(json).VolumeSize, "30");
    assert.ok(
      json.result.details.launch.resolved.notices.some((n) =>
        /^SSH is closed: port 22 is open to no one/.test(n),
      ),
      json.result.details.launch.resolved.notices.join("\n"),
    );
  });

  it("allow_ssh_from and volume_size given: both passed as they are", async () => {
    const answer = await dryRun({ allow_ssh_from: "203.0.113.7/32", volume_size: 64 });
    assert.equal(answer.statusCode, 200, answer.body);
    const values = parameters(answer.json<DryRun>());
    assert.equal(values.AllowSSHFrom, "203.0.113.7/32");
    assert.equal(values.VolumeSize, "64");
  });

  for (const [field, value, pattern] of [
    ["allow_ssh_from", "999.1.1.1/40", /allow_ssh_from.*999\.1\.1\.1\/40.*not an IPv4 CIDR block/],
    ["volume_size", 20000, /volume_size/],
    ["volume_size", 4, /volume_size: 4 GiB is smaller than ami-[0-9a-f]+'s root snapshot/],
  ] as const) {
    it(`${field} ${value}: 400 naming the field`, async () => {
      const answer = await dryRun({ [field]: value });
      assert.equal(answer.statusCode, 400, answer.body);
      assert.match(answer.body, pattern);
      await assertNothingCreated(services.aws);
    });
  }
});
