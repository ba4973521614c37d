import assert from "node:assert/strict";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { describe, it } from "node:test";
import CSON from "cson-parser";
import YAML from "yaml";
import { UsageError } from "../../src/errors.js";
import type { UnitsInput } from "../../src/options.js";
import { unitsWithFolder, validateOptions } from "../../src/options.js";
import { buildTemplate } from "../../src/template/build.js";
import { loadUnits } from "../../src/template/units.js";
import { VARIABLE_DEFAULTS } from "../../src/template/variables.js";
import { distModule, runUnprivileged } from "../helpers/harness.js";
import { DISCOVERY, fixture, KEYS, nodeUserData, repoFile } from "./support.js";

const options = {
  channel: "stable",
  arch: "amd64",
  offline: true,
  provisioning: "cloud-config",
  etcd_bootstrap: "discovery",
} as const;

interface NodeUnit {
  name: string;
  content?: string;
  command?: string;
  enable?: boolean;
  runtime?: boolean;
  mask?: boolean;
  drop_ins?: { name: string; content: string }[];
}
interface CloudConfig {
  ssh_authorized_keys?: string[];
  coreos: { units: NodeUnit[] };
}

/** What a node would parse from its user data, given the DiscoveryURL parameter. */
function nodeConfig(template: Parameters<typeof nodeUserData>[0], discovery = DISCOVERY) {
  const text = nodeUserData(template, { DiscoveryURL: discovery });
  return { text, config: YAML.parse(text, { uniqueKeys: true }) as CloudConfig };
}

/** The units file from a fixture folder, as the CLI and library hand it over (validateOptions reads it). */
function unitsFile(path: string): UnitsInput {
  return validateOptions("build_template", { units: path }, "library").units as UnitsInput;
}

const fillDefaults = (text: string) =>
  text.replace(/\{\{(\w+)\}\}/g, (_, name: string) => VARIABLE_DEFAULTS[name] ?? `{{${name}}}`);

