/**
 * The static controllers' template (the default, doc/etcd.md): one slot per etcd member, spread over
 * the zones so that no zone holds a majority; each slot a one-instance group with a creation signal,
 * a volume and a placeholder name; the zone and the IAM role in the stack; checked for shape, with
 * cfn-lint and Debian's ignition-validate, within CloudFormation's and EC2's size limits, and
 * created by hand in moto with only KeyPair and ImageId.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { promisify } from "node:util";
import { gunzipSync } from "node:zlib";
import {
  CloudFormationClient,
  CreateStackCommand,
  DescribeStacksCommand,
} from "@aws-sdk/client-cloudformation";
import { DescribeVolumesCommand, EC2Client } from "@aws-sdk/client-ec2";
import { GetHostedZoneCommand, Route53Client } from "@aws-sdk/client-route-53";
import YAML from "yaml";
import { buildTemplate } from "../../src/template/build.js";
import { NODE_SCRIPT_PATH, nodeScript, PREPARE_UNIT, READY_UNIT } from "../../src/template/etcd/node.js";
import type { CfnTemplate } from "../../src/template/types.js";
import { decodeUserData, validateAll } from "../helpers/boot.js";
import { startMoto } from "../helpers/services.js";
import { evaluate, KEYS } from "./support.js";

const run = promisify(execFile);
const scratch = mkdtempSync(join(tmpdir(), "pandacluster-etcd-template-"));
after(() => rmSync(scratch, { recursive: true, force: true }));

type Props = Record<string, unknown>;
const props = (template: CfnTemplate, id: string) => template.Resources[id]?.Properties as Props;

async function build(
  options: { cluster_size?: number; zones?: number; provisioning?: "ignition" | "cloud-config" } = {},
) {
  return buildTemplate(
    { channel: "stable", arch: "amd64", offline: true, ...options },
    { public_keys: KEYS },
  );
}

/** cfn-lint's findings, except W2506 (ImageId's parameter type: issue 16's, branch secure). */
async function cfnLint(template: CfnTemplate): Promise<string[]> {
  const path = join(scratch, `t-${Math.random().toString(16).slice(2)}.json`);
  writeFileSync(path, JSON.stringify(template));
  try {
    await run("cfn-lint", [path]);
    return [];
  } catch (error) {
    const out = String((error as { stdout?: string }).stdout ?? error);
    return out
      .split("\n\n")
      .map((s) => s.trim())
      .filter((s) => s && !s.startsWith("W2506"));
  }
}

