import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { unitsFromFile } from "../../src/options.js";
import { type BuiltTemplate, buildTemplate } from "../../src/template/build.js";
import type { CfnResource } from "../../src/template/types.js";
import { decodeUserData, validateAll } from "../helpers/boot.js";
import { DISCOVERY, KEYS, nodeUserDataBytes, repoFile } from "./support.js";

const dockerSample = () => unitsFromFile(repoFile("units", "samples", "docker-tcp", "unit-config.cson"));

type Props = Record<string, unknown>;
const props = (resource: CfnResource | undefined): Props => {
  assert.ok(resource, "resource missing");
  return resource.Properties as Props;
};
const ofType = (built: BuiltTemplate, type: string) =>
  Object.entries(built.template.Resources).filter(([, r]) => r.Type === type);
const nameTag = { Key: "Name", Value: { Ref: "AWS::StackName" } };
const clusterTag = { Key: "pandacluster:cluster", Value: { Ref: "AWS::StackName" } };

describe("the template's shape (offline build)", () => {
  let built: BuiltTemplate;
  before(async () => {
    // The discovery mode's shape (one controller group); the static default: etcd-template.test.ts.
    built = await buildTemplate(
      { channel: "stable", arch: "amd64", offline: true, etcd_bootstrap: "discovery" },
      { public_keys: KEYS },
    );
  });

  it("is a CloudFormation template whose Description names pandacluster, channel and arch", () => {
    assert.equal(built.template.AWSTemplateFormatVersion, "2010-09-09");
    assert.match(built.template.Description, /pandacluster/);
    assert.match(built.template.Description, /stable/);
    assert.match(built.template.Description, /amd64/);
    assert.ok(built.template.Description.length <= 1024);
  });

  it("body is the template's compact JSON (the limit counts bytes) and bytes its UTF-8 length", () => {
    assert.deepEqual(JSON.parse(built.body), built.template);
    assert.equal(built.bytes, Buffer.byteLength(built.body));
    assert.equal(built.body, JSON.stringify(built.template));
  });

  it("has the parameters, typed for what they hold, with the definitions' defaults", () => {
    const p = built.template.Parameters;
    assert.deepEqual(Object.keys(p).sort(), [
      "AllowSSHFrom",
      "ClusterSize",
      "DiscoveryURL",
      "EtcdVersion",
      "ImageId",
      "InstanceType",
      "KeyPair",
      "PrivateDomain",
      "VolumeSize",
      "Workers",
    ]);
    assert.equal(p.KeyPair?.Type, "AWS::EC2::KeyPair::KeyName");
    assert.equal(p.KeyPair?.Default, undefined);
    assert.equal(p.ClusterSize?.Type, "Number");
    assert.equal(p.ClusterSize?.Default, 3);
    assert.equal(p.ClusterSize?.MinValue, 3);
    assert.equal(p.ClusterSize?.MaxValue, 7);
    assert.equal(p.InstanceType?.Default, "t3.small");
    assert.equal(p.AllowSSHFrom?.Default, "", "SSH closed unless asked for");
    assert.equal(p.VolumeSize?.Default, 30);
    assert.equal(p.DiscoveryURL?.Default, undefined);
    const discovery = new RegExp(p.DiscoveryURL?.AllowedPattern as string);
    assert.ok(discovery.test("https://discovery.etcd.io/0123456789abcdef0123456789abcdef"));
    assert.ok(discovery.test("http://127.0.0.1:8087/abc"));
    for (const bad of ['https://x/a"b', "https://x/a b", "https://x/a%41", "ftp://x/a", "https://x/\\"]) {
      assert.ok(!discovery.test(bad), bad);
    }
    // The controllers' etcd, the build's version by default; upgrade --etcd-version changes it.
    assert.equal(p.EtcdVersion?.Type, "String");
    assert.equal(p.EtcdVersion?.Default, "3.5.27");
    assert.equal(p.EtcdVersion?.MaxLength, 20);
    const version = new RegExp(p.EtcdVersion?.AllowedPattern as string);
    assert.ok(version.test("3.6.4"));
    for (const bad of ["v3.6.4", "3.6", "3.6.4-rc.0", "3.6.4\n", ""]) assert.ok(!version.test(bad), bad);
  });

  it("offline: ImageId is required (no default, typed AWS::EC2::Image::Id), used as it is, no map, and a notice says so", () => {
    const image = built.template.Parameters.ImageId;
    assert.equal(image?.Default, undefined);
    assert.equal(image?.Type, "AWS::EC2::Image::Id");
    assert.equal(built.template.Mappings, undefined);
    const data = props(built.template.Resources.LaunchTemplate).LaunchTemplateData as Props;
    assert.deepEqual(data.ImageId, { Ref: "ImageId" });
    assert.deepEqual(built.image_map, {
      source: "none",
      channel: "stable",
      arch: "amd64",
      regions: 0,
      reason: "offline",
    });
    assert.ok(
      built.notices.some((n) => /^offline: .*no image map.*ImageId/.test(n)),
      built.notices.join("\n"),
    );
  });

  it("never has a launch configuration", () => {
    assert.equal(ofType(built, "AWS::AutoScaling::LaunchConfiguration").length, 0);
    assert.doesNotMatch(built.body, /LaunchConfiguration/);
  });

  it("has its own VPC with DNS support and host names", () => {
    const vpc = props(built.template.Resources.VPC);
    assert.equal(built.template.Resources.VPC?.Type, "AWS::EC2::VPC");
    assert.equal(vpc.CidrBlock, "10.0.0.0/16");
    assert.equal(vpc.EnableDnsSupport, true);
    assert.equal(vpc.EnableDnsHostnames, true);
  });

  it("has public subnets in different availability zones of the VPC, each associated with the route table", () => {
    const subnets = ofType(built, "AWS::EC2::Subnet");
    assert.ok(subnets.length >= 2);
    const zones = subnets.map(([, s]) => {
      const p = s.Properties as Props;
      assert.deepEqual(p.VpcId, { Ref: "VPC" });
      assert.equal(p.MapPublicIpOnLaunch, true);
      const select = (p.AvailabilityZone as { "Fn::Select": [number, unknown] })["Fn::Select"];
      assert.deepEqual(select[1], { "Fn::GetAZs": "" });
      return select[0];
    });
    assert.equal(new Set(zones).size, subnets.length, "every subnet in its own zone");
    const cidrs = subnets.map(([, s]) => (s.Properties as Props).CidrBlock);
    assert.equal(new Set(cidrs).size, subnets.length);
    const associations = ofType(built, "AWS::EC2::SubnetRouteTableAssociation").map(
      ([, a]) => a.Properties as Props,
    );
    for (const [name] of subnets) {
      assert.ok(
        associations.some(
          (a) =>
            (a.SubnetId as { Ref: string }).Ref === name &&
            (a.RouteTableId as { Ref: string }).Ref === "RouteTable",
        ),
        `${name} associated`,
      );
    }
  });

  it("has an internet gateway attached and a default route that waits for the attachment", () => {
    assert.equal(built.template.Resources.InternetGateway?.Type, "AWS::EC2::InternetGateway");
    const attachment = ofType(built, "AWS::EC2::VPCGatewayAttachment");
    assert.equal(attachment.length, 1);
    const [attachmentName, attachmentResource] = attachment[0] as [string, CfnResource];
    assert.deepEqual(attachmentResource.Properties, {
      VpcId: { Ref: "VPC" },
      InternetGatewayId: { Ref: "InternetGateway" },
    });
    assert.equal(built.template.Resources.RouteTable?.Type, "AWS::EC2::RouteTable");
    const routes = ofType(built, "AWS::EC2::Route");
    assert.equal(routes.length, 1);
    const [, route] = routes[0] as [string, CfnResource];
    assert.equal((route.Properties as Props).DestinationCidrBlock, "0.0.0.0/0");
    assert.deepEqual((route.Properties as Props).GatewayId, { Ref: "InternetGateway" });
    assert.ok([route.DependsOn].flat().includes(attachmentName));
  });

  // The security groups, SSH and the root volumes: test/template/security.test.ts.

  it("has a launch template: IMDSv2 required with hop limit 2, public address, the controllers' group id, tags, UserData", () => {
    const resource = built.template.Resources.LaunchTemplate;
    assert.equal(resource?.Type, "AWS::EC2::LaunchTemplate");
    const data = props(resource).LaunchTemplateData as Props;
    assert.deepEqual(data.InstanceType, { Ref: "InstanceType" });
    assert.deepEqual(data.KeyName, { Ref: "KeyPair" });
    assert.deepEqual(data.MetadataOptions, {
      HttpTokens: "required",
      HttpEndpoint: "enabled",
      HttpPutResponseHopLimit: 2,
    });
    const [nic, ...others] = data.NetworkInterfaces as Props[];
    assert.equal(others.length, 0);
    assert.equal(nic?.DeviceIndex, 0);
    assert.equal(nic?.AssociatePublicIpAddress, true);
    assert.deepEqual(nic?.Groups, [{ "Fn::GetAtt": ["ControllerSecurityGroup", "GroupId"] }]);
    assert.equal(data.SecurityGroups, undefined, "groups go on the interface, not by name");
    const specs = data.TagSpecifications as { ResourceType: string; Tags: unknown[] }[];
    const instance = specs.find((s) => s.ResourceType === "instance");
    // The controllers' instances say which etcd their launch template version carries.
    assert.deepEqual(instance?.Tags, [
      nameTag,
      clusterTag,
      { Key: "pandacluster:etcd-version", Value: { Ref: "EtcdVersion" } },
    ]);
    assert.ok("Fn::Base64" in (data.UserData as Props));
  });

  it("its user data is an Ignition config that ignition-validate accepts", async () => {
    const decoded = decodeUserData(nodeUserDataBytes(built.template, { DiscoveryURL: DISCOVERY }));
    assert.equal(decoded.format, "ignition");
    const results = await validateAll(decoded);
    assert.equal(results.length, 1);
    for (const result of results) assert.ok(result.ok, result.messages.join("\n"));
  });

  it("has two Auto Scaling groups, controllers (ClusterSize) and workers (Workers), each from its launch template's latest version, across the subnets", () => {
    const groups = ofType(built, "AWS::AutoScaling::AutoScalingGroup");
    assert.deepEqual(groups.map(([name]) => name).sort(), ["AutoScalingGroup", "WorkerGroup"]);
    for (const [name, template, size] of [
      ["AutoScalingGroup", "LaunchTemplate", "ClusterSize"],
      ["WorkerGroup", "WorkerLaunchTemplate", "Workers"],
    ] as const) {
      const asg = built.template.Resources[name] as CfnResource;
      const p = asg.Properties as Props;
      assert.deepEqual(p.LaunchTemplate, {
        LaunchTemplateId: { Ref: template },
        Version: { "Fn::GetAtt": [template, "LatestVersionNumber"] },
      });
      for (const key of ["MinSize", "MaxSize", "DesiredCapacity"])
        assert.deepEqual(p[key], { Ref: size }, key);
      const subnets = ofType(built, "AWS::EC2::Subnet").map(([subnet]) => ({ Ref: subnet }));
      assert.deepEqual(p.VPCZoneIdentifier, subnets);
      assert.equal(p.LaunchConfigurationName, undefined);
      assert.ok([asg.DependsOn].flat().includes("PublicRoute"));
      const lt = props(built.template.Resources[template]).LaunchTemplateData as Props;
      assert.deepEqual((lt.MetadataOptions as Props).HttpTokens, "required");
    }
    assert.equal(built.template.Parameters.Workers?.Default, 0);
    assert.equal(built.template.Parameters.Workers?.MinValue, 0);
    assert.equal(built.template.Parameters.Workers?.MaxValue, 100);
  });

  it("tags the groups' instances Name, pandacluster:cluster and pandacluster:role with propagation at launch", () => {
    const p = props(built.template.Resources.AutoScalingGroup);
    assert.deepEqual(p.Tags, [
      { ...nameTag, PropagateAtLaunch: true },
      { ...clusterTag, PropagateAtLaunch: true },
      { Key: "pandacluster:role", Value: "controller", PropagateAtLaunch: true },
    ]);
    const w = props(built.template.Resources.WorkerGroup);
    assert.deepEqual((w.Tags as Props[]).at(-1), {
      Key: "pandacluster:role",
      Value: "worker",
      PropagateAtLaunch: true,
    });
  });

  it("has outputs for the VPC, the subnets, the security groups and the Auto Scaling groups", () => {
    const out = built.template.Outputs;
    assert.deepEqual(out.VpcId?.Value, { Ref: "VPC" });
    assert.deepEqual(out.AutoScalingGroupName?.Value, { Ref: "AutoScalingGroup" });
    assert.deepEqual(out.WorkerGroupName?.Value, { Ref: "WorkerGroup" });
    assert.deepEqual(out.ControllerSecurityGroupId?.Value, {
      "Fn::GetAtt": ["ControllerSecurityGroup", "GroupId"],
    });
    assert.deepEqual(out.WorkerSecurityGroupId?.Value, { "Fn::GetAtt": ["WorkerSecurityGroup", "GroupId"] });
    assert.deepEqual(out.SubnetIds?.Value, {
      "Fn::Join": [",", [{ Ref: "SubnetA" }, { Ref: "SubnetB" }, { Ref: "SubnetC" }]],
    });
  });

  it("every Ref and GetAtt names a parameter, a pseudo parameter or a resource of the template", () => {
    const known = new Set([
      ...Object.keys(built.template.Parameters),
      ...Object.keys(built.template.Resources),
    ]);
    const walk = (value: unknown): void => {
      if (Array.isArray(value)) value.forEach(walk);
      else if (value && typeof value === "object") {
        for (const [key, inner] of Object.entries(value)) {
          if (key === "Ref" && typeof inner === "string" && !inner.startsWith("AWS::")) {
            assert.ok(known.has(inner), `Ref ${inner}`);
          }
          if (key === "Fn::GetAtt") assert.ok(known.has((inner as string[])[0] as string), `GetAtt ${inner}`);
          walk(inner);
        }
      }
    };
    walk(built.template.Resources);
    walk(built.template.Outputs);
    for (const r of Object.values(built.template.Resources)) {
      for (const dep of [r.DependsOn ?? []].flat()) assert.ok(known.has(dep), `DependsOn ${dep}`);
    }
  });
});

