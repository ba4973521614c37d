/**
 * Scripted AWS answers for what the emulator cannot show (a stack that takes several polls, a
 * rollback with reasons, throttling, a stuck delete): aws-sdk-client-mock replaces the SDK clients'
 * `send`, so the library runs unchanged against a timeline written here. These are mocks, not
 * recordings; each test says which AWS behaviour it stands in for.
 */
import { AutoScalingClient, DescribeAutoScalingGroupsCommand } from "@aws-sdk/client-auto-scaling";
import {
  CloudFormationClient,
  CreateStackCommand,
  DeleteStackCommand,
  DescribeStackEventsCommand,
  DescribeStacksCommand,
  ListStacksCommand,
  type Stack,
  type StackEvent,
} from "@aws-sdk/client-cloudformation";
import {
  DescribeImagesCommand,
  DescribeInstancesCommand,
  DescribeKeyPairsCommand,
  EC2Client,
} from "@aws-sdk/client-ec2";
import {
  ChangeResourceRecordSetsCommand,
  CreateHostedZoneCommand,
  GetChangeCommand,
  ListHostedZonesCommand,
  Route53Client,
} from "@aws-sdk/client-route-53";
import { mockClient } from "aws-sdk-client-mock";
import type { Config } from "../../src/config.js";
import type { CreateOptions } from "../../src/options.js";

export const STACK_ID =
  "arn:aws:cloudformation:us-east-1:123456789012:stack/demo/11111111-2222-3333-4444-555555555555";
export const credentials: Config = { aws: { id: "AKIDEXAMPLE", secret: "not-a-real-secret" } };

export function createOptions(extra: Partial<CreateOptions> = {}): CreateOptions {
  return {
    stack_name: "demo",
    key_pair: "k1",
    instance_type: "t3.small",
    cluster_size: 3,
    workers: 0,
    region: "us-east-1",
    channel: "stable",
    arch: "amd64",
    provisioning: "ignition",
    discovery_url: "https://discovery.example/0123456789abcdef0123456789abcdef",
    volume_size: 30,
    on_failure: "DELETE",
    timeout: 30,
    dry_run: false,
    ...extra,
  };
}

/** Polls as fast as possible: the tests check the loop's logic, not its pace. */
export const fastPoll = { initial_ms: 2, max_ms: 10 };

let eventCounter = 0;
export function event(resource: string, status: string, reason?: string, type = "AWS::EC2::VPC"): StackEvent {
  eventCounter += 1;
  return {
    EventId: `event-${eventCounter}`,
    StackId: STACK_ID,
    StackName: "demo",
    LogicalResourceId: resource,
    ResourceType: resource === "demo" ? "AWS::CloudFormation::Stack" : type,
    ResourceStatus: status as StackEvent["ResourceStatus"],
    Timestamp: new Date(Date.now() + eventCounter),
    ...(reason ? { ResourceStatusReason: reason } : {}),
  };
}

export function stack(status: string, extra: Partial<Stack> = {}): Stack {
  return {
    StackId: STACK_ID,
    StackName: "demo",
    StackStatus: status as Stack["StackStatus"],
    CreationTime: new Date("2025-01-01T00:00:00Z"),
    Parameters: [
      { ParameterKey: "ClusterSize", ParameterValue: "3" },
      { ParameterKey: "InstanceType", ParameterValue: "t3.small" },
      { ParameterKey: "ImageId", ParameterValue: "ami-0123456789abcdef0" },
      {
        ParameterKey: "DiscoveryURL",
        ParameterValue: "https://discovery.example/0123456789abcdef0123456789abcdef",
      },
    ],
    Tags: [
      { Key: "pandacluster:cluster", Value: "demo" },
      { Key: "pandacluster:channel", Value: "stable" },
      { Key: "pandacluster:arch", Value: "amd64" },
      { Key: "pandacluster:private-domain", Value: "demo.cluster" },
    ],
    Outputs:
      status === "CREATE_COMPLETE"
        ? [
            { OutputKey: "VpcId", OutputValue: "vpc-1" },
            { OutputKey: "AutoScalingGroupName", OutputValue: "demo-asg" },
          ]
        : [],
    ...extra,
  };
}

/**
 * A stack's life as a list of steps: at each DescribeStacks the next step's status shows and its
 * events are appended (DescribeStackEvents answers newest first, like AWS). The last step repeats.
 * A step may instead be an error that the DescribeStacks call throws.
 */
export type Step = { status: string; events?: StackEvent[]; extra?: Partial<Stack> } | { error: Error };

const mocks = () => ({
  cf: mockClient(CloudFormationClient),
  ec2: mockClient(EC2Client),
  autoscaling: mockClient(AutoScalingClient),
  r53: mockClient(Route53Client),
});

