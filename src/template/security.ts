import type { Role } from "./group.js";
import { type CfnResource, type CfnValue, clusterTags, getAtt, ref, type TemplatePart } from "./types.js";

export const ETCD_PORTS = { from: 2379, to: 2380 } as const;
export const ETCD_CLIENT_PORT = ETCD_PORTS.from;
export const ETCD_PEER_PORT = ETCD_PORTS.to;

/** Each role's security group (logical ids): a node carries its role's group only. */
export const SECURITY_GROUPS: Record<Role, string> = {
  controller: "ControllerSecurityGroup",
  worker: "WorkerSecurityGroup",
};

/** True when AllowSSHFrom names a CIDR block; empty (the default) adds no SSH rule at all. */
export const SSH_CONDITION = "HasSSH";

/**
 * The nodes' security groups, in the cluster's VPC, one per role. What is open, to whom:
 *
 * - etcd's client port 2379 on controllers, from controllers and workers (workers use etcd);
 * - etcd's peer port 2380 on controllers, from controllers only (workers run no member);
 * - SSH (22) on every node from AllowSSHFrom, only when it is given (closed by default);
 * - the Docker API port on every node from every node, only when a unit uses {{docker_port}} (the
 *   opt-in docker-tcp sample: unauthenticated, see doc/create); the default units do not.
 *
 * Nothing else: workers accept nothing from anyone else. Every rule between nodes names its source by
 * group id, as a separate SecurityGroupIngress (a group cannot name itself inside its own definition).
 * Egress is the groups' default (all): the nodes pull images and reach the discovery service.
 */
export function security(dockerPort?: number): TemplatePart {
  const resources: Record<string, CfnResource> = {
    [SECURITY_GROUPS.controller]: securityGroup(
      "controllers: etcd client from all nodes, peer from controllers",
    ),
    [SECURITY_GROUPS.worker]: securityGroup("workers: nothing from the other nodes unless a unit needs it"),
    EtcdClientFromControllers: fromGroup("controller", ETCD_CLIENT_PORT, "controller", "etcd client"),
    EtcdClientFromWorkers: fromGroup("controller", ETCD_CLIENT_PORT, "worker", "etcd client"),
    EtcdPeerFromControllers: fromGroup("controller", ETCD_PEER_PORT, "controller", "etcd peer"),
    SshToControllers: sshRule("controller"),
    SshToWorkers: sshRule("worker"),
  };
  if (dockerPort !== undefined) Object.assign(resources, dockerRules(dockerPort));
  return {
    resources,
    conditions: { [SSH_CONDITION]: { "Fn::Not": [{ "Fn::Equals": [ref("AllowSSHFrom"), ""] }] } },
  };
}

/** A role's group id, as launch templates and rules name it. */
export function securityGroupId(role: Role): CfnValue {
  return getAtt(SECURITY_GROUPS[role], "GroupId");
}

function securityGroup(description: string): CfnResource {
  return {
    Type: "AWS::EC2::SecurityGroup",
    Properties: {
      GroupDescription: `pandacluster ${description}`,
      VpcId: ref("VPC"),
      Tags: clusterTags(),
    },
  };
}

const PLURAL: Record<Role, string> = { controller: "controllers", worker: "workers" };

/** TCP `port` on `target`'s nodes from `source`'s nodes, by group id. */
function fromGroup(target: Role, port: number, source: Role, what: string): CfnResource {
  return {
    Type: "AWS::EC2::SecurityGroupIngress",
    Properties: {
      GroupId: securityGroupId(target),
      IpProtocol: "tcp",
      FromPort: port,
      ToPort: port,
      SourceSecurityGroupId: securityGroupId(source),
      Description: `${what} ${port} from the ${PLURAL[source]}`,
    },
  };
}

/** SSH on `target`'s nodes from AllowSSHFrom, only when it is given. */
function sshRule(target: Role): CfnResource {
  return {
    Type: "AWS::EC2::SecurityGroupIngress",
    Condition: SSH_CONDITION,
    Properties: {
      GroupId: securityGroupId(target),
      IpProtocol: "tcp",
      FromPort: 22,
      ToPort: 22,
      CidrIp: ref("AllowSSHFrom"),
      Description: "SSH from AllowSSHFrom",
    },
  };
}

/** The Docker API port on every node from every node (a unit of the units file listens there). */
function dockerRules(port: number): Record<string, CfnResource> {
  const rules: Record<string, CfnResource> = {};
  const roles: Role[] = ["controller", "worker"];
  for (const target of roles) {
    for (const source of roles) {
      const name = `Docker${cap(PLURAL[target])}From${cap(PLURAL[source])}`;
      rules[name] = fromGroup(target, port, source, "Docker API (a unit uses docker_port)");
    }
  }
  return rules;
}

const cap = (word: string) => word[0]?.toUpperCase() + word.slice(1);
