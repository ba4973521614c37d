import { type CfnValue, clusterTags, getAtt, ref, type TemplatePart } from "./types.js";

/**
 * How the nodes are launched (a launch template: launch configurations can no longer be created).
 * IMDSv2 is required; the hop limit of 2 lets containers on the nodes reach the metadata service.
 * The network interface gets a public address and the cluster's security group; the Auto Scaling
 * group picks the subnet.
 */
export function launchTemplate(
  imageId: CfnValue,
  userData: CfnValue,
  name = "LaunchTemplate",
  controller?: { instanceProfile: string },
): TemplatePart {
  return {
    resources: {
      [name]: {
        Type: "AWS::EC2::LaunchTemplate",
        Properties: {
          LaunchTemplateData: {
            ImageId: imageId,
            InstanceType: ref("InstanceType"),
            KeyName: ref("KeyPair"),
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
                Groups: [getAtt("SecurityGroup", "GroupId")],
              },
            ],
            TagSpecifications: [
              { ResourceType: "instance", Tags: clusterTags() },
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

/** The image: ImageId when given, else the region's entry of RegionMap; just ImageId without a map. */
export function imageIdValue(withImageMap: boolean): CfnValue {
  if (!withImageMap) return ref("ImageId");
  return {
    "Fn::If": ["HasImageId", ref("ImageId"), { "Fn::FindInMap": ["RegionMap", ref("AWS::Region"), "hvm"] }],
  };
}
