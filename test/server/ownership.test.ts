/**
 * Issue 7 item 2: a profile may only ever act on a stack that a job of its own created. A stack made
 * by the library directly (as the CLI makes it) on moto; profile B posts a create of the same name
 * (it fails: the name exists) and then DELETEs its record: the stack must still be there, checked
 * with the AWS SDK as an independent client. B's live status must not show that stack either.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { CloudFormationClient, DescribeStacksCommand } from "@aws-sdk/client-cloudformation";
import { create } from "../../src/index.js";
import { type AwsServices, startAwsServices } from "../helpers/harness.js";
import type { Discovery } from "../helpers/services.js";
import { type TestServer, testServer } from "./helpers.js";

let discovery: Discovery;
let services: AwsServices;

before(async () => {
  services = await startAwsServices();
  ({ discovery } = services);
});
after(async () => {
  await services?.stop();
});

async function stackStatus(name: string): Promise<string | undefined> {
  try {
    const answer = await new CloudFormationClient({}).send(new DescribeStacksCommand({ StackName: name }));
    return answer.Stacks?.[0]?.StackStatus;
  } catch (error) {
    if (/does not exist/.test((error as Error).message)) return undefined;
    throw error;
  }
}

describe("a profile acts only on stacks its own jobs created (issue 7 item 2)", () => {
  let t: TestServer;
  before(async () => {
    t = await testServer({ pollIntervalMs: 100, env: { PANDACLUSTER_DISCOVERY_SERVICES: discovery.url } });
  });
  after(() => t.close());

  it("a create of a name the CLI/library already holds fails and owns nothing: B's DELETE leaves the stack", async () => {
    const made = await create(undefined, {
      stack_name: "taken",
      key_pair: "k",
      discovery_service: discovery.url,
    });
    assert.equal(made.status, "success", made.message);
    assert.equal(await stackStatus("taken"), "CREATE_COMPLETE");

    const bob = await t.profile("bob");
    const posted = await t.server.app.inject({
      method: "POST",
      url: "/clusters",
      headers: bob,
      payload: { stack_name: "taken", key_pair: "k", discovery_service: discovery.url },
    });
    assert.equal(posted.statusCode, 202, posted.body);
    const failed = await t.clusterWhen(bob, "taken", "failed");
    assert.match(failed.reasons.join(" "), /already exists/);

    // Asking AWS live shows nothing of a stack bob does not own.
    const live = (
      await t.server.app.inject({ method: "GET", url: "/clusters/taken?live=true", headers: bob })
    ).json();
    assert.equal(live.live, null);
    assert.doesNotMatch(JSON.stringify(live), /CREATE_COMPLETE|arn:aws:cloudformation/);

    const deleted = await t.server.app.inject({ method: "DELETE", url: "/clusters/taken", headers: bob });
    assert.ok([200, 202].includes(deleted.statusCode), deleted.body);
    await t.clusterWhen(bob, "taken", "deleted");
    await t.server.runner.idle();
    assert.equal(
      await stackStatus("taken"),
      "CREATE_COMPLETE",
      "bob's DELETE deleted a stack bob never created",
    );
  });

  it("a 409 does not tell another profile the cluster's status", async () => {
    const alice = await t.profile("alice");
    const carol = await t.profile("carol");
    const first = await t.server.app.inject({
      method: "POST",
      url: "/clusters",
      headers: alice,
      payload: { stack_name: "alices", key_pair: "k", discovery_service: discovery.url },
    });
    assert.equal(first.statusCode, 202, first.body);
    const again = await t.server.app.inject({
      method: "POST",
      url: "/clusters",
      headers: carol,
      payload: { stack_name: "alices", key_pair: "k", discovery_service: discovery.url },
    });
    assert.equal(again.statusCode, 409, again.body);
    assert.doesNotMatch(again.body, /creating|online|failed|deleting/);
    const own = await t.server.app.inject({
      method: "POST",
      url: "/clusters",
      headers: alice,
      payload: { stack_name: "alices", key_pair: "k", discovery_service: discovery.url },
    });
    assert.equal(own.statusCode, 409);
    assert.match(own.body, /already (creating|online)/, "the owner still hears the status");
    await t.clusterWhen(alice, "alices", "online");
  });
});