describe("round trip: the user data a node receives holds every unit byte for byte", () => {
  it("the bundled units (the default), placeholders filled with their defaults", async () => {
    const built = await buildTemplate(options, { public_keys: KEYS });
    const { text, config } = nodeConfig(built.template);
    assert.ok(text.startsWith("#cloud-config\n"));
    const listed = CSON.parse(readFileSync(repoFile("units", "unit-config.cson"), "utf8")) as {
      name: string;
      content: string;
      command?: string;
      enable?: boolean;
      runtime?: boolean;
    }[];
    assert.deepEqual(
      listed.map((u) => u.name),
      ["format-ephemeral.service", "var-lib-docker.mount"],
      "no Docker API on TCP by default (the docker-tcp units are an opt-in sample)",
    );
    for (const entry of listed) {
      const unit = config.coreos.units.find((u) => u.name === entry.name);
      assert.ok(unit, `${entry.name} on the node`);
      const file = readFileSync(repoFile("units", entry.content), "utf8");
      assert.equal(unit.content, fillDefaults(file), entry.name);
      assert.doesNotMatch(unit.content ?? "", /\{\{/);
      assert.equal(unit.command, entry.command);
      assert.equal(unit.enable, entry.enable);
      assert.equal(unit.runtime, entry.runtime);
    }
  });

  // biome-ignore lint/suspicious/noTemplateCurlyInString: a literal ${...} is what this checks
  it("units holding quotes, colons, #, ${x}, %, tabs, trailing spaces, non-ASCII, $private_ipv4, CRLF, leading spaces", async () => {
    const built = await buildTemplate({ ...options, units: unitsFile(fixture("units", "nasty.cson")) }, {});
    const { config } = nodeConfig(built.template);
    const read = (name: string) => readFileSync(fixture("units", name), "utf8");
    const byName = (name: string) => config.coreos.units.find((u) => u.name === name);

    const nasty = byName("nasty.service");
    assert.equal(nasty?.content, read("nasty.service"));
    assert.ok(
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a literal ${...} is what this checks
      nasty?.content?.includes("${x}") && nasty.content.includes("\t") && nasty.content.includes("☃"),
    );
    assert.equal(nasty?.command, "start");
    assert.deepEqual(nasty?.drop_ins, [
      { name: "10-from-file.conf", content: read("drop-in.conf") },
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a literal ${...} is what this checks
      { name: "20-inline.conf", content: '[Service]\nEnvironment="X=${x}" # 100% ünïcode\t \n' },
    ]);
    assert.equal(byName("leading.service")?.content, read("leading.service"));
    assert.equal(byName("leading.service")?.runtime, true);
    assert.equal(byName("crlf.service")?.content, read("crlf.service"));
    assert.equal(byName("inline.service")?.content, "[Unit]\nDescription=inline: 'q' \"qq\" $private_ipv4");
    assert.equal(byName("inline.service")?.command, "restart");
    assert.deepEqual(byName("masked.service"), { name: "masked.service", mask: true });
  });

  // biome-ignore lint/suspicious/noTemplateCurlyInString: a literal ${...} is what this checks
  it("the template's JSON carries the text as it is: no ${...} is left for CloudFormation to read", async () => {
    const built = await buildTemplate({ ...options, units: unitsFile(fixture("units", "nasty.cson")) }, {});
    const data = built.template.Resources.LaunchTemplate?.Properties?.LaunchTemplateData as Record<
      string,
      unknown
    >;
    const inner = (data.UserData as Record<string, unknown>)["Fn::Base64"] as Record<string, unknown>;
    // With Fn::Join, CloudFormation substitutes nothing inside the strings; with Fn::Sub every ${ would
    // have to be escaped as ${!. Either way the decoded text above must match, which the evaluator checks.
    if ("Fn::Sub" in inner) assert.doesNotMatch(JSON.stringify(inner["Fn::Sub"]), /\$\{(?!!|DiscoveryURL\})/);
    else assert.ok("Fn::Join" in inner);
  });
});

describe("the cloud-config", () => {
  it("carries the config's public keys as ssh_authorized_keys", async () => {
    const built = await buildTemplate(options, { public_keys: KEYS });
    assert.deepEqual(nodeConfig(built.template).config.ssh_authorized_keys, KEYS);
  });

  it("has no ssh_authorized_keys without keys", async () => {
    const built = await buildTemplate(options, {});
    assert.equal("ssh_authorized_keys" in nodeConfig(built.template).config, false);
  });

  it("configures etcd-member.service with a drop_ins entry holding the discovery URL and $private_ipv4", async () => {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a literal ${...} is what this checks
    const discovery = "http://127.0.0.1:8087/abc?x=1&y=#z:${a}";
    const built = await buildTemplate(options, {});
    const { config } = nodeConfig(built.template, discovery);
    const etcd = config.coreos.units.at(-1);
    assert.equal(etcd?.name, "etcd-member.service");
    assert.equal(etcd?.command, "start");
    assert.equal(etcd?.enable, true);
    assert.deepEqual(etcd?.drop_ins, [
      {
        name: "20-cluster.conf",
        content: [
          "[Service]",
          `Environment="ETCD_DISCOVERY=${discovery}"`,
          'Environment="ETCD_ADVERTISE_CLIENT_URLS=http://$private_ipv4:2379"',
          'Environment="ETCD_INITIAL_ADVERTISE_PEER_URLS=http://$private_ipv4:2380"',
          'Environment="ETCD_LISTEN_CLIENT_URLS=http://0.0.0.0:2379"',
          'Environment="ETCD_LISTEN_PEER_URLS=http://$private_ipv4:2380"',
          // The pinned etcd (etcd_version's default), for Flatcar's etcd-wrapper.
          'Environment="ETCD_IMAGE_TAG=v3.5.27"',
          "",
        ].join("\n"),
      },
    ]);
  });

  it("writes every key with underscores: drop_ins, never drop-ins", async () => {
    const built = await buildTemplate(
      { ...options, units: unitsFile(fixture("units", "nasty.cson")) },
      { public_keys: KEYS },
    );
    const { text, config } = nodeConfig(built.template);
    const keys: string[] = [];
    const walk = (value: unknown) => {
      if (Array.isArray(value)) value.forEach(walk);
      else if (value && typeof value === "object") {
        for (const [k, v] of Object.entries(value)) {
          keys.push(k);
          walk(v);
        }
      }
    };
    walk(config);
    assert.ok(keys.includes("drop_ins"));
    assert.deepEqual(
      keys.filter((k) => k.includes("-")),
      [],
    );
    assert.doesNotMatch(text, /^\s*-?\s*drop-ins:/m);
  });

  it("a units file entry for etcd-member.service is merged: its drop-ins join pandacluster's", async () => {
    const units: UnitsInput = {
      units: [
        {
          name: "etcd-member.service",
          drop_ins: [
            { name: "30-image.conf", content_text: "[Service]\nEnvironment=ETCD_IMAGE_TAG=v3.5.17\n" },
          ],
        },
      ],
      source: "inline",
    };
    const built = await buildTemplate({ ...options, units }, {});
    const etcd = nodeConfig(built.template).config.coreos.units.filter(
      (u) => u.name === "etcd-member.service",
    );
    assert.equal(etcd.length, 1);
    assert.deepEqual(
      etcd[0]?.drop_ins?.map((d) => d.name),
      ["20-cluster.conf", "30-image.conf"],
    );
    assert.equal(etcd[0]?.command, "start");
  });
});

describe("placeholders", () => {
  it("are filled from the arguments, the caller's variables and the defaults; other {{...}} is left alone", async () => {
    const built = await buildTemplate(
      {
        channel: "beta",
        arch: "arm64",
        offline: true,
        provisioning: "cloud-config",
        units: unitsFile(fixture("units", "placeholders.cson")),
      },
      {},
      { stack_name: "demo", cluster_size: "5", ephemeral_device: "/dev/nvme2n1" },
    );
    const units = nodeConfig(built.template).config.coreos.units;
    assert.equal(
      units.find((u) => u.name === "placeholders.socket")?.content,
      [
        "[Unit]",
        "Description=Channel beta on arm64, cluster demo of 5",
        "ConditionPathExists=/dev/nvme2n1",
        "",
        "[Socket]",
        "ListenStream=2375",
        "# Not placeholders: {{.Names}} {{ json . }} { {channel} } {{channel",
        "",
      ].join("\n"),
    );
    assert.equal(units.find((u) => u.name === "inline-placeholder.service")?.content, "Where=/dev/nvme2n1\n");
  });

  it("the defaults: the instance-store disks by stable name, the seed's device by index, Docker's port 2375", () => {
    assert.equal(
      VARIABLE_DEFAULTS.instance_store_disks,
      "/dev/disk/by-id/nvme-Amazon_EC2_NVMe_Instance_Storage_*",
    );
    assert.equal(VARIABLE_DEFAULTS.docker_disk, "/run/pandacluster/docker-disk");
    assert.equal(VARIABLE_DEFAULTS.ephemeral_device, "/dev/nvme1n1");
    assert.equal(VARIABLE_DEFAULTS.docker_port, "2375");
  });

  it("an unknown placeholder is a UsageError naming the unit file and the variable", async () => {
    const units = unitsFile(fixture("units", "unknown-placeholder.cson"));
    await assert.rejects(buildTemplate({ ...options, units }, {}), (error: unknown) => {
      assert.ok(error instanceof UsageError);
      assert.match(error.message, /unknown-placeholder\.cson: units\[1\] \(unknown\.service\)/);
      assert.match(error.message, /unknown-placeholder\.service/);
      assert.match(error.message, /\{\{no_such_variable\}\}/);
      assert.doesNotMatch(error.message, /ephemeral_device\}\}/);
      return true;
    });
  });

  it("a variable only create passes (stack_name) is unknown to a plain build", async () => {
    await assert.rejects(
      buildTemplate({ ...options, units: unitsFile(fixture("units", "placeholders.cson")) }, {}),
      {
        name: "UsageError",
        message: /placeholders\.service: unknown placeholder \{\{stack_name\}\}/,
      },
    );
  });
});

