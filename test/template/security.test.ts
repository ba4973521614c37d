/**
 * Issue 16, secure by default, read from the templates themselves: build-template's and create's,
 * in both provisioning modes, with and without workers. What is open to whom (the table in
 * doc/create), SSH closed unless asked for, encrypted gp3 root volumes on every launch template, no
 * Docker API on TCP unless a unit asks for it (and then said), parameters typed for what they hold.
 */
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { UsageError } from "../../src/errors.js";
import { loadTemplate } from "../../src/lifecycle/template.js";
import { type Provisioning, unitsFromFile, validateOptions } from "../../src/options.js";
import { buildTemplate } from "../../src/template/build.js";
import type { CfnResource, CfnTemplate } from "../../src/template/types.js";
import { allText, decodeUserData, nodeUnits } from "../helpers/boot.js";
import { createOptions } from "../lifecycle/scenario.js";
import { DISCOVERY, evaluate, fixture, KEYS, repoFile } from "./support.js";

type Props = Record<string, unknown>;
const props = (r: CfnResource | undefined): Props => (r?.Properties ?? {}) as Props;
const FORMATS: Provisioning[] = ["ignition", "cloud-config"];
const dockerSample = () => unitsFromFile(repoFile("units", "samples", "docker-tcp", "unit-config.cson"));
const seedUnits = () => unitsFromFile(fixture("..", "seed", "units", "unit-config.cson"));

interface Variant {
  name: string;
  provisioning: Provisioning;
  template: () => Promise<CfnTemplate>;
}

/** build-template's template, and create's with 0 and with 3 workers, in both formats. */
function variants(): Variant[] {
  const out: Variant[] = [];
  for (const provisioning of FORMATS) {
    out.push({
      name: `build-template, ${provisioning}`,
      provisioning,
      template: async () =>
        (
          await buildTemplate(
            { channel: "stable", arch: "amd64", offline: true, provisioning },
            { public_keys: KEYS },
          )
        ).template,
    });
    for (const workers of [0, 3]) {
      out.push({
        name: `create, ${provisioning}, ${workers} workers`,
        provisioning,
        template: async () =>
          JSON.parse(
            (await loadTemplate(createOptions({ provisioning, workers }), { public_keys: KEYS })).body,
          ),
      });
    }
  }
  return out;
}

const groupId = (name: string) => ({ "Fn::GetAtt": [name, "GroupId"] });
const resourcesOf = (t: CfnTemplate, type: string) =>
  Object.entries(t.Resources).filter(([, r]) => r.Type === type);

/** Each ingress rule as "<group> <port> from <source>[ if <condition>]". */
function rules(t: CfnTemplate): string[] {
  const out: string[] = [];
  for (const [, r] of resourcesOf(t, "AWS::EC2::SecurityGroupIngress")) {
    const p = props(r);
    assert.equal(p.FromPort, p.ToPort, "one port per rule");
    assert.equal(p.IpProtocol, "tcp");
    assert.equal(p.SourceSecurityGroupName, undefined, "by group id, never by name");
    const target = (p.GroupId as { "Fn::GetAtt": [string, string] })["Fn::GetAtt"];
    assert.equal(target[1], "GroupId");
    const source = p.CidrIp
      ? `cidr ${JSON.stringify(p.CidrIp)}`
      : (p.SourceSecurityGroupId as { "Fn::GetAtt": [string, string] })["Fn::GetAtt"][0];
    out.push(`${target[0]} ${p.FromPort} from ${source}${r.Condition ? ` if ${r.Condition}` : ""}`);
  }
  return out.sort();
}

const DEFAULT_RULES = [
  'ControllerSecurityGroup 22 from cidr {"Ref":"AllowSSHFrom"} if HasSSH',
  "ControllerSecurityGroup 2379 from ControllerSecurityGroup",
  "ControllerSecurityGroup 2379 from WorkerSecurityGroup",
  "ControllerSecurityGroup 2380 from ControllerSecurityGroup",
  'WorkerSecurityGroup 22 from cidr {"Ref":"AllowSSHFrom"} if HasSSH',
];

