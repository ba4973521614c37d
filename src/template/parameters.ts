import { type ArgumentSpec, argumentSpec } from "../definitions.js";
import { type Arch, IPV4_CIDR_PATTERN } from "../options.js";
import type { CfnParameter } from "./types.js";

function createArgument(name: string): ArgumentSpec {
  return argumentSpec("create", name);
}

/**
 * The template's parameters. Defaults, bounds and patterns come from the create command's argument
 * definitions, so the template accepts what `create` accepts.
 *
 * Without an image map (offline, or the feed could not be fetched) ImageId has no default: the stack
 * then needs the image id. With a map it defaults to empty, which picks the region's image from it.
 *
 * KeyPair is typed AWS::EC2::KeyPair::KeyName, so CloudFormation itself refuses a key that does not
 * exist before it creates anything (a hand deployment included). `create` still checks the key first
 * (aws/keys.ts): its message lists the key pairs that exist and how to import one, and it comes
 * before a discovery URL is spent. (moto does not validate this type: the check is create's there.)
 */
export function parameters(
  arch: Arch,
  withImageMap: boolean,
  staticSlots?: number,
  etcdVersion?: string,
): Record<string, CfnParameter> {
  const instanceType = createArgument("instance_type");
  const clusterSize = createArgument("cluster_size");
  const imageId = createArgument("image_id");
  const keyPair = createArgument("key_pair");
  const discoveryUrl = createArgument("discovery_url");
  const workers = createArgument("workers");
  const privateDomain = createArgument("private_domain");
  const typeDefault =
    instanceType.default_when?.find((d) => d.when.arch === arch)?.value ?? instanceType.default;

  const result: Record<string, CfnParameter> = {
    InstanceType: {
      Type: "String",
      Description: "EC2 instance type of the nodes",
      Default: String(typeDefault),
      ...(instanceType.pattern ? { AllowedPattern: instanceType.pattern } : {}),
      ConstraintDescription: `must be ${instanceType.pattern_hint ?? "an EC2 instance type"}`,
    },
    ClusterSize:
      staticSlots !== undefined
        ? {
            // One slot per member is built into the template: build it again for another size.
            Type: "Number",
            Description: `number of controllers: this template has ${staticSlots} etcd slots (build it again for another size)`,
            Default: staticSlots,
            MinValue: staticSlots,
            MaxValue: staticSlots,
          }
        : {
            Type: "Number",
            Description: "number of controllers: etcd members, fixed at bootstrap (the discovery URL's size)",
            Default: Number(clusterSize.default),
            ...(clusterSize.min !== undefined ? { MinValue: clusterSize.min } : {}),
            ...(clusterSize.max !== undefined ? { MaxValue: clusterSize.max } : {}),
          },
    Workers: {
      Type: "Number",
      Description: "number of workers: nodes without an etcd member (pandacluster scale changes it)",
      Default: Number(workers.default ?? 0),
      ...(workers.min !== undefined ? { MinValue: workers.min } : {}),
      ...(workers.max !== undefined ? { MaxValue: workers.max } : {}),
    },
    PrivateDomain: {
      Type: "String",
      Description:
        staticSlots !== undefined
          ? "the cluster's private DNS zone (made by the stack): controller i is etcd-i.<PrivateDomain>"
          : "the cluster's private DNS zone: workers reach etcd at etcd.<PrivateDomain>",
      // A stack made by hand (only KeyPair and ImageId given) still has a zone: private zones of the
      // same name in other VPCs do not clash.
      ...(staticSlots !== undefined ? { Default: "cluster.internal" } : {}),
      ...(privateDomain.pattern ? { AllowedPattern: privateDomain.pattern } : {}),
      ...(privateDomain.max_length !== undefined ? { MaxLength: privateDomain.max_length } : {}),
      ConstraintDescription: `must be ${privateDomain.pattern_hint ?? "a DNS name"}`,
    },
    KeyPair: {
      Type: "AWS::EC2::KeyPair::KeyName",
      Description: `name of an existing EC2 key pair for SSH access as user core (${keyPair.max_length ?? 255} characters at most)`,
    },
    ...sshParameter(),
    ...volumeParameter(),
  };
  if (staticSlots === undefined) {
    // The discovery mode only (doc/etcd.md): static controllers contact no discovery service.
    result.DiscoveryURL = {
      Type: "String",
      Description: "etcd discovery URL for this cluster ({service}/new?size=<ClusterSize> returns one)",
      // The same rule as create's --discovery-url check (both from the definitions file).
      AllowedPattern: discoveryUrl.pattern as string,
      ConstraintDescription: `must be ${discoveryUrl.pattern_hint}`,
    };
  }
  if (etcdVersion !== undefined) result.EtcdVersion = etcdVersionParameter(etcdVersion);
  const amiPattern = imageId.pattern ?? "^ami-[0-9a-f]{8,17}$";
  // Without a map the image is required and typed, so CloudFormation checks it exists in the region.
  // With one it must be allowed empty (take the map's), which the AWS type would refuse: a String.
  result.ImageId = !withImageMap
    ? {
        Type: "AWS::EC2::Image::Id",
        Description: "AMI id of the Flatcar image for the nodes (required: this template has no image map)",
      }
    : {
        Type: "String",
        Description:
          "AMI id of the nodes' image; empty takes the channel's image for the region from RegionMap",
        Default: "",
        AllowedPattern: `^(${amiPattern.replace(/^\^|\$$/g, "")})?$`,
        ConstraintDescription: `must be empty or ${imageId.pattern_hint ?? "an AMI id"}`,
      };
  return result;
}

