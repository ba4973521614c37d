/**
 * Issue 17 on the dashboard, in a real browser (Debian's chromium driven by playwright-core,
 * headless), against the API server with the real library on the moto emulator: a cluster made on
 * an old Flatcar image shows the reconciler's image warning in the list and on its page; Upgrade
 * opens a dialog with the plan (a dry run), and its confirm starts the upgrade job, whose progress
 * the page follows until it has succeeded; the AWS CLI then sees every instance on the newest image.
 * Screenshots go to test-artifacts/ui/ (gitignored).
 */
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Page } from "playwright-core";
import { type Browser, launchBrowser } from "../helpers/browser.js";
import { repoRoot } from "../helpers/cli.js";
import { type AwsServices, startAwsServices } from "../helpers/harness.js";
import { type TestServer, testServer } from "./helpers.js";

const artifacts = join(repoRoot, "test-artifacts", "ui");
const NEWEST_STABLE = "ami-84380cf42e2ae29d6"; // Flatcar-stable-4230.2.3-hvm
const OLDER_STABLE = "ami-fa0d1c89df5ae07f8"; // Flatcar-stable-4152.2.3-hvm

let services: AwsServices;
let t: TestServer;
let browser: Browser;
let base: string;
let alice: { authorization: string };

before(async () => {
  mkdirSync(artifacts, { recursive: true });
  services = await startAwsServices();
  t = await testServer({
    pollIntervalMs: 200,
    // The reconciler runs when the test says (runOnce), and then looks at the images every time.
    reconcileMs: 3_600_000,
    imageCheckMs: 0,
    env: { PANDACLUSTER_DISCOVERY_SERVICES: services.discovery.url },
  });
  await t.server.app.listen({ host: "127.0.0.1", port: 0 });
  base = `http://127.0.0.1:${(t.server.app.server.address() as { port: number }).port}`;
  alice = await t.profile("alice");
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await t?.close();
  await services?.stop();
});

async function open(): Promise<{ page: Page; errors: string[]; dialogs: string[] }> {
  const page = await browser.context.newPage();
  const errors: string[] = [];
  const dialogs: string[] = [];
  page.on("dialog", (dialog) => {
    dialogs.push(dialog.message());
    void dialog.dismiss();
  });
  page.on("pageerror", (error) => errors.push(error.message));
  page.on("console", (message) => {
    if (/Content Security Policy|Trusted Type/i.test(message.text())) errors.push(message.text());
  });
  await page.goto(`${base}/ui`);
  await page.locator("input[name=token]").fill(alice.authorization.slice("Bearer ".length));
  await page.getByRole("button", { name: "Sign in" }).click();
  return { page, errors, dialogs };
}

async function images(name: string): Promise<string[]> {
  const seen = await services.aws<{ Reservations: { Instances: { ImageId: string }[] }[] }>([
    "ec2",
    "describe-instances",
    "--filters",
    `Name=tag:pandacluster:cluster,Values=${name}`,
    "Name=instance-state-name,Values=running,pending",
  ]);
  return seen.Reservations.flatMap((r) => r.Instances.map((i) => i.ImageId));
}