for (const variant of variants()) {
  describe(`secure by default: ${variant.name}`, () => {
    let t: CfnTemplate;
    before(async () => {
      t = await variant.template();
    });

    it("two security groups in the VPC, no inline rules; 2379 from both roles, 2380 between controllers, SSH only if asked", () => {
      const groups = resourcesOf(t, "AWS::EC2::SecurityGroup");
      assert.deepEqual(groups.map(([name]) => name).sort(), [
        "ControllerSecurityGroup",
        "WorkerSecurityGroup",
      ]);
      for (const [, g] of groups) {
        assert.deepEqual(props(g).VpcId, { Ref: "VPC" });
        assert.equal(
          props(g).SecurityGroupIngress,
          undefined,
          "every rule is its own resource, listed below",
        );
      }
      assert.deepEqual(rules(t), DEFAULT_RULES);
    });

    it("SSH: AllowSSHFrom is empty by default and HasSSH is false then, true for a CIDR block", () => {
      const p = t.Parameters.AllowSSHFrom;
      assert.equal(p?.Default, "");
      const condition = t.Conditions?.HasSSH;
      assert.equal(evaluateCondition(condition, { AllowSSHFrom: "" }), false);
      assert.equal(evaluateCondition(condition, { AllowSSHFrom: "203.0.113.7/32" }), true);
      const pattern = new RegExp(p?.AllowedPattern as string);
      for (const good of ["", "203.0.113.7/32", "0.0.0.0/0", "10.0.0.0/8", "255.255.255.255/32"]) {
        assert.ok(pattern.test(good), good);
      }
      for (const bad of [
        "999.1.1.1/40",
        "256.0.0.0/8",
        "10.0.0.0/33",
        "01.2.3.4/8",
        "1.2.3.4",
        "1.2.3.4/",
        " 1.2.3.4/8",
      ]) {
        assert.ok(!pattern.test(bad), bad);
      }
    });

    it("every launch template: an encrypted gp3 root volume of VolumeSize GiB, and its role's group only", () => {
      const templates = resourcesOf(t, "AWS::EC2::LaunchTemplate");
      assert.ok(templates.length >= 2);
      const roleOf = new Map<string, string>();
      for (const [, asg] of resourcesOf(t, "AWS::AutoScaling::AutoScalingGroup")) {
        const p = props(asg);
        const lt = (p.LaunchTemplate as { LaunchTemplateId: { Ref: string } }).LaunchTemplateId.Ref;
        const role = (p.Tags as { Key: string; Value: string }[]).find(
          (tag) => tag.Key === "pandacluster:role",
        );
        roleOf.set(lt, role?.Value as string);
      }
      for (const [name, lt] of templates) {
        const data = props(lt).LaunchTemplateData as Props;
        assert.deepEqual(data.BlockDeviceMappings, [
          {
            DeviceName: "/dev/xvda",
            Ebs: {
              VolumeType: "gp3",
              VolumeSize: { Ref: "VolumeSize" },
              Encrypted: true,
              DeleteOnTermination: true,
            },
          },
        ]);
        const group = roleOf.get(name) === "worker" ? "WorkerSecurityGroup" : "ControllerSecurityGroup";
        assert.ok(roleOf.has(name), `${name} is some group's launch template`);
        assert.deepEqual((data.NetworkInterfaces as Props[])[0]?.Groups, [groupId(group)], name);
      }
      const size = t.Parameters.VolumeSize;
      assert.deepEqual([size?.Type, size?.Default, size?.MinValue, size?.MaxValue], ["Number", 30, 1, 16384]);
    });

    it("parameters typed for what they hold: KeyPair an existing key pair, ImageId an image (no map here)", () => {
      assert.equal(t.Parameters.KeyPair?.Type, "AWS::EC2::KeyPair::KeyName");
      assert.equal(t.Parameters.ImageId?.Type, "AWS::EC2::Image::Id");
      assert.equal(t.Parameters.ImageId?.Default, undefined);
    });

    it("the nodes' boot configs: no unit listens on TCP, the instance-store disk by its stable name", () => {
      for (const lt of ["LaunchTemplate", "WorkerLaunchTemplate"]) {
        const data = props(t.Resources[lt]).LaunchTemplateData as Props;
        const params = { DiscoveryURL: DISCOVERY, PrivateDomain: "demo.cluster", "AWS::StackName": "demo" };
        const decoded = decodeUserData(Buffer.from(String(evaluate(data.UserData, params)), "base64"));
        assert.equal(decoded.format, variant.provisioning);
        const units = nodeUnits(decoded);
        assert.ok(!units.has("docker-tcp.socket") && !units.has("enable-docker-tcp.service"), lt);
        const text = allText(decoded);
        assert.doesNotMatch(text, /ListenStream=/, `${lt}: nothing listens on a socket of ours`);
        assert.doesNotMatch(text, /2375/);
        const format = units.get("format-ephemeral.service")?.content ?? "";
        assert.match(format, /for link in \/dev\/disk\/by-id\/nvme-Amazon_EC2_NVMe_Instance_Storage_\*; do/);
        assert.doesNotMatch(format, /\/dev\/nvme\dn\d/, "no disk by index");
        assert.match(
          units.get("var-lib-docker.mount")?.content ?? "",
          /^What=\/run\/pandacluster\/docker-disk$/m,
        );
      }
    });
  });
}

