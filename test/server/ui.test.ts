/**
 * The dashboard at /ui in a real browser (Debian's chromium driven by playwright-core, headless),
 * against the API server with the real library on the moto AWS emulator and a local etcd
 * discovery service. The AWS CLI (--endpoint-url at moto) cross-checks the nodes the page shows.
 * Screenshots go to test-artifacts/ui/ (gitignored).
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import type { Page } from "playwright-core";
import { type Browser, launchBrowser } from "../helpers/browser.js";
import { repoRoot } from "../helpers/cli.js";
import { type AwsServices, startAwsServices } from "../helpers/harness.js";
import { type Discovery, isolatedAwsProcessEnv, type Moto } from "../helpers/services.js";
import { ADMIN_TOKEN, type TestServer, testServer } from "./helpers.js";

const artifacts = join(repoRoot, "test-artifacts", "ui");
const XSS = "<img src=x onerror=alert(1)>";

let moto: Moto;
let discovery: Discovery;
let services: AwsServices;
let t: TestServer;
let browser: Browser;
let base: string;
let aliceToken: string;

/** What a page did that it must not: JavaScript dialogs, uncaught errors, CSP refusals. */
interface Watched {
  page: Page;
  dialogs: string[];
  errors: string[];
}

async function open(path = "/ui"): Promise<Watched> {
  const page = await browser.context.newPage();
  const watched: Watched = { page, dialogs: [], errors: [] };
  page.on("dialog", (dialog) => {
    watched.dialogs.push(`${dialog.type()}: ${dialog.message()}`);
    void dialog.dismiss();
  });
  page.on("pageerror", (error) => watched.errors.push(error.message));
  page.on("console", (message) => {
    if (/Content Security Policy|Trusted Type/i.test(message.text())) watched.errors.push(message.text());
  });
  await page.goto(`${base}${path}`);
  return watched;
}

async function signIn(page: Page, token: string): Promise<void> {
  await page.locator("input[name=token]").fill(token);
  await page.getByRole("button", { name: "Sign in" }).click();
}

async function aws(...args: string[]): Promise<Record<string, never>> {
  const { stdout } = await promisify(execFile)(
    "aws",
    ["--endpoint-url", moto.endpoint, "--region", "us-east-1", "--output", "json", ...args],
    { env: isolatedAwsProcessEnv(moto.endpoint) },
  );
  return stdout.trim() ? JSON.parse(stdout) : {};
}

/** The nodes of a stack as the AWS CLI sees them: stack resource → Auto Scaling group → instances. */
async function cliNodes(stackName: string): Promise<{ private_ip: string; public_ip: string | null }[]> {
  const resources = (await aws("cloudformation", "describe-stack-resources", "--stack-name", stackName))
    .StackResources as unknown as { ResourceType: string; PhysicalResourceId: string }[];
  const group = resources.find((r) => r.ResourceType === "AWS::AutoScaling::AutoScalingGroup");
  assert.ok(group, "the stack has an Auto Scaling group");
  const groups = (
    await aws(
      "autoscaling",
      "describe-auto-scaling-groups",
      "--auto-scaling-group-names",
      group.PhysicalResourceId,
    )
  ).AutoScalingGroups as unknown as { Instances: { InstanceId: string }[] }[];
  const ids = (groups[0]?.Instances ?? []).map((i) => i.InstanceId);
  assert.ok(ids.length > 0, "the group has instances");
  const reservations = (await aws("ec2", "describe-instances", "--instance-ids", ...ids))
    .Reservations as unknown as { Instances: { PrivateIpAddress: string; PublicIpAddress?: string }[] }[];
  return reservations
    .flatMap((r) => r.Instances)
    .map((i) => ({ private_ip: i.PrivateIpAddress, public_ip: i.PublicIpAddress ?? null }));
}

