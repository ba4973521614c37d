import { type ArgumentSpec, argumentSpec } from "../definitions.js";
import type { Arch } from "../options.js";
import type { CfnParameter } from "./types.js";

const CIDR_PATTERN = "^(\\d{1,3}\\.){3}\\d{1,3}/\\d{1,2}$";

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
 * KeyPair is a plain String (not AWS::EC2::KeyPair::KeyName): `create` checks the key itself and says
 * clearly when it is missing, before anything is created.
 */
export function parameters(
  arch: Arch,
  withImageMap: boolean,
  staticSlots?: number,
): Record<string, CfnParameter> {
  const instanceType = createArgument("instance_type");
  const clusterSize = createArgument("cluster_size");
  const allowSsh = createArgument("allow_ssh_from");
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
  };
  if (staticSlots === undefined) {
    result.DiscoveryURL = {
      Type: "String",
      Description: "etcd discovery URL for this cluster ({service}/new?size=<ClusterSize> returns one)",
      // The same rule as create's --discovery-url check (both from the definitions file).
      AllowedPattern: discoveryUrl.pattern as string,
      ConstraintDescription: `must be ${discoveryUrl.pattern_hint}`,
    };
  }
  Object.assign(result, {
    KeyPair: {
      Type: "String",
      Description: "name of an existing EC2 key pair for SSH access as user core",
      MinLength: 1,
      ...(keyPair.max_length !== undefined ? { MaxLength: keyPair.max_length } : {}),
    },
    AllowSSHFrom: {
      Type: "String",
      Description: "IPv4 CIDR block allowed to reach the nodes over SSH",
      Default: String(allowSsh.default ?? "0.0.0.0/0"),
      AllowedPattern: CIDR_PATTERN,
      ConstraintDescription: "must be an IPv4 CIDR block such as 203.0.113.0/24",
    },
  } satisfies Record<string, CfnParameter>);
  const amiPattern = imageId.pattern ?? "^ami-[0-9a-f]{8,17}$";
  result.ImageId = !withImageMap
    ? {
        Type: "String",
        Description: "AMI id of the Flatcar image for the nodes (required: this template has no image map)",
        AllowedPattern: amiPattern,
        ConstraintDescription: `must be ${imageId.pattern_hint ?? "an AMI id"}`,
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