describe("arch and variables change the template", () => {
  it("arm64 defaults InstanceType to t4g.small and says arm64", async () => {
    const built = await buildTemplate({ channel: "beta", arch: "arm64", offline: true }, {});
    assert.equal(built.template.Parameters.InstanceType?.Default, "t4g.small");
    assert.match(built.template.Description, /beta/);
    assert.match(built.template.Description, /arm64/);
  });

  it("without public keys a notice says the nodes take only the EC2 key pair", async () => {
    const built = await buildTemplate({ channel: "stable", arch: "amd64", offline: true }, {});
    assert.ok(built.notices.some((n) => /public_keys/.test(n)));
  });

  it("a docker_port variable moves the Docker ingress rules (where a unit uses it)", async () => {
    const built = await buildTemplate(
      { channel: "stable", arch: "amd64", offline: true, units: dockerSample() },
      {},
      { docker_port: "2376" },
    );
    const docker = props(built.template.Resources.DockerWorkersFromControllers);
    assert.equal(docker.FromPort, 2376);
    assert.equal(docker.ToPort, 2376);
  });

  it("a docker_port that is not a port is a UsageError", async () => {
    await assert.rejects(
      buildTemplate(
        { channel: "stable", arch: "amd64", offline: true, units: dockerSample() },
        {},
        { docker_port: "http" },
      ),
      { name: "UsageError", message: /docker_port/ },
    );
  });
});