describe("the Docker API on TCP is opt-in, and opening it is said", () => {
  for (const [name, units] of [
    ["the docker-tcp sample", dockerSample],
    ["the seed's units file", seedUnits],
  ] as const) {
    it(`${name}: the port is open between all nodes (by group id, never to a CIDR), and a notice says what that means`, async () => {
      const built = await buildTemplate(
        { channel: "stable", arch: "amd64", offline: true, units: units() },
        {},
      );
      const docker = rules(built.template).filter((r) => / 2375 /.test(r));
      assert.deepEqual(docker, [
        "ControllerSecurityGroup 2375 from ControllerSecurityGroup",
        "ControllerSecurityGroup 2375 from WorkerSecurityGroup",
        "WorkerSecurityGroup 2375 from ControllerSecurityGroup",
        "WorkerSecurityGroup 2375 from WorkerSecurityGroup",
      ]);
      assert.ok(
        built.notices.some((n) =>
          /TCP 2375 is open between all the cluster's nodes; an unauthenticated Docker API/.test(n),
        ),
        built.notices.join("\n"),
      );
    });
  }

  it("the default units: no Docker rule and no such notice", async () => {
    const built = await buildTemplate({ channel: "stable", arch: "amd64", offline: true }, {});
    assert.deepEqual(rules(built.template), DEFAULT_RULES);
    assert.ok(!built.notices.some((n) => /docker_port/.test(n)));
  });
});

describe("the arguments behind it (one definition: CLI, library, server schema)", () => {
  it("allow_ssh_from has no default (SSH closed) and refuses 999.1.1.1/40", () => {
    const base = { stack_name: "demo", key_pair: "k" };
    const options = validateOptions("create", base, "library");
    assert.equal(options.allow_ssh_from, undefined);
    assert.equal(
      validateOptions("create", { ...base, allow_ssh_from: "203.0.113.7/32" }, "library").allow_ssh_from,
      "203.0.113.7/32",
    );
    for (const face of ["library", "http"] as const) {
      assert.throws(
        () => validateOptions("create", { ...base, allow_ssh_from: "999.1.1.1/40" }, face),
        (error: unknown) =>
          error instanceof UsageError &&
          /allow_ssh_from.*999\.1\.1\.1\/40.*not an IPv4 CIDR/.test(error.message),
      );
    }
  });

  it("volume_size: 30 by default, EBS's gp3 bounds 1-16384", () => {
    const base = { stack_name: "demo", key_pair: "k" };
    assert.equal(validateOptions("create", base, "library").volume_size, 30);
    assert.equal(validateOptions("create", { ...base, volume_size: 16384 }, "http").volume_size, 16384);
    for (const bad of [0, 16385, 2.5]) {
      assert.throws(
        () => validateOptions("create", { ...base, volume_size: bad }, "http"),
        (error: unknown) => error instanceof UsageError && /volume_size/.test(error.message),
        String(bad),
      );
    }
  });

  it("create passes VolumeSize, and AllowSSHFrom only when given (else the template's empty default)", async () => {
    const { createStackInput } = await import("../../src/lifecycle/request.js");
    const template = await loadTemplate(createOptions(), {});
    const values = (extra: Record<string, unknown>) =>
      Object.fromEntries(
        (
          createStackInput(createOptions(extra), template, "ami-0123456789abcdef0", DISCOVERY).Parameters ??
          []
        ).map((p) => [p.ParameterKey, p.ParameterValue]),
      );
    assert.equal(values({}).AllowSSHFrom, undefined);
    assert.equal(values({}).VolumeSize, "30");
    assert.equal(
      values({ allow_ssh_from: "198.51.100.0/24", volume_size: 100 }).AllowSSHFrom,
      "198.51.100.0/24",
    );
    assert.equal(values({ volume_size: 100 }).VolumeSize, "100");
  });
});

/** Fn::Not / Fn::Equals / Ref, as CloudFormation evaluates a condition. */
function evaluateCondition(value: unknown, params: Record<string, string>): boolean | string {
  const [fn, arg] = Object.entries(value as object)[0] as [string, unknown];
  if (fn === "Fn::Not") return !evaluateCondition((arg as unknown[])[0], params);
  if (fn === "Fn::Equals") {
    const [a, b] = (arg as unknown[]).map((v) => (typeof v === "string" ? v : evaluate(v, params)));
    return a === b;
  }
  throw new Error(`test: condition function ${fn}`);
}
