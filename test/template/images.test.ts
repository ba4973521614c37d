/**
 * The image feed, against a real HTTP server on 127.0.0.1 serving fixture feeds (the machine has no
 * Internet). The tool reaches it through PANDACLUSTER_IMAGE_FEED_BASE, the mirror setting users behind
 * a proxy or in an air gap use; nothing here is a test-only switch.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, afterEach, before, describe, it } from "node:test";
import CSON from "cson-parser";
import { UsageError } from "../../src/errors.js";
import { validateOptions } from "../../src/options.js";
import { buildTemplate } from "../../src/template/build.js";
import { FEED_BASE_VARIABLE, feedUrls, fetchImageFeed, parseAmiFeed } from "../../src/template/images.js";
import { decodeUserData, validateAll } from "../helpers/boot.js";
import {
  closedPort,
  type FeedServer,
  fixture,
  nodeUserData,
  nodeUserDataBytes,
  repoFile,
  startFeedServer,
} from "./support.js";

const FEED = {
  "us-east-1": "ami-0a1b2c3d4e5f60001",
  "us-west-2": "ami-0a1b2c3d4e5f60002",
  "eu-central-1": "ami-0a1b2c3d4e5f60003",
  "ap-southeast-2": "ami-0a1b2c3d4e5f60004",
};
const stable = { channel: "stable", arch: "amd64", offline: false } as const;

describe("src/templates.cson", () => {
  it("names the Flatcar feed and version file for every channel and arch, and holds no AMI id", () => {
    const text = readFileSync(repoFile("src", "templates.cson"), "utf8");
    assert.doesNotMatch(text, /ami-[0-9a-f]{8}/);
    const feeds = CSON.parse(text) as Record<string, Record<string, { amis: string; version: string }>>;
    for (const channel of ["stable", "beta", "alpha", "lts"]) {
      for (const [arch, board] of [
        ["amd64", "amd64-usr"],
        ["arm64", "arm64-usr"],
      ] as const) {
        const base = `https://${channel}.release.flatcar-linux.net/${board}/current`;
        assert.deepEqual(feeds[channel]?.[arch], {
          amis: `${base}/flatcar_production_ami_all.json`,
          version: `${base}/version.txt`,
        });
      }
    }
  });

  it("PANDACLUSTER_IMAGE_FEED_BASE puts a mirror in place of the release server", () => {
    assert.deepEqual(feedUrls("lts", "arm64", { [FEED_BASE_VARIABLE]: "http://mirror.example/flatcar/" }), {
      amis: "http://mirror.example/flatcar/lts/arm64-usr/current/flatcar_production_ami_all.json",
      version: "http://mirror.example/flatcar/lts/arm64-usr/current/version.txt",
    });
    assert.equal(
      feedUrls("lts", "arm64", {}).amis.startsWith("https://lts.release.flatcar-linux.net/"),
      true,
    );
  });
});

describe("parsing a feed", () => {
  it("takes name → hvm, ignores pv, junk entries, bad region names and bad AMI ids", () => {
    const text = readFileSync(
      fixture("feed/stable/amd64-usr/current/flatcar_production_ami_all.json"),
      "utf8",
    );
    assert.deepEqual(parseAmiFeed(text, "u"), FEED);
  });

  it("a feed that is not JSON, has no amis list, or no HVM image is an OperationError naming the URL", () => {
    for (const text of [
      "<html>",
      '{"images": []}',
      '{"amis": [{"name": "us-east-1", "pv": "ami-00000001"}]}',
    ]) {
      assert.throws(() => parseAmiFeed(text, "http://x/feed.json"), {
        name: "OperationError",
        message: /http:\/\/x\/feed\.json/,
      });
    }
  });
});

describe("fetching the feed from a server", () => {
  let server: FeedServer;
  before(async () => {
    server = await startFeedServer((req, res, count) => {
      const url = req.url ?? "";
      // /slow/… never answers; /flaky/… fails once with a 503, then answers like /….
      if (url.startsWith("/slow/")) return true;
      if (url.startsWith("/flaky/")) {
        if (count > 1) return url.slice("/flaky".length);
        res.writeHead(503);
        res.end();
        return true;
      }
      return false;
    });
  });
  after(() => server.close());
  afterEach(() => {
    delete process.env[FEED_BASE_VARIABLE];
  });

  const env = (suffix = "") => ({ [FEED_BASE_VARIABLE]: `${server.base}${suffix}` });

  it("returns the AMIs and the version", async () => {
    const feed = await fetchImageFeed("stable", "amd64", { env: env() });
    assert.deepEqual(feed, { version: "4081.2.0", amis: FEED });
  });

  it("a missing version file only leaves the version out", async () => {
    const feed = await fetchImageFeed("beta", "arm64", { env: env() });
    assert.equal(feed.version, undefined);
    assert.deepEqual(Object.keys(feed.amis).sort(), ["eu-west-1", "us-east-2"]);
  });

  it("retries once after a server error", async () => {
    const before = server.requests.length;
    const feed = await fetchImageFeed("stable", "amd64", { env: env("/flaky") });
    assert.deepEqual(feed.amis, FEED);
    const amiRequests = server.requests.slice(before).filter((p) => p.endsWith(".json"));
    assert.equal(amiRequests.length, 2);
  });

  it("a 404 is an OperationError naming the URL and the status, without a retry", async () => {
    const before = server.requests.length;
    await assert.rejects(fetchImageFeed("alpha", "amd64", { env: env() }), {
      name: "OperationError",
      message: /alpha\/amd64-usr\/current\/flatcar_production_ami_all\.json: HTTP 404/,
    });
    assert.equal(server.requests.slice(before).filter((p) => p.endsWith(".json")).length, 1);
  });

  it("a server that does not answer times out (each of two attempts)", async () => {
    const started = Date.now();
    await assert.rejects(fetchImageFeed("stable", "amd64", { env: env("/slow"), timeoutMs: 200 }), {
      name: "OperationError",
      message: /no answer within 0\.2 s/,
    });
    assert.ok(Date.now() - started >= 400, "two attempts of 200 ms");
  });

  it("takes a fetch implementation", async () => {
    const urls: string[] = [];
    const fake: typeof fetch = async (input) => {
      urls.push(String(input));
      return new Response(
        String(input).endsWith(".json")
          ? '{"amis":[{"name":"eu-north-1","hvm":"ami-0123456789abcdef0"}]}'
          : "FLATCAR_VERSION=1.2.3\n",
      );
    };
    const feed = await fetchImageFeed("lts", "amd64", { fetchImpl: fake, env: {} });
    assert.deepEqual(feed, { version: "1.2.3", amis: { "eu-north-1": "ami-0123456789abcdef0" } });
    assert.ok(
      urls.includes(
        "https://lts.release.flatcar-linux.net/amd64-usr/current/flatcar_production_ami_all.json",
      ),
    );
  });

  it("online: the template gets RegionMap, ImageId defaults to empty, and the image is Fn::If HasImageId", async () => {
    process.env[FEED_BASE_VARIABLE] = server.base;
    const built = await buildTemplate(stable, {});
    const t = built.template;
    assert.deepEqual(
      t.Mappings?.RegionMap,
      Object.fromEntries(Object.entries(FEED).map(([region, ami]) => [region, { hvm: ami }])),
    );
    assert.deepEqual(t.Conditions?.HasImageId, { "Fn::Not": [{ "Fn::Equals": [{ Ref: "ImageId" }, ""] }] });
    assert.equal(t.Parameters.ImageId?.Default, "");
    const pattern = new RegExp(t.Parameters.ImageId?.AllowedPattern as string);
    assert.ok(pattern.test("") && pattern.test("ami-0123456789abcdef0") && !pattern.test("ami-xyz"));
    const data = t.Resources.LaunchTemplate?.Properties?.LaunchTemplateData as Record<string, unknown>;
    assert.deepEqual(data.ImageId, {
      "Fn::If": [
        "HasImageId",
        { Ref: "ImageId" },
        { "Fn::FindInMap": ["RegionMap", { Ref: "AWS::Region" }, "hvm"] },
      ],
    });
    assert.deepEqual(built.image_map, {
      source: "feed",
      channel: "stable",
      arch: "amd64",
      regions: 4,
      version: "4081.2.0",
    });
    assert.match(t.Description, /4081\.2\.0/);
    assert.ok(!built.notices.some((n) => /image map/.test(n)));
  });

  it("the region option limits the map to that region", async () => {
    process.env[FEED_BASE_VARIABLE] = server.base;
    const built = await buildTemplate({ ...stable, region: "eu-central-1" }, {});
    assert.deepEqual(built.template.Mappings?.RegionMap, {
      "eu-central-1": { hvm: "ami-0a1b2c3d4e5f60003" },
    });
    assert.equal(built.image_map.regions, 1);
  });

  it("a region the feed lacks: no map, a notice naming the region", async () => {
    process.env[FEED_BASE_VARIABLE] = server.base;
    const built = await buildTemplate({ ...stable, region: "af-south-1" }, {});
    assert.equal(built.template.Mappings, undefined);
    assert.equal(built.image_map.source, "none");
    assert.ok(
      built.notices.some((n) => n.includes("af-south-1") && n.includes("ImageId")),
      built.notices.join("\n"),
    );
  });

  it("offline never asks the server", async () => {
    process.env[FEED_BASE_VARIABLE] = server.base;
    const before = server.requests.length;
    const built = await buildTemplate({ ...stable, offline: true }, {});
    assert.equal(server.requests.length, before);
    assert.equal(built.template.Mappings, undefined);
  });

  it("a feed that cannot be fetched: no map, ImageId required, a notice saying the feed failed and why", async () => {
    process.env[FEED_BASE_VARIABLE] = `http://127.0.0.1:${await closedPort()}`;
    const built = await buildTemplate(stable, {});
    assert.equal(built.template.Mappings, undefined);
    assert.equal(built.template.Conditions?.HasImageId, undefined, "no map, no choice of image");
    assert.equal(built.template.Parameters.ImageId?.Default, undefined);
    const data = built.template.Resources.LaunchTemplate?.Properties?.LaunchTemplateData as Record<
      string,
      unknown
    >;
    assert.deepEqual(data.ImageId, { Ref: "ImageId" });
    assert.equal(built.image_map.source, "none");
    assert.match(
      built.image_map.reason ?? "",
      /could not fetch the Flatcar image feed http:\/\/127\.0\.0\.1:\d+\/stable\//,
    );
    const notice = built.notices.find((n) => n.includes("could not fetch"));
    assert.ok(notice, built.notices.join("\n"));
    assert.match(notice, /ECONNREFUSED/);
    assert.match(notice, /ImageId/);
  });

  it("the feed's map does not change the nodes' user data", async () => {
    process.env[FEED_BASE_VARIABLE] = server.base;
    const online = await buildTemplate(stable, {});
    const offline = await buildTemplate({ ...stable, offline: true }, {});
    const params = { DiscoveryURL: "https://d.example/x" };
    assert.equal(nodeUserData(online.template, params), nodeUserData(offline.template, params));
    const decoded = decodeUserData(nodeUserDataBytes(online.template, params));
    assert.equal(decoded.format, "ignition");
    for (const result of await validateAll(decoded)) assert.ok(result.ok, result.messages.join("\n"));
  });
});

describe("virtualization", () => {
  it("pv is refused with the reason, hvm accepted (validateOptions, as the CLI and library use it)", () => {
    assert.throws(
      () => validateOptions("build_template", { virtualization: "pv" }, "library"),
      (error: unknown) =>
        error instanceof UsageError &&
        /virtualization: "pv" is refused: .*PV.* no longer exist on EC2/.test(error.message),
    );
    assert.equal(
      validateOptions("build_template", { virtualization: "hvm" }, "library").virtualization,
      "hvm",
    );
  });
});