describe("bad units files are UsageErrors naming the file and the entry", () => {
  const folder = fixture("units");
  /** base_dir null: units that came inline, without a folder. */
  const load = (units: unknown, base_dir: string | null = folder) =>
    loadUnits(
      base_dir === null
        ? { units, source: "/x/units.cson" }
        : unitsWithFolder(units, "/x/units.cson", base_dir),
      VARIABLE_DEFAULTS,
    );
  const fails =
    (units: unknown, pattern: RegExp, base_dir: string | null = folder) =>
    () =>
      assert.throws(
        () => load(units, base_dir),
        (error: unknown) => {
          assert.ok(error instanceof UsageError, String(error));
          assert.match(error.message, pattern);
          return true;
        },
      );

  it("a file that does not hold a list", async () => {
    const units = unitsFile(fixture("units", "not-a-list.cson"));
    await assert.rejects(buildTemplate({ ...options, units }, {}), {
      name: "UsageError",
      message: /not-a-list\.cson: must hold a list of units/,
    });
  });

  it(
    "an entry that is not an object",
    fails(["docker.service"], /units\.cson: units\[0\]: must be an object/),
  );
  it(
    "an entry without a name",
    fails([{ name: "a.service" }, { content: "crlf.service" }], /units\[1\]: needs a name/),
  );
  it(
    "a name that is no unit name",
    fails([{ name: "docker" }], /units\[0\] \(docker\): "docker" is not a systemd unit name/),
  );
  it(
    "an unknown key",
    fails(
      [{ name: "a.service" }, { name: "b.service", contents: "x" }],
      /units\.cson: units\[1\] \(b\.service\): unknown key "contents"/,
    ),
  );
  it(
    "a content file that cannot be read",
    fails(
      [{ name: "a.service", content: "nope.service" }],
      /units\[0\] \(a\.service\): cannot read content .*nope\.service: no such file/,
    ),
  );
  it(
    "a content path that is a folder",
    fails([{ name: "a.service", content: "." }], /units\[0\].*is a folder/),
  );
  it(
    "content and content_text together",
    fails([{ name: "a.service", content: "crlf.service", content_text: "x" }], /units\[0\].*not both/),
  );
  it(
    "a command not allowed",
    fails([{ name: "a.service", command: "launch" }], /units\[0\].*command must be one of start/),
  );
  it(
    "a flag that is not a boolean",
    fails(
      [{ name: "a.service", enable: "maybe" }],
      /units\[0\].*enable must be true or false \(or one of the strings "true", "yes", "on", "false", "no", "off"\)/,
    ),
  );
  it(
    "a unit listed twice",
    fails(
      [{ name: "a.service" }, { name: "a.service" }],
      /units\[1\] \(a\.service\): is listed twice \(also units\[0\]\)/,
    ),
  );
  it(
    "drop_ins that is not a list",
    fails([{ name: "a.service", drop_ins: "x.conf" }], /units\[0\].*drop_ins must be a list/),
  );
  it(
    "a drop-in without a .conf name",
    fails(
      [{ name: "a.service", drop_ins: [{ name: "x", content_text: "" }] }],
      /units\[0\] \(a\.service\)\.drop_ins\[0\]: needs a name ending in \.conf/,
    ),
  );
  it(
    "a drop-in with an unknown key",
    fails(
      [{ name: "a.service", drop_ins: [{ name: "x.conf", text: "" }] }],
      /\.drop_ins\[0\]: unknown key "text"/,
    ),
  );
  it(
    "a content path in units that came without a folder (over HTTP)",
    fails(
      [{ name: "a.service", content: "crlf.service" }],
      /units\[0\].*came inline \(not from a units file\); give the text as content_text/,
      null,
    ),
  );
  it(
    "an absolute content path in units that came inline",
    fails([{ name: "a.service", content: join(folder, "crlf.service") }], /units\[0\].*came inline/, null),
  );
  it("a caller-built object that claims a folder gets none (issue 7 item 1)", () => {
    const forged = { units: [{ name: "a.service", content: "crlf.service" }], source: "x", base_dir: folder };
    assert.throws(() => loadUnits(forged, VARIABLE_DEFAULTS), /came inline/);
    const options = validateOptions("build_template", { units: forged }, "library");
    assert.throws(() => loadUnits(options.units as UnitsInput, VARIABLE_DEFAULTS), /must hold a list/);
  });
  it("every problem at once", () => {
    assert.throws(
      () => load([{ name: "a.service", content: "nope" }, { name: "b" }, { name: "c.service", mask: 1 }]),
      (error: unknown) => error instanceof UsageError && error.problems.length === 3,
    );
  });

  it("content that is not UTF-8 text", () => {
    const dir = mkdtempSync(join(tmpdir(), "pandacluster-units-"));
    writeFileSync(join(dir, "bin.service"), Buffer.from([0x5b, 0xff, 0xfe, 0x5d]));
    fails(
      [{ name: "bin.service", content: "bin.service" }],
      /units\[0\].*bin\.service is not UTF-8 text/,
      dir,
    )();
  });

  it("content that is UTF-8 holding U+FFFD, a byte-order mark or CRLF is read byte for byte", () => {
    // The text is read as UTF-8 at once and decoded strictly only when it holds U+FFFD (what a
    // lenient decode puts for bytes that are not UTF-8): a real U+FFFD must pass, unchanged.
    const dir = mkdtempSync(join(tmpdir(), "pandacluster-units-"));
    const text = "\uFEFF[Unit]\r\nDescription=replacement \uFFFD and \u00e9 \u{1F600}\r\n";
    writeFileSync(join(dir, "fffd.service"), text);
    const [unit] = load([{ name: "fffd.service", content: "fffd.service" }], dir);
    assert.equal(unit?.content, text);
    // A name with a folder part, and a folder not in resolve()'s form, name the file resolve() names.
    mkdirSync(join(dir, "sub"));
    writeFileSync(join(dir, "sub", "b.service"), "[Unit]\n");
    const [b, c, d] = load(
      [
        { name: "b.service", content: "./b.service" },
        { name: "c.service", content: "../sub/./b.service" },
        { name: "d.service", content: "b.service" },
      ],
      `${dir}/sub/.`,
    );
    assert.equal(b?.content, "[Unit]\n");
    assert.equal(c?.content, "[Unit]\n");
    assert.equal(d?.content, "[Unit]\n");
  });

  it("content that cannot be read for permissions (as root: read by the unprivileged user nobody)", async () => {
    // Root reads every file, so the read runs in a child process as nobody (runUnprivileged); the
    // same file readable first shows that the child reads units at all.
    const dir = mkdtempSync(join(tmpdir(), "pandacluster-units-"));
    chmodSync(dir, 0o755);
    mkdirSync(join(dir, "sub"), { mode: 0o755 });
    const file = join(dir, "sub", "a.service");
    writeFileSync(file, "[Unit]\nDescription=readable\n", { mode: 0o644 });
    const read = () =>
      runUnprivileged(`
        import { unitsWithFolder } from ${JSON.stringify(distModule("src/options.js"))};
        import { loadUnits } from ${JSON.stringify(distModule("src/template/units.js"))};
        import { VARIABLE_DEFAULTS } from ${JSON.stringify(distModule("src/template/variables.js"))};
        const units = unitsWithFolder([{ name: "a.service", content: "sub/a.service" }], "/x/units.cson", ${JSON.stringify(dir)});
        try {
          console.log(JSON.stringify(loadUnits(units, VARIABLE_DEFAULTS)[0].content));
        } catch (error) {
          console.log(error.constructor.name + ": " + error.message);
        }
      `);
    const readable = await read();
    assert.equal(readable.stdout.trim(), JSON.stringify("[Unit]\nDescription=readable\n"), readable.stderr);
    chmodSync(file, 0o000);
    const refused = await read();
    assert.match(refused.stdout, /^UsageError: .*units\[0\].*a\.service.*permission denied/, refused.stderr);
  });

  it("good entries load as given", () => {
    const units = load([
      { name: "c.service", content: "crlf.service", enable: true, runtime: false, command: "stop" },
    ]);
    assert.deepEqual(units, [
      {
        name: "c.service",
        command: "stop",
        enable: true,
        runtime: false,
        content: readFileSync(fixture("units", "crlf.service"), "utf8"),
      },
    ]);
    assert.equal(dirname(fixture("units", "x")), folder);
  });
});