/**
 * AllowSSHFrom: empty by default, which adds no SSH rule at all (the SshFrom* ingress resources have
 * the HasSSH condition): SSH is closed unless asked for, as `create` is. A CIDR block opens port 22
 * to it, on controllers and workers.
 */
function sshParameter(): Record<string, CfnParameter> {
  const allowSsh = createArgument("allow_ssh_from");
  return {
    AllowSSHFrom: {
      Type: "String",
      Description: "IPv4 CIDR block allowed to reach the nodes over SSH; empty (the default): SSH closed",
      Default: String(allowSsh.default ?? ""),
      AllowedPattern: `^$|${IPV4_CIDR_PATTERN}`,
      ConstraintDescription: "must be empty (no SSH) or an IPv4 CIDR block such as 203.0.113.7/32",
    },
  };
}

/** VolumeSize: each node's root volume (encrypted gp3), in GiB, within the definitions' bounds. */
function volumeParameter(): Record<string, CfnParameter> {
  const size = createArgument("volume_size");
  return {
    VolumeSize: {
      Type: "Number",
      Description: "GiB of each node's encrypted gp3 root volume (at least the image's root snapshot)",
      Default: Number(size.default),
      ...(size.min !== undefined ? { MinValue: size.min } : {}),
      ...(size.max !== undefined ? { MaxValue: size.max } : {}),
    },
  };
}

/**
 * EtcdVersion: the etcd release the controllers run (their etcd-member.service drop-in's
 * ETCD_IMAGE_TAG, and their instances' pandacluster:etcd-version tag), defaulting to the build's
 * version. Only in a template whose controllers' user data takes it (build.ts). The pattern and
 * length come from the definitions; which versions may follow which is the tool's check (upgrade
 * --etcd-version, etcd/version.ts), not something a pattern can say.
 */
function etcdVersionParameter(version: string): CfnParameter {
  const spec = createArgument("etcd_version");
  return {
    Type: "String",
    Description:
      "etcd release the controllers run (quay.io/coreos/etcd:v<version>); change it with pandacluster upgrade --etcd-version, which keeps etcd's upgrade rules",
    Default: version,
    ...(spec.pattern ? { AllowedPattern: spec.pattern } : {}),
    ...(spec.max_length !== undefined ? { MaxLength: spec.max_length } : {}),
    ConstraintDescription: `must be ${spec.pattern_hint ?? "an etcd release such as 3.5.27"}`,
  };
}

/** An EtcdVersion as long as the parameter accepts (its MaxLength): user data is measured with it. */
export function longestEtcdVersion(): string {
  const max = createArgument("etcd_version").max_length ?? 20;
  return `3.5.${"9".repeat(Math.max(1, max - 4))}`;
}
