import { clusterTags, getAtt, ref, type TemplatePart } from "./types.js";

export const ETCD_PORTS = { from: 2379, to: 2380 } as const;

/**
 * The nodes' security group, in the cluster's VPC: SSH from AllowSSHFrom; etcd (client and peer) and
 * the Docker API only from the group's own members. The self-references are separate
 * SecurityGroupIngress resources naming the group by id (GroupId), as groups in a VPC must be.
 */
export function security(dockerPort: number): TemplatePart {
  const self = getAtt("SecurityGroup", "GroupId");
  const fromGroup = (from: number, to: number, description: string) => ({
    Type: "AWS::EC2::SecurityGroupIngress",
    Properties: {
      GroupId: self,
      IpProtocol: "tcp",
      FromPort: from,
      ToPort: to,
      SourceSecurityGroupId: self,
      Description: description,
    },
  });
  return {
    resources: {
      SecurityGroup: {
        Type: "AWS::EC2::SecurityGroup",
        Properties: {
          GroupDescription: "pandacluster nodes: SSH from AllowSSHFrom; etcd and Docker between the nodes",
          VpcId: ref("VPC"),
          SecurityGroupIngress: [
            { IpProtocol: "tcp", FromPort: 22, ToPort: 22, CidrIp: ref("AllowSSHFrom"), Description: "SSH" },
          ],
          Tags: clusterTags(),
        },
      },
      EtcdIngress: fromGroup(
        ETCD_PORTS.from,
        ETCD_PORTS.to,
        "etcd client and peer traffic between the nodes",
      ),
      DockerIngress: fromGroup(dockerPort, dockerPort, "Docker API between the nodes"),
    },
  };
}
