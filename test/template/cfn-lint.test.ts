/**
 * cfn-lint (AWS's CloudFormation linter, with AWS's resource specifications) over a matrix of the
 * templates pandacluster writes, in three regions: build-template's (both provisioning modes, both
 * architectures, with an image map from the feed and without, the default units and the opt-in
 * docker-tcp sample) and create's (both modes, cluster sizes 3 and 12, 0 and 100 workers, x86 and
 * Graviton instance types, the discovery URL known or not, a units file so big it is gzipped).
 *
 * Clean at warning level: no error, no warning. Informational findings are asked for too
 * (--include-checks I) and each one kept on purpose is listed in KEPT with its reason; any other
 * fails the test. cfn-lint is installed on these machines with pip (it is not in the registries the
 * project installs from): where it is missing the test fails and says so.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { loadTemplate } from "../../src/lifecycle/template.js";
import { type Arch, type Provisioning, unitsFromFile, validateOptions } from "../../src/options.js";
import { buildTemplate } from "../../src/template/build.js";
import { FEED_BASE_VARIABLE } from "../../src/template/images.js";
import { createOptions } from "../lifecycle/scenario.js";
import { ordinaryUnitsFile } from "./boot-units.js";
import { DISCOVERY, type FeedServer, KEYS, repoFile, startFeedServer } from "./support.js";

const REGIONS = ["us-east-1", "eu-west-1", "ap-southeast-2"];
const FORMATS: Provisioning[] = ["ignition", "cloud-config"];
const ARCHES: Arch[] = ["amd64", "arm64"];

/**
 * Informational findings kept on purpose: rule, where (a test on the finding's path), why.
 */
const KEPT: { rule: string; where: (path: (string | number)[]) => boolean; why: string }[] = [
  {
    rule: "I1022",
    where: (path) => path.includes("UserData") && path.includes("Fn::Join"),
    why:
      "Prefer Fn::Sub over Fn::Join: the user data is the boot config copied byte for byte, with a Ref " +
      "spliced in (DiscoveryURL, PrivateDomain). Fn::Sub would substitute every $" +
      "{…} in it: $" +
      "{COREOS_EC2_IPV4_LOCAL} of the etcd drop-in and any $" +
      "{VAR} of the user's units.",
  },
];

interface Finding {
  Rule: { Id: string };
  Level: string;
  Message: string;
  Filename: string;
  Location: { Path: (string | number)[] };
}