describe("dashboard: the image warning and the Upgrade action (issue 17)", () => {
  it("the list and the page warn; Upgrade shows the plan, confirm runs the job to the newest image", async () => {
    // Discovery mode: its controllers have no etcd slot to report on (the static mode's roll waits
    // for the boot script's etcd-status tag, which moto does not run; upgrade-e2e stands in for it).
    const created = await t.server.app.inject({
      method: "POST",
      url: "/clusters",
      headers: alice,
      payload: {
        stack_name: "aged",
        key_pair: "k",
        workers: 1,
        image_id: OLDER_STABLE,
        discovery_service: services.discovery.url,
      },
    });
    assert.equal(created.statusCode, 202, created.body);
    await t.clusterWhen(alice, "aged", "online").catch(async (error) => {
      throw new Error(`${(error as Error).message}: ${await t.eventMessages(alice, "aged")}`);
    });
    const cycle = await t.server.reconciler.runOnce();
    assert.equal(cycle.image_warnings, 1, JSON.stringify(cycle));

    const { page, errors, dialogs } = await open();
    const row = page.locator("table.clusters tr[data-name=aged]");
    await row.locator(".image-warning").waitFor();
    assert.match(
      (await row.locator(".image-warning").textContent()) ?? "",
      new RegExp(`image ${OLDER_STABLE} .* older than the channel's newest.*pandacluster upgrade -n aged`),
    );
    await page.screenshot({ path: join(artifacts, "list-image-warning.png"), fullPage: true });

    await row.getByRole("link", { name: "aged" }).click();
    await page.locator("#cluster-status", { hasText: "online" }).waitFor();
    await page.locator("#image-warning", { hasText: OLDER_STABLE }).waitFor();
    const upgrade = page.getByRole("button", { name: "Upgrade", exact: true });
    await upgrade.click();
    const dialog = page.getByRole("dialog");
    await dialog.locator(".image-warning", { hasText: OLDER_STABLE }).waitFor();
    // The plan: a dry run, nothing changed yet.
    await dialog.locator("#upgrade-plan li").first().waitFor();
    assert.match(
      (await dialog.locator("#upgrade-plan").textContent()) ?? "",
      new RegExp(`→ ${NEWEST_STABLE}`),
    );
    assert.equal(await dialog.locator("#upgrade-plan li").count(), 4, "3 controllers and 1 worker");
    for (const image of await images("aged")) assert.equal(image, OLDER_STABLE, "the plan changed nothing");
    // A bad value is the server's 400, shown in the dialog; planned again with a good one.
    await page.locator("#upgrade-min-healthy").fill("101");
    await dialog.getByRole("button", { name: "Plan again" }).click();
    await dialog.locator(".error", { hasText: "min_healthy" }).waitFor();
    await page.locator("#upgrade-min-healthy").fill("50");
    // etcd's rules reach the dialog too: a skipped minor is refused, naming the field.
    await page.locator("#upgrade-etcd-version").fill("3.7.0");
    await dialog.getByRole("button", { name: "Plan again" }).click();
    await dialog.locator(".error", { hasText: "etcd_version" }).waitFor();
    await page.locator("#upgrade-etcd-version").fill("");
    await dialog.getByRole("button", { name: "Plan again" }).click();
    const confirm = dialog.getByRole("button", { name: "Upgrade cluster" });
    await dialog.locator("#upgrade-plan li").first().waitFor();
    await page.screenshot({ path: join(artifacts, "upgrade-dialog.png"), fullPage: true });
    await confirm.click();

    await page.locator("#upgrade-state", { hasText: "Upgrade running" }).waitFor();
    // While it runs (a fast machine may have ended it already: the server's 409 is upgrade-jobs'):
    if (/running/.test((await page.locator("#upgrade-state").textContent()) ?? ""))
      assert.equal(await upgrade.isDisabled(), true, "no second upgrade while one runs");
    await page.locator("#events li", { hasText: "upgrade requested" }).waitFor();
    await page.locator("#upgrade-state", { hasText: "Upgrade succeeded" }).waitFor({ timeout: 180_000 });
    await page.locator("#events li", { hasText: "replacing controller" }).first().waitFor();
    await page.screenshot({ path: join(artifacts, "upgrade-done.png"), fullPage: true });
    const after = await images("aged");
    assert.equal(after.length, 4);
    for (const image of after) assert.equal(image, NEWEST_STABLE);
    // The next look at the image finds it current: the warning is gone from the page.
    await t.server.reconciler.runOnce();
    await page.locator("#image-warning").waitFor({ state: "hidden" });
    assert.deepEqual(dialogs, []);
    assert.deepEqual(errors, []);
    await page.close();
  });
});