export type Mocks = ReturnType<typeof mocks> & { restore(): void };

export function mockAws(
  timeline: Step[],
  options: { getChangePending?: number; stackExists?: boolean } = {},
): Mocks {
  const { cf, ec2, autoscaling, r53 } = mocks();
  const events: StackEvent[] = [];
  let position = -1;
  let current: Stack | undefined;

  // Before CreateStack the name is free: create's check that it is must not use up a step.
  let created = options.stackExists ?? false;
  cf.on(CreateStackCommand).callsFake(() => {
    created = true;
    return { StackId: STACK_ID };
  });
  cf.on(DescribeStacksCommand).callsFake((input: { StackName?: string }) => {
    if (!created && input.StackName && !input.StackName.startsWith("arn:")) {
      throw Object.assign(new Error(`Stack with id ${input.StackName} does not exist`), {
        name: "ValidationError",
      });
    }
    position = Math.min(position + 1, timeline.length - 1);
    const step = timeline[position] as Step;
    if ("error" in step) throw step.error;
    // As on AWS, the events an operation causes carry its ClientRequestToken.
    for (const e of step.events ?? [])
      events.push(e.ClientRequestToken || !deleteToken ? e : { ...e, ClientRequestToken: deleteToken });
    step.events = []; // a repeated last step adds nothing new
    current = stack(step.status, step.extra);
    return { Stacks: [current] };
  });
  cf.on(DescribeStackEventsCommand).callsFake(() => ({ StackEvents: [...events].reverse() }));
  let deleteToken: string | undefined;
  cf.on(DeleteStackCommand).callsFake((input: { ClientRequestToken?: string }) => {
    deleteToken = input.ClientRequestToken;
    return {};
  });
  cf.on(ListStacksCommand).resolves({ StackSummaries: [] });

  ec2.on(DescribeKeyPairsCommand).resolves({ KeyPairs: [{ KeyName: "k1", KeyPairId: "key-1" }] });
  ec2.on(DescribeImagesCommand).resolves({
    Images: [
      { ImageId: "ami-0123456789abcdef0", Name: "Flatcar-stable-4230.2.3-hvm", CreationDate: "2025-01-01" },
    ],
  });
  ec2.on(DescribeInstancesCommand).resolves({
    Reservations: [
      {
        Instances: [1, 2, 3].map((n) => ({
          InstanceId: `i-${n}`,
          State: { Name: "running" as const },
          PrivateIpAddress: `10.0.0.${n}`,
          PublicIpAddress: `203.0.113.${n}`,
          Placement: { AvailabilityZone: "us-east-1a" },
        })),
      },
    ],
  });

  // The controllers' group with its three instances in service (the stack has no workers' group).
  autoscaling.on(DescribeAutoScalingGroupsCommand).resolves({
    AutoScalingGroups: [
      {
        AutoScalingGroupName: "demo-asg",
        MinSize: 3,
        MaxSize: 3,
        DesiredCapacity: 3,
        DefaultCooldown: 300,
        AvailabilityZones: ["us-east-1a"],
        HealthCheckType: "EC2",
        CreatedTime: new Date("2025-01-01T00:00:00Z"),
        Instances: [1, 2, 3].map((n) => ({
          InstanceId: `i-${n}`,
          LifecycleState: "InService" as const,
          HealthStatus: "Healthy",
          AvailabilityZone: "us-east-1a",
          ProtectedFromScaleIn: false,
        })),
      },
    ],
  });

  let pending = options.getChangePending ?? 0;
  r53.on(ListHostedZonesCommand).resolves({ HostedZones: [], IsTruncated: false, MaxItems: 100 });
  r53.on(CreateHostedZoneCommand).resolves({
    HostedZone: {
      Id: "/hostedzone/Z1",
      Name: "demo.cluster.",
      CallerReference: "x",
      Config: { PrivateZone: true },
    },
  });
  r53.on(ChangeResourceRecordSetsCommand).resolves({
    ChangeInfo: { Id: "/change/C1", Status: "PENDING", SubmittedAt: new Date() },
  });
  r53.on(GetChangeCommand).callsFake(() => {
    const status = pending > 0 ? "PENDING" : "INSYNC";
    pending -= 1;
    return { ChangeInfo: { Id: "/change/C1", Status: status, SubmittedAt: new Date() } };
  });

  return {
    cf,
    ec2,
    autoscaling,
    r53,
    restore() {
      cf.restore();
      ec2.restore();
      autoscaling.restore();
      r53.restore();
    },
  };
}

/** An error shaped as the SDK throws it. */
export function awsError(name: string, message: string, extra: Record<string, unknown> = {}): Error {
  const error = new Error(message) as Error & Record<string, unknown>;
  error.name = name;
  Object.assign(error, { $metadata: {}, ...extra });
  return error;
}