describe("cfn-lint over the matrix of templates, in three regions", () => {
  let folder: string;
  let server: FeedServer;
  const files = new Map<string, string>();
  const write = (name: string, body: string) => {
    const path = join(folder, `${name}.json`);
    writeFileSync(path, body);
    files.set(path, name);
  };

  before(async () => {
    folder = mkdtempSync(join(tmpdir(), "pandacluster-cfn-lint-"));
    server = await startFeedServer();
    process.env[FEED_BASE_VARIABLE] = server.base;
    const docker = () => unitsFromFile(repoFile("units", "samples", "docker-tcp", "unit-config.cson"));
    for (const provisioning of FORMATS) {
      for (const arch of ARCHES) {
        for (const offline of [true, false]) {
          for (const [unitsName, units] of [
            ["default units", undefined],
            ["docker-tcp sample", docker()],
          ] as const) {
            const built = await buildTemplate(
              { channel: "stable", arch, provisioning, offline, ...(units ? { units } : {}) },
              { public_keys: KEYS },
            );
            const map =
              built.image_map.source === "feed" ? "image map" : `no map (${offline ? "offline" : "no feed"})`;
            write(`build-template ${provisioning} ${arch} ${map} ${unitsName}`, built.body);
          }
        }
      }
      for (const [size, workers, type, arch] of [
        [3, 0, "t3.small", "amd64"],
        [12, 100, "m7g.large", "arm64"],
      ] as const) {
        for (const known of [false, true]) {
          const options = createOptions({
            provisioning,
            cluster_size: size,
            workers,
            instance_type: type,
            arch,
          });
          const loaded = await loadTemplate(options, { public_keys: KEYS }, known ? DISCOVERY : undefined);
          write(
            `create ${provisioning} size ${size} workers ${workers} ${type} url ${known ? "known" : "later"}`,
            loaded.body,
          );
        }
      }
      // So big that the boot config is gzipped (create, the URL known: cloud-config holds it then).
      const big = validateOptions(
        "create",
        { stack_name: "demo", key_pair: "k", units: ordinaryUnitsFile(120) },
        "library",
      );
      const loaded = await loadTemplate(
        createOptions({ provisioning, units: big.units }),
        { public_keys: KEYS },
        DISCOVERY,
      );
      assert.match(loaded.user_data?.encoding ?? "", /gzip/, "the big one is compressed");
      write(`create ${provisioning} gzipped`, loaded.body);
    }
  });
  after(async () => {
    delete process.env[FEED_BASE_VARIABLE];
    await server?.close();
  });

  it("the matrix covers both image-map cases", () => {
    const names = [...files.values()];
    assert.ok(
      names.some((n) => / image map /.test(n)) && names.some((n) => / no map /.test(n)),
      names.join("\n"),
    );
    assert.equal(files.size, 26);
  });

  it("no error, no warning; informational findings only those kept on purpose (KEPT)", () => {
    const version = spawnSync("cfn-lint", ["--version"], { encoding: "utf8" });
    if ((version.error as NodeJS.ErrnoException | undefined)?.code === "ENOENT") {
      assert.fail("cfn-lint is not on PATH: this test needs it (pip install cfn-lint; 1.51 was used)");
    }
    const result = spawnSync(
      "cfn-lint",
      ["--format", "json", "--include-checks", "I", "--regions", ...REGIONS, "--", ...files.keys()],
      // A deadline of its own: a synchronous child blocks the event loop, so the per-test timeout
      // could not end a hang (55 s were seen beside another test run).
      { encoding: "utf8", maxBuffer: 64 * 1024 * 1024, timeout: 240_000 },
    );
    assert.ifError(result.error);
    assert.ok(result.stdout.trim().startsWith("["), `cfn-lint did not answer JSON: ${result.stderr}`);
    const findings = JSON.parse(result.stdout) as Finding[];
    const unexpected = findings.filter(
      (f) => !KEPT.some((k) => k.rule === f.Rule.Id && k.where(f.Location.Path)),
    );
    assert.deepEqual(
      unexpected.map(
        (f) => `${files.get(f.Filename)}: ${f.Rule.Id} ${f.Location.Path.join("/")}: ${f.Message}`,
      ),
      [],
    );
    // The kept ones are there (the rule still fires: the list is not stale), and only as informational.
    for (const kept of KEPT)
      assert.ok(
        findings.some((f) => f.Rule.Id === kept.rule),
        `${kept.rule} still found`,
      );
    assert.ok(findings.every((f) => f.Level === "Informational"));
  });

  it("refuses what it should: the old template shape (String ImageId, an unused parameter) is flagged, so a clean run means something", () => {
    const old = {
      AWSTemplateFormatVersion: "2010-09-09",
      Parameters: {
        ImageId: { Type: "String" },
        Unused: { Type: "String" },
      },
      Resources: {
        LT: {
          Type: "AWS::EC2::LaunchTemplate",
          Properties: { LaunchTemplateData: { ImageId: { Ref: "ImageId" }, InstanceType: "t3.small" } },
        },
      },
    };
    const path = join(folder, "old.json");
    writeFileSync(path, JSON.stringify(old));
    const result = spawnSync("cfn-lint", ["--format", "json", "--", path], {
      encoding: "utf8",
      timeout: 120_000,
    });
    assert.ifError(result.error);
    const ids = (JSON.parse(result.stdout) as Finding[]).map((f) => f.Rule.Id).sort();
    assert.deepEqual(ids, ["W2001", "W2506"]);
  });
});