describe("static controllers: the template", () => {
  for (const [size, zones, expected] of [
    [3, 3, ["SubnetA", "SubnetB", "SubnetC"]],
    [5, 3, ["SubnetA", "SubnetB", "SubnetC", "SubnetA", "SubnetB"]],
    [7, 3, ["SubnetA", "SubnetB", "SubnetC", "SubnetA", "SubnetB", "SubnetC", "SubnetA"]],
    [3, 2, ["SubnetA", "SubnetB", "SubnetA"]],
  ] as const) {
    it(`${size} members over ${zones} zones: no zone holds a majority where there are 3; cfn-lint clean; within the limits`, async () => {
      const built = await build({ cluster_size: size, zones });
      const t = built.template;
      const placed = Array.from({ length: size }, (_, i) => {
        const group = props(t, `ControllerGroup${i + 1}`);
        return ((group.VPCZoneIdentifier as { Ref: string }[])[0] as { Ref: string }).Ref;
      });
      assert.deepEqual(placed, expected);
      if (zones === 3) {
        const counts = new Map<string, number>();
        for (const s of placed) counts.set(s, (counts.get(s) ?? 0) + 1);
        assert.ok(
          [...counts.values()].every((c) => c < size / 2),
          JSON.stringify([...counts]),
        );
      }
      assert.equal(t.Resources.SubnetC !== undefined, zones === 3);
      assert.equal(t.Resources.AutoScalingGroup, undefined, "no shared controller group");
      assert.ok(built.bytes <= 51_200, String(built.bytes));
      assert.ok(built.user_data.bytes <= 16_384, String(built.user_data.bytes));
      assert.deepEqual(await cfnLint(t), []);
    });
  }

  it("each slot: a one-instance group waiting for one signal, its volume (gp3, encrypted, in its zone), its placeholder name", async () => {
    const t = (await build()).template;
    for (const slot of [1, 2, 3]) {
      const resource = t.Resources[`ControllerGroup${slot}`];
      assert.deepEqual(resource?.CreationPolicy, { ResourceSignal: { Count: 1, Timeout: "PT20M" } });
      const group = resource?.Properties as Props;
      assert.deepEqual([group.MinSize, group.MaxSize, group.DesiredCapacity], ["1", "1", "1"]);
      const tags = Object.fromEntries(
        (group.Tags as { Key: string; Value: unknown; PropagateAtLaunch: boolean }[]).map((tag) => {
          assert.equal(tag.PropagateAtLaunch, true);
          return [tag.Key, tag.Value];
        }),
      );
      assert.equal(tags["pandacluster:slot"], String(slot));
      assert.deepEqual(tags["pandacluster:volume"], { Ref: `EtcdVolume${slot}` });
      assert.deepEqual(tags["pandacluster:zone-id"], { Ref: "PrivateZone" });
      assert.equal(tags["pandacluster:signal"], `ControllerGroup${slot}`);
      assert.ok(
        ((resource?.DependsOn ?? []) as string[]).includes("EtcdRecord3"),
        "every name exists before a node boots",
      );
      const subnet = (group.VPCZoneIdentifier as { Ref: string }[])[0]?.Ref;
      const volume = props(t, `EtcdVolume${slot}`);
      assert.deepEqual(volume.AvailabilityZone, { "Fn::GetAtt": [subnet, "AvailabilityZone"] });
      assert.equal(volume.VolumeType, "gp3");
      assert.equal(volume.Encrypted, true);
      const record = props(t, `EtcdRecord${slot}`);
      assert.deepEqual(record.Name, { "Fn::Sub": `etcd-${slot}.\${PrivateDomain}` });
      assert.deepEqual(
        [record.SetIdentifier, record.Weight, record.ResourceRecords],
        ["placeholder", 0, ["203.0.113.123"]],
      );
    }
    const zone = props(t, "PrivateZone");
    assert.deepEqual(zone.VPCs, [{ VPCId: { Ref: "VPC" }, VPCRegion: { Ref: "AWS::Region" } }]);
    assert.equal(t.Parameters.DiscoveryURL, undefined, "no discovery URL");
    assert.equal(t.Parameters.PrivateDomain?.Default, "cluster.internal", "a stack made by hand has a zone");
    assert.ok(t.Outputs.ControllerGroupNames && t.Outputs.PrivateZoneId);
    assert.equal(t.Outputs.AutoScalingGroupName, undefined);
  });

  it("the controllers' launch template: instance tags in the metadata, the role's profile; the role: least privilege", async () => {
    const t = (await build()).template;
    const data = props(t, "LaunchTemplate").LaunchTemplateData as Props;
    assert.equal((data.MetadataOptions as Props).InstanceMetadataTags, "enabled");
    assert.equal((data.MetadataOptions as Props).HttpTokens, "required");
    assert.deepEqual(data.IamInstanceProfile, {
      Arn: { "Fn::GetAtt": ["ControllerInstanceProfile", "Arn"] },
    });
    const worker = props(t, "WorkerLaunchTemplate").LaunchTemplateData as Props;
    assert.equal(worker.IamInstanceProfile, undefined, "workers get no role");
    const policy = (props(t, "ControllerRole").Policies as { PolicyDocument: { Statement: Props[] } }[])[0]
      ?.PolicyDocument.Statement as Props[];
    const actions = policy.flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action])) as string[];
    assert.deepEqual([...new Set(actions)].sort(), [
      "cloudformation:SignalResource",
      "ec2:AttachVolume",
      "ec2:CreateTags",
      "ec2:DescribeVolumes",
      "route53:ChangeResourceRecordSets",
      "route53:GetChange",
      "route53:ListResourceRecordSets",
    ]);
    for (const statement of policy) {
      // Only DescribeVolumes (no resource-level permission in EC2) is on every resource.
      if (statement.Resource === "*") assert.equal(statement.Action, "ec2:DescribeVolumes");
    }
  });

  for (const provisioning of ["ignition", "cloud-config"] as const) {
    it(`${provisioning}: the controllers write the node script and run it before etcd-member.service; no DiscoveryURL anywhere`, async () => {
      const built = await build({ provisioning });
      const held = (props(built.template, "LaunchTemplate").LaunchTemplateData as Props).UserData as {
        "Fn::Base64": unknown;
      };
      // Its one CloudFormation reference is the etcd version (upgrade --etcd-version changes it).
      const refs = [...JSON.stringify(held).matchAll(/\{"Ref":"([^"]+)"\}/g)].map((m) => m[1]);
      assert.deepEqual(refs, ["EtcdVersion"]);
      const sent = Buffer.from(String(evaluate(held, { EtcdVersion: "3.6.4" })), "base64");
      const decoded = decodeUserData(sent);
      assert.match(decoded.text, /ETCD_IMAGE_TAG=v3\.6\.4/, "the parameter's value is the image tag");
      assert.doesNotMatch(decoded.text, /ETCD_IMAGE_TAG=v3\.5\.27|pandacluster-etcd-version-marker/);
      assert.ok(decoded.bytes <= 16_384);
      if (decoded.format === "ignition") {
        for (const result of await validateAll(decoded)) assert.ok(result.ok, result.messages.join("\n"));
        const files = decoded.configs.flatMap(
          (c) =>
            ((c as { storage?: { files?: { path: string }[] } }).storage?.files ?? []) as { path: string }[],
        );
        const file = files.find((f) => f.path === NODE_SCRIPT_PATH) as unknown as {
          contents: { source: string; compression?: string };
          mode: number;
        };
        assert.equal(file.mode, 0o755);
        assert.equal(file.contents.compression, "gzip");
        assert.equal(
          gunzipSync(Buffer.from(file.contents.source.replace("data:;base64,", ""), "base64")).toString(),
          nodeScript(),
        );
        const units = decoded.effective.systemd?.units ?? [];
        assert.ok(units.some((u) => u.name === PREPARE_UNIT && u.enabled));
        assert.ok(units.some((u) => u.name === READY_UNIT && u.enabled));
        const etcd = units.find((u) => u.name === "etcd-member.service");
        assert.match(etcd?.dropins?.[0]?.contents ?? "", /Requires=pandacluster-etcd-prepare\.service/);
        assert.match(etcd?.dropins?.[0]?.contents ?? "", /^Environment="ETCD_IMAGE_TAG=v3\.6\.4"$/m);
      } else {
        const config = YAML.parse(decoded.text) as {
          write_files: { path: string; encoding?: string; content: string; permissions: string }[];
        };
        const file = config.write_files.find((f) => f.path === NODE_SCRIPT_PATH);
        assert.equal(file?.encoding, "gzip+base64");
        assert.equal(file?.permissions, "0755");
        assert.equal(gunzipSync(Buffer.from(file?.content ?? "", "base64")).toString(), nodeScript());
        assert.ok(decoded.config.coreos.units.some((u) => u.name === PREPARE_UNIT));
        const etcd = decoded.config.coreos.units.find((u) => u.name === "etcd-member.service");
        assert.match(etcd?.drop_ins?.[0]?.content ?? "", /^Environment="ETCD_IMAGE_TAG=v3\.6\.4"$/m);
      }
      assert.doesNotMatch(decoded.text, /DISCOVERY|discovery\.etcd\.io/);
      // Bash reads the script as shipped.
      const path = join(scratch, `${provisioning}.sh`);
      writeFileSync(path, nodeScript());
      await run("bash", ["-n", path]);
    });
  }

  it("workers reach etcd through the slots' names", async () => {
    const t = (await build({ cluster_size: 5 })).template;
    const held = (props(t, "WorkerLaunchTemplate").LaunchTemplateData as Props).UserData;
    const text = JSON.stringify(held);
    assert.match(
      text,
      /ETCDCTL_ENDPOINTS=http:\/\/etcd-1\.","?\{"Ref":"PrivateDomain"\}/,
      "the zone parameter goes into each slot's name",
    );
    assert.equal(text.split("etcd-5.").length, 2);
  });

  it("a stack made by hand (only KeyPair and ImageId) is created in moto: private zone in the VPC, volumes in the slots' zones", async () => {
    const moto = await startMoto();
    const config = {
      endpoint: moto.endpoint,
      region: "us-east-1",
      credentials: { accessKeyId: "testing", secretAccessKey: "testing" },
    };
    const cfn = new CloudFormationClient(config);
    const ec2 = new EC2Client(config);
    const r53 = new Route53Client(config);
    try {
      const built = await build();
      await cfn.send(
        new CreateStackCommand({
          StackName: "byhand",
          TemplateBody: built.body,
          Capabilities: ["CAPABILITY_IAM"],
          Parameters: [
            { ParameterKey: "KeyPair", ParameterValue: "k" },
            { ParameterKey: "ImageId", ParameterValue: "ami-0123456789abcdef0" },
          ],
        }),
      );
      const stack = (await cfn.send(new DescribeStacksCommand({ StackName: "byhand" }))).Stacks?.[0];
      assert.equal(stack?.StackStatus, "CREATE_COMPLETE");
      const outputs = Object.fromEntries((stack?.Outputs ?? []).map((o) => [o.OutputKey, o.OutputValue]));
      const zone = await r53.send(new GetHostedZoneCommand({ Id: outputs.PrivateZoneId }));
      // AWS names it with the final dot; moto without.
      assert.equal(zone.HostedZone?.Name?.replace(/\.$/, ""), "cluster.internal");
      assert.equal(zone.HostedZone?.Config?.PrivateZone, true);
      assert.deepEqual(
        zone.VPCs?.map((v) => v.VPCId),
        [outputs.VpcId],
      );
      const volumes =
        (
          await ec2.send(
            new DescribeVolumesCommand({ Filters: [{ Name: "tag-key", Values: ["pandacluster:slot"] }] }),
          )
        ).Volumes ?? [];
      assert.deepEqual(
        volumes
          .map((v) => [
            v.Tags?.find((t) => t.Key === "pandacluster:slot")?.Value,
            v.AvailabilityZone,
            v.VolumeType,
            v.Encrypted,
          ])
          .sort(),
        [
          ["1", "us-east-1a", "gp3", true],
          ["2", "us-east-1b", "gp3", true],
          ["3", "us-east-1c", "gp3", true],
        ],
      );
    } finally {
      cfn.destroy();
      ec2.destroy();
      r53.destroy();
      await moto.stop();
    }
  });
});
