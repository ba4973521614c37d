/**
 * POST /templates with the real library engine: provisioning is accepted like every other argument,
 * inline units may use the seed's string booleans, and the returned template's user data decodes to
 * a config the nodes can read (Ignition validated by ignition-validate).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { CfnTemplate } from "../../src/template/types.js";
import { decodeUserData, nodeUnits, validateAll } from "../helpers/boot.js";
import { DISCOVERY, nodeUserDataBytes } from "../template/support.js";
import { admin, type TestServer, testServer } from "./helpers.js";

describe("POST /templates: provisioning and the nodes' user data", () => {
  let t: TestServer;
  before(async () => {
    t = await testServer();
  });
  after(async () => {
    await t.close();
  });

  const units = [
    {
      name: "a.service",
      command: "start",
      enable: "yes",
      content_text: "[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\n",
    },
    { name: "b.service", runtime: "true", mask: "no", content_text: "[Service]\nExecStart=/bin/true\n" },
  ];

  for (const provisioning of ["ignition", "cloud-config", undefined]) {
    it(`provisioning ${provisioning ?? "(default: ignition)"}`, async () => {
      const answer = await t.server.app.inject({
        method: "POST",
        url: "/templates",
        headers: admin,
        payload: { offline: true, units, ...(provisioning ? { provisioning } : {}) },
      });
      assert.equal(answer.statusCode, 200, answer.body);
      const body = answer.json() as {
        template: CfnTemplate;
        user_data: { provisioning: string; bytes: number; limit: number };
      };
      assert.equal(body.user_data.provisioning, provisioning ?? "ignition");
      assert.equal(body.user_data.limit, 16_384);
      const decoded = decodeUserData(nodeUserDataBytes(body.template, { DiscoveryURL: DISCOVERY }));
      assert.equal(decoded.format, provisioning ?? "ignition");
      for (const result of await validateAll(decoded)) assert.ok(result.ok, result.messages.join("\n"));
      const sent = nodeUnits(decoded);
      assert.equal(sent.get("a.service")?.enabled, true, '"yes" is a real true');
      assert.equal(sent.get("b.service")?.mask, false);
    });
  }

  it("a provisioning not allowed is a 400 naming it", async () => {
    const answer = await t.server.app.inject({
      method: "POST",
      url: "/templates",
      headers: admin,
      payload: { provisioning: "butane" },
    });
    assert.equal(answer.statusCode, 400);
    assert.deepEqual((answer.json() as { messages: string[] }).messages, [
      'provisioning: "butane" is not allowed; use one of ignition, cloud-config',
    ]);
  });
});
