/**
 * The nodes' boot config in both formats, decoded as EC2 and Flatcar would (base64, gzip, Ignition's
 * merged data: URLs) and every Ignition config checked by the real validator (ignition-validate).
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import CSON from "cson-parser";
import { UsageError } from "../../src/errors.js";
import { type UnitsInput, unitsWithFolder, validateOptions } from "../../src/options.js";
import { bootUserData, sampleDiscoveryUrl, USER_DATA_LIMIT } from "../../src/template/boot.js";
import { buildTemplate } from "../../src/template/build.js";
import { unitSyntaxProblem } from "../../src/template/ignition.js";
import { loadUnits } from "../../src/template/units.js";
import { VARIABLE_DEFAULTS } from "../../src/template/variables.js";
import {
  allText,
  type Decoded,
  decodeUserData,
  ignitionValidate,
  nodeKeys,
  nodeUnits,
  validateAll,
} from "../helpers/boot.js";
import { manyKeys, ordinaryUnitsFile } from "./boot-units.js";
import { DISCOVERY, fixture, KEYS, nodeUserDataBytes, repoFile } from "./support.js";

type Provisioning = "ignition" | "cloud-config";
const FORMATS: Provisioning[] = ["ignition", "cloud-config"];
// The discovery mode (etcd_bootstrap discovery): its drop-in holds the DiscoveryURL parameter.
const base = { channel: "stable", arch: "amd64", offline: true, etcd_bootstrap: "discovery" } as const;

const unitsFile = (path: string): UnitsInput =>
  validateOptions("build_template", { units: path }, "library").units as UnitsInput;
const inline = (units: unknown[]): UnitsInput => unitsWithFolder(units, "inline.cson", fixture("units"));
const fillDefaults = (text: string) =>
  text.replace(/\{\{(\w+)\}\}/g, (_, name: string) => VARIABLE_DEFAULTS[name] ?? `{{${name}}}`);

async function build(
  provisioning: Provisioning,
  units?: UnitsInput,
  publicKeys: string[] = KEYS,
  discovery?: Parameters<typeof buildTemplate>[3],
) {
  const built = await buildTemplate(
    { ...base, provisioning, ...(units ? { units } : {}) },
    { public_keys: publicKeys },
    // As create: it knows the cluster's zone (the workers' user data then holds it) with the URL.
    discovery ? { private_domain: "demo.cluster" } : undefined,
    discovery,
  );
  const decoded = decodeUserData(nodeUserDataBytes(built.template, { DiscoveryURL: DISCOVERY }));
  return { built, decoded };
}

/** Every Ignition config of the user data (its own and each merged one) passes ignition-validate, without warnings. */
async function assertValid(decoded: Decoded) {
  if (decoded.format !== "ignition") return;
  const results = await validateAll(decoded);
  assert.equal(results.length, decoded.configs.length);
  for (const result of results) {
    assert.ok(result.ok, result.messages.join("\n"));
    assert.deepEqual(result.warnings, []);
  }
}

function assertNoLiteralAddress(decoded: Decoded) {
  if (decoded.format === "ignition") assert.doesNotMatch(allText(decoded), /\$(private|public)_ipv4/);
}

const IGNITION_ETCD_DROP_IN = [
  "[Unit]",
  "Requires=coreos-metadata.service",
  "After=coreos-metadata.service",
  "",
  "[Service]",
  "EnvironmentFile=/run/metadata/flatcar",
  `Environment="ETCD_DISCOVERY=${DISCOVERY}"`,
  'Environment="ETCD_LISTEN_CLIENT_URLS=http://0.0.0.0:2379"',
  // The pinned etcd (etcd_version's default), for Flatcar's etcd-wrapper.
  'Environment="ETCD_IMAGE_TAG=v3.5.27"',
  "ExecStart=",
  "ExecStart=/usr/lib/coreos/etcd-wrapper $ETCD_OPTS \\",
  // biome-ignore lint/suspicious/noTemplateCurlyInString: systemd's ${…}
  "  --advertise-client-urls=http://${COREOS_EC2_IPV4_LOCAL}:2379 \\",
  // biome-ignore lint/suspicious/noTemplateCurlyInString: systemd's ${…}
  "  --initial-advertise-peer-urls=http://${COREOS_EC2_IPV4_LOCAL}:2380 \\",
  // biome-ignore lint/suspicious/noTemplateCurlyInString: systemd's ${…}
  "  --listen-peer-urls=http://${COREOS_EC2_IPV4_LOCAL}:2380",
  "",
].join("\n");

