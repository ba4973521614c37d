/**
 * Issue 7 item 1: nothing that comes over HTTP may name a file on the server, at any depth. A
 * marker file (a random string in a temporary file, next to a units file that names it) must never
 * show up in any answer, whatever shape of units and drop-ins a profile sends to POST /templates or
 * POST /clusters with dry_run; each such request gets 400. Runs the real library (the template
 * builder) against moto, so that a dry run that got through would really build and answer.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { after, before, describe, it } from "node:test";
import { validateOptions } from "../../src/options.js";
import { buildTemplate } from "../../src/template/build.js";
import { type AwsServices, startAwsServices } from "../helpers/harness.js";
import { type TestServer, testServer } from "./helpers.js";

const MARKER = `pc-marker-${randomBytes(12).toString("hex")}`;
let services: AwsServices;
let t: TestServer;
let alice: { authorization: string };
let dir: string;
let marker: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "pc-units-http-"));
  mkdirSync(join(dir, "sub"));
  marker = join(dir, "secret.service");
  writeFileSync(marker, `[Service]\nExecStart=/bin/echo ${MARKER}\n`);
  writeFileSync(join(dir, "secret.conf"), `[Service]\nEnvironment=M=${MARKER}\n`);
  services = await startAwsServices({ discovery: false });
  t = await testServer({ env: { PANDACLUSTER_DISCOVERY_SERVICES: "http://127.0.0.1:9" } });
  alice = await t.profile("alice");
});
after(async () => {
  await t?.close();
  await services?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Every shape of units (as JSON text, so that __proto__ and constructor stay own keys). */
