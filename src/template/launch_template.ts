import { ROLES, type Role } from "./group.js";
import { securityGroupId } from "./security.js";
import { type CfnValue, clusterTags, getAtt, ref, type TemplatePart } from "./types.js";

/** The root device of Flatcar's AMIs (DescribeImages: RootDeviceName); create checks the image's. */
export const ROOT_DEVICE = "/dev/xvda";

/**
 * How the nodes are launched (a launch template: launch configurations can no longer be created).
 * IMDSv2 is required; the hop limit of 2 lets containers on the nodes reach the metadata service.
 * The root volume is gp3, encrypted, VolumeSize GiB (rootVolume). The network interface gets a
 * public address (outbound internet without a NAT gateway; nothing is open to the internet but SSH
 * when asked, see security.ts) and the role's security group; the Auto Scaling group picks the subnet.
 */
export function launchTemplate(
  imageId: CfnValue,
  userData: CfnValue,
  name = "LaunchTemplate",
  controller?: { instanceProfile: string },
  /** More tags for the instances (a controller's pandacluster:etcd-version). */
  instanceTags: CfnValue[] = [],
): TemplatePart {
  // The workers' launch template carries the workers' group; every other one is a controller's.
  const role: Role = name === ROLES.worker.launchTemplate ? "worker" : "controller";
  return {
    resources: {
      [name]: {
        Type: "AWS::EC2::LaunchTemplate",
        Properties: {
          LaunchTemplateData: {
            ImageId: imageId,
            InstanceType: ref("InstanceType"),
            KeyName: ref("KeyPair"),
            BlockDeviceMappings: [rootVolume()],
            MetadataOptions: {
              HttpTokens: "required",
              HttpEndpoint: "enabled",
              HttpPutResponseHopLimit: 2,
              // A static controller reads its slot from its group's tags (etcd/slots.ts).
              ...(controller ? { InstanceMetadataTags: "enabled" } : {}),
            },
            ...(controller ? { IamInstanceProfile: { Arn: getAtt(controller.instanceProfile, "Arn") } } : {}),
            NetworkInterfaces: [
              {
                DeviceIndex: 0,
                AssociatePublicIpAddress: true,
                DeleteOnTermination: true,
                Groups: [securityGroupId(role)],
              },
            ],
            TagSpecifications: [
              { ResourceType: "instance", Tags: [...clusterTags(), ...instanceTags] },
              { ResourceType: "volume", Tags: clusterTags() },
            ],
            UserData: userData,
          },
          TagSpecifications: [{ ResourceType: "launch-template", Tags: clusterTags() }],
        },
      },
    },
  };
}

/**
 * The root volume: encrypted (with the account's default EBS key, aws/ebs, unless the account set
 * another), gp3 (3,000 IOPS and 125 MiB/s included at any size), VolumeSize GiB, deleted with the
 * instance. The device is the image's root device, so this resizes the root rather than adding a disk.
 */
export function rootVolume(): CfnValue {
  return {
    DeviceName: ROOT_DEVICE,
    Ebs: { VolumeType: "gp3", VolumeSize: ref("VolumeSize"), Encrypted: true, DeleteOnTermination: true },
  };
}

/** The image: ImageId when given, else the region's entry of RegionMap; just ImageId without a map. */
export function imageIdValue(withImageMap: boolean): CfnValue {
  if (!withImageMap) return ref("ImageId");
  return {
    "Fn::If": ["HasImageId", ref("ImageId"), { "Fn::FindInMap": ["RegionMap", ref("AWS::Region"), "hvm"] }],
  };
}