describe("ignition-validate (the real validator) is able to fail", () => {
  it("accepts a minimal 3.3.0 config", async () => {
    assert.ok((await ignitionValidate({ ignition: { version: "3.3.0" } })).ok);
  });
  it("refuses an unknown spec version, a broken unit and a unit without a name", async () => {
    assert.equal((await ignitionValidate({ ignition: { version: "9.9.0" } })).ok, false);
    const brokenUnit = {
      ignition: { version: "3.3.0" },
      systemd: { units: [{ name: "a.service", contents: "[Service\nExecStart=/bin/true\n" }] },
    };
    const result = await ignitionValidate(brokenUnit);
    assert.equal(result.ok, false);
    assert.match(result.messages.join("\n"), /invalid unit content/);
    const noName = { ignition: { version: "3.3.0" }, systemd: { units: [{ contents: "[Unit]\n" }] } };
    assert.equal((await ignitionValidate(noName)).ok, false);
  });
});

describe("Ignition (the default)", () => {
  it("the bundled units: a 3.3.0 config the validator accepts, keys for core, etcd after coreos-metadata", async () => {
    const built = await buildTemplate(base, { public_keys: KEYS });
    assert.equal(built.user_data.provisioning, "ignition", "Ignition is the default");
    const decoded = decodeUserData(nodeUserDataBytes(built.template, { DiscoveryURL: DISCOVERY }));
    assert.equal(decoded.format, "ignition");
    assert.equal(decoded.gzipped, false);
    assert.equal(built.user_data.encoding, "plain");
    assert.equal(built.user_data.bytes, decoded.bytes - DISCOVERY.length + sampleDiscoveryUrl().length);
    if (decoded.format !== "ignition") return;
    assert.equal(decoded.configs[0]?.ignition.version, "3.3.0");
    await assertValid(decoded);
    assert.deepEqual(nodeKeys(decoded), KEYS);
    assert.deepEqual(
      decoded.effective.passwd?.users.map((u) => u.name),
      ["core"],
    );

    const units = nodeUnits(decoded);
    const listed = CSON.parse(readFileSync(repoFile("units", "unit-config.cson"), "utf8")) as {
      name: string;
      content: string;
    }[];
    for (const entry of listed) {
      assert.equal(
        units.get(entry.name)?.content,
        fillDefaults(readFileSync(repoFile("units", entry.content), "utf8")),
      );
    }
    const etcd = units.get("etcd-member.service");
    assert.equal(etcd?.enabled, true);
    assert.equal(etcd?.content, undefined, "the image's own unit");
    assert.equal(etcd?.dropIns.get("20-cluster.conf"), IGNITION_ETCD_DROP_IN);

    // var-lib-docker.mount is enabled through its [Install] (RequiredBy=docker.service) and pulls in
    // format-ephemeral.service (Requires=): no link is needed. No Docker API on TCP by default.
    assert.equal(units.get("var-lib-docker.mount")?.enabled, true);
    assert.equal(decoded.effective.storage?.links ?? undefined, undefined);
    assert.ok(!units.has("docker-tcp.socket") && !units.has("enable-docker-tcp.service"));
    assert.deepEqual(
      built.notices.filter((n) => /Ignition|enable/.test(n)),
      [],
      "nothing to warn about",
    );
  });

  it("is JSON.stringify's: the user data parses as JSON and holds the DiscoveryURL parameter once, through Fn::Join", async () => {
    const built = await buildTemplate(base, {});
    const data = built.template.Resources.LaunchTemplate?.Properties?.LaunchTemplateData as Record<
      string,
      unknown
    >;
    const join = (data.UserData as { "Fn::Base64": { "Fn::Join": [string, unknown[]] } })["Fn::Base64"][
      "Fn::Join"
    ];
    // The discovery URL once, and the etcd version (the same drop-in): every other piece is text.
    assert.deepEqual(
      join[1].filter((piece) => typeof piece !== "string"),
      [{ Ref: "DiscoveryURL" }, { Ref: "EtcdVersion" }],
    );
    assert.equal(join[1].length, 5);
    assert.ok(
      !JSON.stringify(data.UserData).includes("Fn::Sub"),
      "Fn::Sub would substitute the units dollar-brace variables",
    );
  });

  it("drops nothing without a key: no passwd section without public_keys", async () => {
    const { decoded } = await build("ignition", undefined, []);
    assert.ok(decoded.format === "ignition" && decoded.effective.passwd === undefined);
    await assertValid(decoded);
  });
});