before(async () => {
  mkdirSync(artifacts, { recursive: true });
  services = await startAwsServices();
  ({ moto, discovery } = services);
  t = await testServer({
    pollIntervalMs: 200,
    // The server's own config names the local discovery service: the form can leave it empty.
    config: { discovery_service: discovery.url },
    env: { PANDACLUSTER_DISCOVERY_SERVICES: discovery.url },
  });
  await t.server.app.listen({ host: "127.0.0.1", port: 0 });
  base = `http://127.0.0.1:${(t.server.app.server.address() as { port: number }).port}`;
  aliceToken = (await t.profile("alice")).authorization.slice("Bearer ".length);
  browser = await launchBrowser();
  await browser.context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: base });
});

after(async () => {
  await browser?.close();
  await t?.close();
  await services?.stop();
});

describe("dashboard at /ui (chromium, moto, local etcd discovery)", () => {
  it("a browser asking / is sent to /ui; API clients still get JSON; assets are compressed and under CSP", async () => {
    const html = await fetch(`${base}/`, { headers: { accept: "text/html,*/*;q=0.8" }, redirect: "manual" });
    assert.equal(html.status, 303);
    assert.equal(html.headers.get("location"), "/ui");
    for (const accept of ["application/json", "*/*"]) {
      const json = await fetch(`${base}/`, { headers: { accept } });
      assert.equal(json.status, 200);
      assert.equal((await json.json()).openapi, "3.1.0");
    }
    const page = await t.server.app.inject({
      method: "GET",
      url: "/ui",
      headers: { "accept-encoding": "br" },
    });
    assert.equal(page.statusCode, 200);
    assert.equal(page.headers["content-encoding"], "br");
    const csp = String(page.headers["content-security-policy"]);
    assert.match(csp, /default-src 'self'/);
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    assert.equal((await t.server.app.inject({ method: "GET", url: "/ui/nothing.js" })).statusCode, 404);
    // Every file of the dashboard, compressed as a browser gets it, is well within the 150 kB a
    // first load may transfer (bench/ui measures a real first load, the API's answer included).
    let compressed = 0;
    for (const file of readdirSync(join(repoRoot, "src", "server", "ui"))) {
      const answer = await t.server.app.inject({
        method: "GET",
        url: file === "index.html" ? "/ui" : `/ui/${file}`,
        headers: { "accept-encoding": "gzip, deflate, br" },
      });
      assert.equal(answer.statusCode, 200, file);
      assert.equal(answer.headers["content-encoding"], "br", file);
      compressed += answer.rawPayload.length;
    }
    assert.ok(compressed < 50 * 1024, `all assets ${compressed} bytes compressed`);

    // A 400 names the field of each message, for the form to put it beside its input.
    const refused = await t.server.app.inject({
      method: "POST",
      url: "/clusters",
      headers: { authorization: `Bearer ${aliceToken}` },
      payload: { stack_name: "9bad", key_pair: "k", cluster_size: 99 },
    });
    assert.equal(refused.statusCode, 400);
    const problems = refused.json<{ problems: { field: string; message: string }[] }>().problems;
    assert.deepEqual(problems.map((p) => p.field).sort(), ["cluster_size", "stack_name"]);
    assert.match(problems.find((p) => p.field === "cluster_size")?.message ?? "", /^99 is out of range/);
  });

  it("sign in: a wrong token says so; the token stays in sessionStorage only; Sign out forgets it", async () => {
    const { page, dialogs, errors } = await open("/");
    assert.equal(new URL(page.url()).pathname, "/ui");
    await signIn(page, "not-a-token-of-this-server");
    await page.locator("#token-error", { hasText: "not valid" }).waitFor();
    await page.screenshot({ path: join(artifacts, "sign-in-wrong-token.png") });
    assert.equal(await page.getByRole("button", { name: "Sign out" }).isVisible(), false);
    assert.equal(await page.evaluate(() => sessionStorage.length), 0);

    // With the keyboard only: the token field has the focus, Enter signs in.
    await page.locator("input[name=token]").fill("");
    await page.keyboard.type(aliceToken);
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: "Clusters" }).waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.getItem("pandacluster.token")), aliceToken);
    assert.equal(await page.evaluate(() => document.cookie), "");
    assert.ok(!page.url().includes(aliceToken), "never in the URL");
    const cookies = await browser.context.cookies();
    assert.deepEqual(cookies, []);

    await page.getByRole("button", { name: "Sign out" }).click();
    await page.locator("input[name=token]").waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.length), 0);
    assert.equal(await page.getByRole("button", { name: "Sign out" }).isVisible(), false);
    assert.deepEqual(dialogs, []);
    assert.deepEqual(errors, []);
    await page.close();
  });

  it("create through the form, watch it go online without reloading, nodes match the AWS CLI, delete by typing the name", async () => {
    const { page, dialogs, errors } = await open();
    await signIn(page, aliceToken);
    await page.getByRole("link", { name: "Create a cluster" }).click();
    // The form is generated from the definitions: every create argument the API takes, by name.
    for (const name of [
      "stack_name",
      "key_pair",
      "cluster_size",
      "region",
      "channel",
      "arch",
      "instance_type",
    ]) {
      await page.locator(`form [name=${name}]`).waitFor();
    }
    for (const name of ["template_path", "profile", "json", "server"]) {
      assert.equal(await page.locator(`form [name=${name}]`).count(), 0, `${name} is not an HTTP argument`);
    }
    assert.equal(await page.locator("select[name=channel]").inputValue(), "stable");
    assert.deepEqual(await page.locator("select[name=on_failure] option").allTextContents(), [
      "DELETE",
      "ROLLBACK",
      "DO_NOTHING",
    ]);
    assert.equal(await page.locator("input[name=cluster_size]").getAttribute("max"), "12");
    assert.equal(await page.locator("input[name=dry_run]").getAttribute("type"), "checkbox");

    await page.locator("[name=stack_name]").fill("web");
    await page.locator("[name=key_pair]").fill("k");
    await page.locator("[name=cluster_size]").fill("4");
    await page.screenshot({ path: join(artifacts, "create-form.png"), fullPage: true });
    await page.getByRole("button", { name: "Create", exact: true }).click();

    await page.waitForURL(/#\/cluster\/web\?region=us-east-1$/);
    // A mark in this document: if the page reloaded, it would be gone.
    await page.evaluate(() => {
      (window as unknown as { stayed: boolean }).stayed = true;
    });
    await page.locator("#cluster-status", { hasText: "online" }).waitFor({ timeout: 90_000 });
    assert.equal(await page.evaluate(() => (window as unknown as { stayed?: boolean }).stayed), true);
    await page.locator("table.nodes tbody tr").nth(3).waitFor();
    assert.ok((await page.locator("#events li").count()) > 0, "events are shown");
    // This server offers Server-Sent Events: the page follows them.
    assert.match((await page.locator("#events-mode").textContent()) ?? "", /live stream/);

    const shown = await page.locator("table.nodes tbody tr").evaluateAll((rows) =>
      rows.map((row) => ({
        private_ip: row.querySelector(".private-ip")?.textContent ?? "",
        public_ip: row.querySelector(".public-ip")?.textContent ?? "",
      })),
    );
    const fromCli = await cliNodes("web");
    assert.equal(shown.length, 4);
    assert.deepEqual(shown.map((n) => n.private_ip).sort(), fromCli.map((n) => n.private_ip).sort());
    assert.deepEqual(shown.map((n) => n.public_ip).sort(), fromCli.map((n) => n.public_ip ?? "—").sort());
    assert.ok((await page.locator("#dns li").count()) > 0, "DNS names are shown");
    await page.screenshot({ path: join(artifacts, "cluster-page.png"), fullPage: true });

    await page.setViewportSize({ width: 390, height: 844 });
    assert.ok(
      await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth),
      "no sideways scrolling at 390 px",
    );
    await page.screenshot({ path: join(artifacts, "cluster-page-390.png"), fullPage: true });
    await page.setViewportSize({ width: 1280, height: 800 });

    await page.getByRole("link", { name: "← Clusters" }).click();
    const row = page.locator("table.clusters tr[data-name=web]");
    await row.locator(".status", { hasText: "online" }).waitFor();
    assert.deepEqual((await row.locator("td").allInnerTexts()).slice(0, 4), [
      "web",
      "us-east-1",
      "online",
      "4",
    ]);
    await page.screenshot({ path: join(artifacts, "cluster-list.png"), fullPage: true });

    await row.getByRole("link", { name: "web" }).click();
    await page.getByRole("button", { name: "Delete", exact: true }).click();
    const confirm = page.getByRole("button", { name: "Delete cluster" });
    assert.equal(await confirm.isDisabled(), true);
    await page.locator("#confirm-name").fill("we");
    assert.equal(await confirm.isDisabled(), true, "a wrong name does not delete");
    await page.locator("#confirm-name").fill("web");
    await page.keyboard.press("Enter");
    await page.locator("#cluster-status", { hasText: "deleted" }).waitFor({ timeout: 90_000 });
    // The events go on after the cluster was online: the delete's are shown too.
    await page.locator("#events li", { hasText: "delete requested" }).waitFor();
    assert.deepEqual(dialogs, []);
    assert.deepEqual(errors, []);
    await page.close();
  });

  it("a server without Server-Sent Events: the cluster page polls the JSON events instead", async () => {
    const { page, errors } = await open();
    // Simulated in the browser (playwright's request routing): the events request loses its
    // Accept: text/event-stream, so the server answers as one without SSE does, with the JSON list.
    let streamsAsked = 0;
    await page.route(/\/clusters\/[^/]+\/events/, async (route) => {
      const headers = route.request().headers();
      if (headers.accept === "text/event-stream") streamsAsked++;
      await route.fulfill({
        response: await route.fetch({ headers: { ...headers, accept: "application/json" } }),
      });
    });
    await signIn(page, aliceToken);
    await page.getByRole("heading", { name: "Clusters" }).waitFor();
    const created = await fetch(`${base}/clusters`, {
      method: "POST",
      headers: { authorization: `Bearer ${aliceToken}`, "content-type": "application/json" },
      body: JSON.stringify({ stack_name: "polled", key_pair: "k" }),
    });
    assert.equal(created.status, 202);
    await page.goto(`${base}/ui#/cluster/polled?region=us-east-1`);
    await page.locator("#events-mode", { hasText: "refreshed every 2 s" }).waitFor();
    await page.locator("#cluster-status", { hasText: "online" }).waitFor({ timeout: 90_000 });
    // Events stored after the page's first request arrive by polling.
    await page.locator("#events li", { hasText: "cluster is online" }).waitFor();
    assert.equal(streamsAsked, 1, "asked for a stream once, then polled");
    assert.deepEqual(errors, []);
    await page.close();
  });

  it("a field error (cluster size 99) is shown beside its field and nothing is created", async () => {
    const { page, errors } = await open();
    await signIn(page, aliceToken);
    await page.getByRole("link", { name: "Create", exact: true }).click();
    await page.locator("[name=stack_name]").fill("toobig");
    await page.locator("[name=key_pair]").fill("k");
    await page.locator("[name=cluster_size]").fill("99");
    await page.getByRole("button", { name: "Create", exact: true }).click();
    const beside = page.locator("[data-field=cluster_size] .field-error");
    await beside.waitFor();
    assert.match((await beside.textContent()) ?? "", /99 is out of range; use 3 to 12/);
    assert.equal(await page.locator("[name=cluster_size]").getAttribute("aria-invalid"), "true");
    assert.equal(await page.locator("[data-field=stack_name] .field-error").textContent(), "");
    assert.match(page.url(), /#\/create$/);
    await page.screenshot({ path: join(artifacts, "create-form-error.png"), fullPage: true });

    const listed = await fetch(`${base}/clusters?include_deleted=true`, {
      headers: { authorization: `Bearer ${aliceToken}` },
    });
    assert.ok(!(await listed.json()).some((c: { stack_name: string }) => c.stack_name === "toobig"));
    const stacks = (await aws("cloudformation", "list-stacks")).StackSummaries as unknown as {
      StackName: string;
    }[];
    assert.ok(!stacks.some((s) => s.StackName === "toobig"), "no stack in AWS");
    assert.deepEqual(errors, []);
    await page.close();
  });

  it("a failure reason and an event message holding HTML are shown as text and run nothing", async () => {
    const { page, dialogs, errors } = await open();
    await signIn(page, aliceToken);
    await page.getByRole("link", { name: "Create", exact: true }).click();
    await page.locator("[name=stack_name]").fill("xss");
    // No key pair has this name: EC2's answer and so the failure reason quote it.
    await page.locator("[name=key_pair]").fill(XSS);
    await page.getByRole("button", { name: "Create", exact: true }).click();
    await page.locator("#cluster-status", { hasText: "failed" }).waitFor({ timeout: 60_000 });
    await page.locator("#reasons li", { hasText: XSS }).first().waitFor();
    await page.locator("#events li", { hasText: XSS }).first().waitFor();
    await page.screenshot({ path: join(artifacts, "cluster-failed.png"), fullPage: true });
    await page.waitForTimeout(500);
    assert.equal(await page.locator("img").count(), 0, "no element was made from the text");
    assert.deepEqual(dialogs, []);
    assert.deepEqual(errors, []);
    await page.close();
  });

  it("the admin creates a profile (token shown once, copied), which signs in and sees none of alice's clusters", async () => {
    const { page, dialogs, errors } = await open();
    await signIn(page, ADMIN_TOKEN);
    await page.getByRole("heading", { name: "Profiles" }).waitFor();
    await page.locator("table.profiles tr[data-name=alice]").waitFor();
    await page.locator("#profile-name").fill("bob");
    await page.locator("#profile-email").fill("bob@example.com");
    await page.locator("#profile-max_clusters").fill("2");
    await page.getByRole("button", { name: "Create profile" }).click();
    const token = await page.locator("#new-token").inputValue({ timeout: 10_000 });
    assert.match(token, /\S{16,}/);
    await page.getByRole("button", { name: "Copy" }).click();
    await page.getByText("Copied.").waitFor();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), token);
    const bob = page.locator("table.profiles tr[data-name=bob]");
    await bob.waitFor();
    assert.equal(await bob.locator("td[data-label='Max clusters']").textContent(), "2");

    // A profile to delete (two presses: Delete, then Really delete).
    await page.locator("#profile-name").fill("carol");
    await page.locator("#profile-email").fill("carol@example.com");
    await page.getByRole("button", { name: "Create profile" }).click();
    const carol = page.locator("table.profiles tr[data-name=carol]");
    await carol.waitFor();
    await carol.getByRole("button").click();
    await carol.getByRole("button", { name: "Really delete profile carol?" }).click();
    await carol.waitFor({ state: "detached" });
    await page.screenshot({ path: join(artifacts, "admin.png"), fullPage: true });

    await page.getByRole("button", { name: "Sign out" }).click();
    await signIn(page, token);
    await page.getByRole("heading", { name: "Clusters" }).waitFor();
    await page.getByText("No clusters yet.").waitFor();
    // alice's failed cluster is not bob's to see, not even by its address.
    await page.goto(`${base}/ui#/cluster/xss?region=us-east-1`);
    await page.getByText("No cluster named xss").waitFor();
    assert.deepEqual(dialogs, []);
    assert.deepEqual(errors, []);
    await page.close();
  });

  it("#/cluster/.. (and %2e%2e) is a cluster name that does not exist, never the API document shown as a cluster", async () => {
    const { page, dialogs, errors } = await open();
    await signIn(page, aliceToken);
    await page.getByRole("heading", { name: "Clusters" }).waitFor();
    for (const [hash, shown] of [
      ["..", ".."],
      ["%2e%2e", ".."],
      ["%2E%2E?region=us-east-1", ".."],
    ]) {
      await page.goto(`${base}/ui#/cluster/${hash}`);
      await page.getByText(`No cluster named ${shown}`).waitFor();
      assert.doesNotMatch((await page.locator("main").textContent()) ?? "", /openapi|PandaCluster API/i);
    }
    assert.deepEqual(dialogs, []);
    assert.deepEqual(errors, []);
    await page.close();
  });
});