function shapes(): [string, string][] {
  const abs = JSON.stringify(marker);
  const up = JSON.stringify(`${"../".repeat(12)}${marker.slice(1)}`);
  const rel = JSON.stringify(relative(process.cwd(), marker));
  const d = JSON.stringify(dir);
  const unit = (extra: string) => `[{"name":"a.service"${extra}}]`;
  const dropIn = (extra: string) =>
    `[{"name":"a.service","content_text":"[Unit]\\n","drop_ins":[{"name":"a.conf"${extra}}]}]`;
  return [
    [
      "units object with base_dir and source",
      `{"units":[{"name":"a.service","content":"secret.service"}],"source":"x","base_dir":${d}}`,
    ],
    [
      "units object with base_dir, no source",
      `{"units":[{"name":"a.service","content":"secret.service"}],"base_dir":${d}}`,
    ],
    [
      "units object claiming inline_only false",
      `{"units":[{"name":"a.service","content":${abs}}],"source":"x","inline_only":false}`,
    ],
    [
      "units object, drop-in with base_dir",
      `{"units":${dropIn(',"content":"secret.conf"')},"source":"s","base_dir":${d}}`,
    ],
    ["content: an absolute path", unit(`,"content":${abs}`)],
    ["content: a relative path", unit(`,"content":${rel}`)],
    ["content: ../ up to the root", unit(`,"content":${up}`)],
    ["content: a file: URL", unit(`,"content":${JSON.stringify(`file://${marker}`)}`)],
    ["content: an object", unit(`,"content":{"path":${abs},"base_dir":${d}}`)],
    ["content: a list", unit(`,"content":[${abs}]`)],
    ["content and content_text", unit(`,"content":${abs},"content_text":"x"`)],
    ["content_text: an object", unit(`,"content_text":{"content":${abs}}`)],
    ["content_text: a list", unit(`,"content_text":[${abs}]`)],
    ["unit with base_dir and source keys", unit(`,"content":"secret.service","base_dir":${d},"source":"s"`)],
    ["unit with __proto__", unit(`,"__proto__":{"content":${abs}}`)],
    ["unit with constructor.prototype", unit(`,"constructor":{"prototype":{"content":${abs}}}`)],
    ["drop-in content: absolute", dropIn(`,"content":${JSON.stringify(join(dir, "secret.conf"))}`)],
    ["drop-in content: ../", dropIn(`,"content":${up}`)],
    ["drop-in content: an object", dropIn(`,"content":{"path":${abs}}`)],
    ["drop-in content_text: an object", dropIn(`,"content_text":{"base_dir":${d}}`)],
    ["drop-in with base_dir", dropIn(`,"content":"secret.conf","base_dir":${d}`)],
    ["drop-in with __proto__", dropIn(`,"content_text":"x","__proto__":{"content":${abs}}`)],
    [
      "drop-ins as an object",
      `[{"name":"a.service","content_text":"x","drop_ins":{"name":"a.conf","content":${abs}}}]`,
    ],
    [
      "drop-ins nested in a drop-in",
      dropIn(`,"content_text":"x","drop_ins":[{"name":"b.conf","content":${abs}}]`),
    ],
    ["a list of lists", `[[{"name":"a.service","content":${abs}}]]`],
    ["units as a path string", abs],
    [
      "units: {units: {units: …}} nested",
      `{"units":{"units":[{"name":"a.service","content":${abs}}],"source":"x","base_dir":"/"},"source":"y"}`,
    ],
    ["a deeply nested object", `${'{"units":'.repeat(5000)}[]${"}".repeat(5000)}`],
    ["a deeply nested list", `${"[".repeat(5000)}${"]".repeat(5000)}`],
  ];
}

async function post(url: string, body: string) {
  return t.server.app.inject({
    method: "POST",
    url,
    headers: { ...alice, "content-type": "application/json" },
    payload: body,
  });
}

describe("units over HTTP can never name a file (issue 7 item 1)", () => {
  // The negative controls: the checks below ("400, marker never shown") can fail. The marker is
  // read wherever units do get a folder (a units file of the CLI or the library), through each way
  // of naming a file; and an answer that held the marker's text would be caught.
  const naming: [string, unknown[]][] = [
    ["content: a name in the units file's folder", [{ name: "a.service", content: "secret.service" }]],
    ["content: an absolute path", [{ name: "a.service", content: "@marker" }]],
    ["content: ../ up to the root", [{ name: "a.service", content: "@up" }]],
    [
      "drop-in content: a name in the folder",
      [
        {
          name: "a.service",
          content_text: "[Unit]\n",
          drop_ins: [{ name: "a.conf", content: "secret.conf" }],
        },
      ],
    ],
    [
      "drop-in content: an absolute path",
      [{ name: "a.service", content_text: "[Unit]\n", drop_ins: [{ name: "a.conf", content: "@conf" }] }],
    ],
  ];
  for (const [name, list] of naming) {
    it(`negative control: a units file (CLI/library) with ${name} puts the marker in the template`, async () => {
      const paths: Record<string, string> = {
        "@marker": marker,
        "@up": `${"../".repeat(12)}${marker.slice(1)}`,
        "@conf": join(dir, "secret.conf"),
      };
      const text = JSON.stringify(list).replace(/"(@\w+)"/g, (_, key: string) => JSON.stringify(paths[key]));
      const units = join(dir, "units.cson");
      writeFileSync(units, text);
      const options = validateOptions("build_template", { offline: true, units }, "library");
      const built = await buildTemplate({ ...options, offline: true }, {});
      assert.match(built.body, new RegExp(MARKER), "the marker was not read: the checks below prove nothing");
    });
  }
  it("negative control: a /templates answer shows unit text, so a leaked marker would be seen", async () => {
    const units = JSON.stringify([{ name: "a.service", content_text: readFileSync(marker, "utf8") }]);
    const answer = await post("/templates", `{"offline":true,"units":${units}}`);
    assert.equal(answer.statusCode, 200, answer.body.slice(0, 400));
    assert.match(answer.body, new RegExp(MARKER));
  });
  it("negative control: a /clusters dry run that got through is answered 200, its units counted in the user data's bytes (its answer elides the template body: there the status is the check)", async () => {
    const dry = (units: string) =>
      post(
        "/clusters",
        `{"stack_name":"dry","key_pair":"k","dry_run":true,"discovery_url":"http://127.0.0.1:9/abc","image_id":"ami-0123456789abcdef0"${units}}`,
      );
    const userDataBytes = (body: string): number =>
      JSON.parse(body).result.details.launch.resolved.template.user_data.plain_bytes;
    const without = await dry(
      `,"units":${JSON.stringify([{ name: "a.service", content_text: "[Unit]\n" }])}`,
    );
    assert.equal(without.statusCode, 200, without.body.slice(0, 400));
    const leaked = readFileSync(marker, "utf8");
    const withText = await dry(`,"units":${JSON.stringify([{ name: "a.service", content_text: leaked }])}`);
    assert.equal(withText.statusCode, 200, withText.body.slice(0, 400));
    assert.doesNotMatch(withText.body, new RegExp(MARKER), "the dry run's answer holds no unit text");
    const [before, after] = [userDataBytes(without.body), userDataBytes(withText.body)];
    assert.ok(after > before, `the unit's text is not counted: ${before} → ${after} bytes`);
  });

  for (const [name, units] of shapes()) {
    it(`POST /templates with ${name}: 400, marker never shown`, async () => {
      const answer = await post("/templates", `{"offline":true,"units":${units}}`);
      assert.doesNotMatch(answer.body, new RegExp(MARKER));
      assert.equal(answer.statusCode, 400, answer.body.slice(0, 400));
    });
    // The dry run's answer never holds unit text (negative control above): the 400 is the check;
    // the marker check catches an error message that quotes the file.
    it(`POST /clusters dry_run with ${name}: 400, marker never shown`, async () => {
      const answer = await post(
        "/clusters",
        `{"stack_name":"dry","key_pair":"k","dry_run":true,"discovery_url":"http://127.0.0.1:9/abc","image_id":"ami-0123456789abcdef0","units":${units}}`,
      );
      assert.doesNotMatch(answer.body, new RegExp(MARKER));
      assert.equal(answer.statusCode, 400, answer.body.slice(0, 400));
    });
  }

  it("a unit given as content_text is accepted and ends up in the user data", async () => {
    const answer = await post(
      "/templates",
      JSON.stringify({
        offline: true,
        units: [
          {
            name: "a.service",
            content_text: "[Service]\nExecStart=/bin/true\n",
            drop_ins: [{ name: "a.conf", content_text: "[Service]\nEnvironment=X=1\n" }],
          },
        ],
      }),
    );
    assert.equal(answer.statusCode, 200, answer.body);
    assert.match(answer.body, /a\.service/);
  });

  it("the closed units schema is the one published in the OpenAPI document", async () => {
    const doc = (await t.server.app.inject({ method: "GET", url: "/" })).json();
    const units = doc.components.schemas.BuildTemplateRequest.properties.units;
    assert.equal(units.type, "array");
    assert.equal(units.items.additionalProperties, false);
    assert.equal(units.items.properties.content, undefined);
    assert.equal(units.items.properties.drop_ins.items.additionalProperties, false);
    assert.equal(units.items.properties.drop_ins.items.properties.content, undefined);
  });
});