// biome-ignore lint/suspicious/noTemplateCurlyInString: a literal ${x} is what this checks
describe("round trip, both formats: every unit byte for byte (quotes, %, ${x}, tabs, non-ASCII, CRLF)", () => {
  const read = (name: string) => readFileSync(fixture("units", name), "utf8");
  const listed = CSON.parse(read("ignition-nasty.cson")) as {
    name: string;
    content?: string;
    content_text?: string;
    drop_ins?: { name: string; content?: string; content_text?: string }[];
  }[];
  const ipRewrite = (text: string) =>
    text
      .replaceAll("$private_ipv4", `\${COREOS_EC2_IPV4_LOCAL}`)
      .replaceAll("$public_ipv4", `\${COREOS_EC2_IPV4_PUBLIC}`);

  for (const provisioning of FORMATS) {
    it(provisioning, async () => {
      const { built, decoded } = await build(
        provisioning,
        unitsFile(fixture("units", "ignition-nasty.cson")),
      );
      await assertValid(decoded);
      assertNoLiteralAddress(decoded);
      assert.deepEqual(nodeKeys(decoded), KEYS);
      const units = nodeUnits(decoded);
      const expect = provisioning === "ignition" ? ipRewrite : (text: string) => text;
      for (const entry of listed) {
        const unit = units.get(entry.name);
        assert.ok(unit, entry.name);
        const text = entry.content !== undefined ? read(entry.content) : entry.content_text;
        assert.equal(unit.content, text === undefined ? undefined : expect(text), entry.name);
        for (const dropIn of entry.drop_ins ?? []) {
          const dropText = dropIn.content !== undefined ? read(dropIn.content) : dropIn.content_text;
          assert.equal(unit.dropIns.get(dropIn.name), dropText, `${entry.name} ${dropIn.name}`);
        }
      }
      assert.equal(units.get("masked.service")?.mask, true);
      if (decoded.format !== "ignition") {
        assert.match(decoded.text, /^#cloud-config\n/);
        return;
      }
      // The unit whose Exec lines used the addresses reads them from coreos-metadata.
      assert.equal(
        units.get("inline.service")?.dropIns.get("10-pandacluster-metadata.conf"),
        "[Unit]\nRequires=coreos-metadata.service\nAfter=coreos-metadata.service\n\n[Service]\nEnvironmentFile=/run/metadata/flatcar\n",
      );
      assert.equal(
        units.get("nasty.service")?.dropIns.has("10-pandacluster-metadata.conf"),
        false,
        "only a comment used it",
      );
      // start/restart without an enabled [Install]: links; docker.service has no content: the image's unit.
      assert.deepEqual(
        decoded.effective.storage?.links?.map((l) => [l.path.split("/").at(-1), l.target]),
        [
          ["nasty.service", "/etc/systemd/system/nasty.service"],
          ["inline.service", "/etc/systemd/system/inline.service"],
          ["docker.service", "/usr/lib/systemd/system/docker.service"],
        ],
      );
      assert.ok(built.notices.some((n) => /enable does nothing .*crlf\.service/.test(n)));
      assert.equal(units.get("crlf.service")?.enabled, undefined, "no [Install]: enabled is left out");
    });
  }
});

describe("Ignition: what it cannot express is said, or refused naming the unit", () => {
  const unit = (extra: Record<string, unknown>) =>
    inline([{ name: "a.service", content_text: "[Service]\nExecStart=/bin/true\n", ...extra }]);

  it("command stop is refused (exit 2), pointing at mask and at cloud-config", async () => {
    await assert.rejects(build("ignition", unit({ command: "stop" })), (error: unknown) => {
      assert.ok(error instanceof UsageError);
      assert.equal(error.exitCode, 2);
      assert.match(
        error.message,
        /^unit a\.service: command stop has no Ignition form.*mask: true.*--provisioning cloud-config/,
      );
      return true;
    });
    await build("cloud-config", unit({ command: "stop" }));
  });

  it("a masked unit with command start is refused", async () => {
    await assert.rejects(
      build("ignition", unit({ command: "start", mask: true })),
      /a masked unit cannot start/,
    );
  });

  it("reload, try-restart, reload-or-try-restart are ignored with one notice; runtime with one notice", async () => {
    const units = inline([
      {
        name: "a.service",
        command: "reload",
        runtime: true,
        content_text: "[Service]\nExecStart=/bin/true\n",
      },
      {
        name: "b.service",
        command: "try-restart",
        runtime: "yes",
        content_text: "[Service]\nExecStart=/bin/true\n",
      },
      {
        name: "c.service",
        command: "reload-or-try-restart",
        content_text: "[Service]\nExecStart=/bin/true\n",
      },
    ]);
    const { built, decoded } = await build("ignition", units);
    await assertValid(decoded);
    assert.equal(
      decoded.format === "ignition" && decoded.effective.storage?.links,
      undefined,
      "nothing started",
    );
    const runtime = built.notices.filter((n) => /runtime/.test(n));
    assert.deepEqual(runtime, [
      "runtime has no meaning under Ignition (it writes units to /etc before the first boot): ignored for a.service, b.service",
    ]);
    const idle = built.notices.filter((n) => /reload/.test(n));
    assert.equal(idle.length, 1);
    assert.match(
      idle[0] ?? "",
      /a\.service \(reload\), b\.service \(try-restart\), c\.service \(reload-or-try-restart\)/,
    );
  });

  it("an instance of an image's template unit is linked to the template (getty@ttyS1.service → getty@.service)", async () => {
    const { decoded } = await build("ignition", inline([{ name: "getty@ttyS1.service", command: "start" }]));
    await assertValid(decoded);
    assert.ok(decoded.format === "ignition");
    assert.deepEqual(decoded.effective.storage?.links, [
      {
        path: "/etc/systemd/system/multi-user.target.wants/getty@ttyS1.service",
        target: "/usr/lib/systemd/system/getty@.service",
      },
    ]);
  });

  it("an enabled unit with [Install] WantedBy= starts through it: no link", async () => {
    const { decoded } = await build(
      "ignition",
      unit({
        command: "start",
        enable: "on",
        content_text: "[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\n",
      }),
    );
    await assertValid(decoded);
    assert.ok(decoded.format === "ignition");
    assert.equal(decoded.effective.storage?.links, undefined);
    assert.equal(nodeUnits(decoded).get("a.service")?.enabled, true);
  });

  for (const [title, entry, line] of [
    [
      "in a socket's ListenStream=",
      { name: "s.socket", content_text: "[Socket]\nListenStream=$private_ipv4:80\n" },
      /line 2 \(ListenStream=\)/,
    ],
    [
      "in a service's Environment=",
      { name: "e.service", content_text: '[Service]\nEnvironment="IP=$public_ipv4"\nExecStart=/bin/true\n' },
      /line 2 \(Environment=\)/,
    ],
    [
      "in a drop-in's Description=",
      {
        name: "d.service",
        drop_ins: [{ name: "x.conf", content_text: "[Unit]\nDescription=$private_ipv4\n" }],
      },
      /drop-in x\.conf uses \$private_ipv4 on line 2/,
    ],
  ] as const) {
    it(`$private_ipv4 / $public_ipv4 ${title} is refused, naming the unit and the line`, async () => {
      await assert.rejects(build("ignition", inline([entry])), (error: unknown) => {
        assert.ok(error instanceof UsageError);
        assert.match(error.message, new RegExp(`^unit ${entry.name.replace(".", "\\.")}: `));
        assert.match(error.message, line);
        assert.match(
          error.message,
          /COREOS_EC2_IPV4_(LOCAL|PUBLIC).*ExecStart=.*--provisioning cloud-config/,
        );
        return true;
      });
      // coreos-cloudinit substitutes it anywhere.
      await build("cloud-config", inline([entry]));
    });
  }
});

describe("Ignition's unit parser: what it refuses at boot is refused at build (exit 2)", () => {
  it("agrees with ignition-validate, snippet by snippet", async () => {
    const snippets = [
      "[Unit]\nKey: value\n",
      "Description=before any section\n[Unit]\n",
      "[Unit]\n  leading=1\n\tTab=1\n",
      "[Unit]\nA=b\\\n- continued\n",
      `[Unit]\nA=${"x".repeat(2045)}\nB=1\n`,
      `[Unit]\nA=${"x".repeat(2046)}\nB=1\n`,
      "[Unit]\r\nA=b\r\n",
      "   no section\n\tat all\n",
      "[Unit]\n[Bad section\n",
      "[Unit]\n# c\n; c\n  # indented comment \\\nA=b\n",
      "[Unit]\n# a comment \\\nnot an option\n",
      "[Unit]\nA=b\nlast line without =",
      "[Unit]\nA=b\\\n# a comment inside\nnot an option\n",
    ];
    for (const text of snippets) {
      const config = {
        ignition: { version: "3.3.0" },
        systemd: { units: [{ name: "a.service", contents: text }] },
      };
      const validator = await ignitionValidate(config);
      assert.equal(
        unitSyntaxProblem(text) === undefined,
        validator.ok,
        `${JSON.stringify(text.slice(0, 50))}: ${validator.messages}`,
      );
    }
  });

  it("a unit with a line that is no option is refused, naming the unit and the line; cloud-config takes it", async () => {
    const units = unitsFile(fixture("units", "nasty.cson"));
    await assert.rejects(build("ignition", units), (error: unknown) => {
      assert.ok(error instanceof UsageError);
      assert.match(
        error.message,
        /^unit nasty\.service: its content, line 11 \("Key: value"\) is neither a \[Section\], a Key=value option nor a comment: Ignition refuses/m,
      );
      return true;
    });
    await build("cloud-config", units);
  });
});

describe("EC2's 16,384-byte user-data limit, checked before any AWS call", () => {
  it("is 16,384 and measured with a discovery URL of real length (the configured service's, else discovery.etcd.io)", async () => {
    assert.equal(USER_DATA_LIMIT, 16_384);
    assert.match(sampleDiscoveryUrl(), /^https:\/\/discovery\.etcd\.io\/[0-9a-f]{32}$/);
    const { built } = await build("ignition");
    assert.equal(built.user_data.discovery_url_length, 58);
    const local = await buildTemplate(base, { discovery_service: "http://127.0.0.1:4001/" });
    assert.equal(local.user_data.discovery_url_length, "http://127.0.0.1:4001/".length + 32);
  });

  for (const count of [60, 200]) {
    it(`${count} ordinary units, Ignition: a small config merging a gzip data: URL, ≤ 16,384 bytes, both configs valid, every unit intact`, async () => {
      const path = ordinaryUnitsFile(count);
      const { built, decoded } = await build("ignition", unitsFile(path));
      assert.equal(built.user_data.encoding, "gzip-merge");
      assert.ok(built.user_data.plain_bytes > USER_DATA_LIMIT, "the plain config would not fit");
      assert.ok(built.user_data.bytes <= USER_DATA_LIMIT, String(built.user_data.bytes));
      assert.ok(decoded.bytes <= USER_DATA_LIMIT);
      assert.ok(decoded.format === "ignition");
      assert.equal(decoded.configs.length, 2, "the user data's config and the merged one");
      assert.equal(decoded.configs[0]?.ignition.config?.merge[0]?.compression, "gzip");
      assert.match(decoded.configs[0]?.ignition.config?.merge[0]?.source ?? "", /^data:;base64,/);
      await assertValid(decoded);
      // The URL stays a parameter: it is in the outer config's etcd drop-in, not in the gzip.
      assert.equal(decoded.configs[0]?.systemd?.units[0]?.dropins?.[0]?.contents, IGNITION_ETCD_DROP_IN);
      assert.ok(!JSON.stringify(decoded.configs[1]).includes(DISCOVERY));
      const units = nodeUnits(decoded);
      const listed = JSON.parse(readFileSync(path, "utf8")) as { name: string; content_text: string }[];
      for (const entry of listed) assert.equal(units.get(entry.name)?.content, entry.content_text);
      assert.deepEqual(nodeKeys(decoded), KEYS);
      assert.equal(units.get("etcd-member.service")?.dropIns.get("20-cluster.conf"), IGNITION_ETCD_DROP_IN);
    });

    it(`${count} ordinary units, cloud-config: build-template refuses (the URL is unknown); create gzips it with the URL`, async () => {
      const units = unitsFile(ordinaryUnitsFile(count));
      await assert.rejects(build("cloud-config", units), (error: unknown) => {
        assert.ok(error instanceof UsageError);
        assert.match(
          error.message,
          /^the cloud-config user data is [\d,]+ bytes \(with a 58-character discovery URL\); EC2 accepts at most 16,384 bytes of user data\. Gzipped it would be [\d,]+ bytes.*--provisioning ignition/,
        );
        return true;
      });
      // What create does once the service gave the URL.
      const { built, decoded } = await build("cloud-config", units, KEYS, {
        sampleUrl: DISCOVERY,
        knownUrl: DISCOVERY,
      });
      assert.equal(built.user_data.encoding, "gzip");
      assert.ok(decoded.gzipped && decoded.bytes <= USER_DATA_LIMIT, String(decoded.bytes));
      assert.ok(decoded.format === "cloud-config");
      const nodes = nodeUnits(decoded);
      const listed = JSON.parse(readFileSync(units.source, "utf8")) as {
        name: string;
        content_text: string;
      }[];
      for (const entry of listed) assert.equal(nodes.get(entry.name)?.content, entry.content_text);
      assert.deepEqual(nodeKeys(decoded), KEYS);
      assert.match(
        nodes.get("etcd-member.service")?.dropIns.get("20-cluster.conf") ?? "",
        new RegExp(`ETCD_DISCOVERY=${DISCOVERY}"`),
      );
    });
  }

  for (const provisioning of FORMATS) {
    it(`${provisioning}: what gzip cannot bring under the limit is refused with its size and the limit`, async () => {
      const noise = (i: number) =>
        randomBytes(3_000)
          .toString("base64")
          .replace(/(.{70})/g, "# $1\n") + i;
      const units = inline(
        Array.from({ length: 8 }, (_, i) => ({ name: `n${i}.service`, content_text: noise(i) })),
      );
      await assert.rejects(build(provisioning, units, KEYS, { sampleUrl: DISCOVERY, knownUrl: DISCOVERY }), {
        name: "UsageError",
        message: new RegExp(
          `^the ${provisioning === "ignition" ? "Ignition" : "cloud-config"} user data is [\\d,]+ bytes \\(with a 58-character discovery URL\\), [\\d,]+ bytes gzipped; EC2 accepts at most 16,384 bytes of user data \\([\\d,]+ over\\)`,
        ),
      });
    });
  }
});

describe("the seed's own units file (string booleans, ../units/ paths, a unit the image has)", () => {
  const seed = () => unitsFile(fixture("..", "seed", "units", "unit-config.cson"));
  const seedFile = (name: string) => readFileSync(fixture("..", "seed", "units", name), "utf8");

  it('loads: "true"/"yes"/"no"/"false" become real booleans', () => {
    const units = loadUnits(seed(), VARIABLE_DEFAULTS);
    assert.deepEqual(
      units.map((u) => [u.name, u.runtime, u.enable, u.mask]),
      [
        ["format-ephemeral.service", true, undefined, undefined],
        ["var-lib-docker.mount", true, undefined, undefined],
        ["docker-tcp.socket", true, true, undefined],
        ["enable-docker-tcp.service", true, false, undefined],
        ["docker.service", undefined, undefined, false],
      ],
    );
  });

  for (const provisioning of FORMATS) {
    it(provisioning, async () => {
      const { built, decoded } = await build(provisioning, seed());
      await assertValid(decoded);
      const units = nodeUnits(decoded);
      for (const name of [
        "format-ephemeral.service",
        "var-lib-docker.mount",
        "docker-tcp.socket",
        "enable-docker-tcp.service",
      ]) {
        assert.equal(units.get(name)?.content, fillDefaults(seedFile(name)), name);
      }
      assert.equal(units.get("docker-tcp.socket")?.enabled, true);
      assert.equal(units.get("enable-docker-tcp.service")?.enabled, false);
      assert.ok(units.has("docker.service"));
      assert.equal(units.get("docker.service")?.content, undefined);
      if (decoded.format === "cloud-config") {
        const raw = decoded.config.coreos.units;
        assert.equal(raw.find((u) => u.name === "docker-tcp.socket")?.runtime, true, "a real boolean");
        assert.equal(raw.find((u) => u.name === "docker-tcp.socket")?.enable, true);
        return;
      }
      assert.ok(built.notices.some((n) => n.startsWith("runtime has no meaning under Ignition")));
      assert.deepEqual(
        decoded.effective.storage?.links?.map((l) => l.target),
        [
          "/etc/systemd/system/format-ephemeral.service",
          "/etc/systemd/system/var-lib-docker.mount",
          "/etc/systemd/system/enable-docker-tcp.service",
          "/usr/lib/systemd/system/docker.service",
        ],
        "docker-tcp.socket starts through its [Install]; the others through links",
      );
    });
  }
});

describe("boot configs for other kinds of node (role-friendly builder)", () => {
  it("a node without an etcd member: no etcd unit and no DiscoveryURL in its user data", () => {
    for (const provisioning of FORMATS) {
      const made = bootUserData({ units: [], publicKeys: KEYS }, provisioning, { sampleUrl: DISCOVERY });
      assert.ok(!JSON.stringify(made.value).includes("DiscoveryURL"), provisioning);
      const text = Buffer.from(String((made.value as { "Fn::Base64": string })["Fn::Base64"]), "utf8");
      const decoded = decodeUserData(text);
      assert.equal(nodeUnits(decoded).has("etcd-member.service"), false);
      assert.deepEqual(nodeKeys(decoded), KEYS);
    }
  });

  it("50 keys reach user core in both formats", async () => {
    for (const provisioning of FORMATS) {
      const { decoded } = await build(provisioning, undefined, manyKeys(50));
      assert.deepEqual(nodeKeys(decoded), manyKeys(50));
      await assertValid(decoded);
    }
  });
});
