import type {
  CloudFormationClient,
  CreateStackCommandInput,
  Stack,
  StackEvent,
  StackResource,
  StackSummary,
  UpdateStackCommandInput,
} from "@aws-sdk/client-cloudformation";
import { OperationError } from "../errors.js";
import { shellQuote } from "../shell.js";
import { awsMessage, isTransient } from "./errors.js";
import { sdk } from "./sdk.js";

export type { Stack, StackEvent };

/** CreateStack was refused because a stack of that name already exists in the region. */
export class StackExistsError extends OperationError {
  readonly stack_name: string;
  constructor(stackName: string, region: string) {
    super(
      `a stack named ${stackName} already exists in ${region}: choose another name, ` +
        `or remove it first with: pandacluster destroy -n ${shellQuote(stackName)} -r ${shellQuote(region)}`,
    );
    this.name = "StackExistsError";
    this.stack_name = stackName;
  }
}

/** Sends CreateStack and returns the new stack's id. Its ClientRequestToken makes retries safe. */
export async function createStack(
  cf: CloudFormationClient,
  input: CreateStackCommandInput & { StackName: string },
  region: string,
): Promise<string> {
  const { CreateStackCommand } = sdk.cloudformation();
  try {
    const answer = await cf.send(new CreateStackCommand(input));
    if (!answer.StackId)
      throw new OperationError("CloudFormation accepted the stack but returned no StackId");
    return answer.StackId;
  } catch (error) {
    if (error instanceof OperationError) throw error;
    if ((error as { name?: string }).name === "AlreadyExistsException") {
      throw new StackExistsError(input.StackName, region);
    }
    if (isTransient(error)) {
      // The request may have reached CloudFormation before the connection failed.
      throw new OperationError(
        `CreateStack for ${input.StackName} got no answer (${awsMessage(error)}); the stack may have been created: ` +
          `check with: pandacluster status -n ${shellQuote(input.StackName)} -r ${shellQuote(region)}, ` +
          `remove it with: pandacluster destroy -n ${shellQuote(input.StackName)} -r ${shellQuote(region)}`,
      );
    }
    throw new OperationError(
      `CloudFormation refused to create stack ${input.StackName}: ${awsMessage(error)}`,
      [],
      { cause: error },
    );
  }
}

/**
 * Sends UpdateStack; "changed" once CloudFormation accepted it, "unchanged" when it answers that
 * there is nothing to update (the parameters already have those values). The ClientRequestToken
 * makes the SDK's retries idempotent and marks the update's events.
 */
export async function updateStack(
  cf: CloudFormationClient,
  input: UpdateStackCommandInput & { StackName: string },
): Promise<"changed" | "unchanged"> {
  const { UpdateStackCommand } = sdk.cloudformation();
  try {
    await cf.send(new UpdateStackCommand(input));
    return "changed";
  } catch (error) {
    if (/No updates are to be performed/i.test(awsMessage(error))) return "unchanged";
    throw new OperationError(
      `CloudFormation refused to update stack ${input.StackName}: ${awsMessage(error)}`,
    );
  }
}

/**
 * The stack named or identified, or undefined when there is none. By name only live stacks are
 * found; by StackId a deleted stack still answers (as DELETE_COMPLETE), which is why flows poll by id.
 */
export async function describeStack(cf: CloudFormationClient, nameOrId: string): Promise<Stack | undefined> {
  const { DescribeStacksCommand } = sdk.cloudformation();
  try {
    const answer = await cf.send(new DescribeStacksCommand({ StackName: nameOrId }));
    return answer.Stacks?.[0];
  } catch (error) {
    if (isMissingStack(error)) return undefined;
    throw error;
  }
}

/** "Stack with id X does not exist" comes back as a ValidationError. */
export function isMissingStack(error: unknown): boolean {
  const e = error as { name?: string; message?: string };
  return e.name === "ValidationError" && /does not exist/i.test(e.message ?? "");
}

/**
 * The stack's events that are not in `seen`, oldest first. AWS lists events newest first, so the
 * pages are read only until the first event already seen.
 */
export async function newStackEvents(
  cf: CloudFormationClient,
  stackId: string,
  seen: ReadonlySet<string>,
): Promise<StackEvent[]> {
  const { DescribeStackEventsCommand } = sdk.cloudformation();
  const fresh: StackEvent[] = [];
  let token: string | undefined;
  do {
    const page = await cf.send(new DescribeStackEventsCommand({ StackName: stackId, NextToken: token }));
    for (const event of page.StackEvents ?? []) {
      if (event.EventId && seen.has(event.EventId)) return fresh.reverse();
      fresh.push(event);
    }
    token = page.NextToken;
  } while (token);
  return fresh.reverse();
}

export async function deleteStack(cf: CloudFormationClient, stackId: string, token: string): Promise<void> {
  const { DeleteStackCommand } = sdk.cloudformation();
  try {
    await cf.send(new DeleteStackCommand({ StackName: stackId, ClientRequestToken: token }));
  } catch (error) {
    throw new OperationError(`CloudFormation refused to delete stack ${stackId}: ${awsMessage(error)}`, [], {
      cause: error,
    });
  }
}

/** The stack's resources, optionally of one type (AWS::AutoScaling::AutoScalingGroup…). */
export async function stackResources(
  cf: CloudFormationClient,
  stackId: string,
  type?: string,
): Promise<StackResource[]> {
  const { DescribeStackResourcesCommand } = sdk.cloudformation();
  const answer = await cf.send(new DescribeStackResourcesCommand({ StackName: stackId }));
  return (answer.StackResources ?? []).filter((r) => !type || r.ResourceType === type);
}

/** A resource of a stack, as ListStackResources summarises it. */
export interface OwnedResource {
  logical_id: string;
  physical_id: string;
  type: string;
  status: string;
}

/**
 * The resources the stack owns now (not those an update or the deletion removed), optionally of one
 * type: every page of ListStackResources by StackId. DescribeStackResources would answer only the
 * first 100 (AWS's documented limit), and by name it could describe another stack of that name.
 */
export async function ownedResources(
  cf: CloudFormationClient,
  stackId: string,
  type?: string,
): Promise<OwnedResource[]> {
  const { ListStackResourcesCommand } = sdk.cloudformation();
  const owned: OwnedResource[] = [];
  let token: string | undefined;
  do {
    const page = await cf.send(new ListStackResourcesCommand({ StackName: stackId, NextToken: token }));
    for (const r of page.StackResourceSummaries ?? []) {
      if (type && r.ResourceType !== type) continue;
      if (!r.PhysicalResourceId || r.ResourceStatus === "DELETE_COMPLETE") continue;
      owned.push({
        logical_id: r.LogicalResourceId ?? "",
        physical_id: r.PhysicalResourceId,
        type: r.ResourceType ?? "",
        status: r.ResourceStatus ?? "",
      });
    }
    token = page.NextToken;
  } while (token);
  return owned;
}

/** Every live stack in the region, all pages of one DescribeStacks without a name. */
export async function allStacks(cf: CloudFormationClient): Promise<Stack[]> {
  const { DescribeStacksCommand } = sdk.cloudformation();
  const stacks: Stack[] = [];
  let token: string | undefined;
  do {
    const page = await cf.send(new DescribeStacksCommand({ NextToken: token }));
    stacks.push(...(page.Stacks ?? []));
    token = page.NextToken;
  } while (token);
  return stacks;
}

/** The most recently deleted stack of that name (AWS remembers them for 90 days), if any. */
export async function deletedStack(
  cf: CloudFormationClient,
  name: string,
): Promise<StackSummary | undefined> {
  const { ListStacksCommand } = sdk.cloudformation();
  let newest: StackSummary | undefined;
  let token: string | undefined;
  do {
    const page = await cf.send(
      new ListStacksCommand({ StackStatusFilter: ["DELETE_COMPLETE"], NextToken: token }),
    );
    for (const summary of page.StackSummaries ?? []) {
      if (summary.StackName !== name) continue;
      if (!newest || time(summary.DeletionTime) > time(newest.DeletionTime)) newest = summary;
    }
    token = page.NextToken;
  } while (token);
  return newest;
}

function time(date: Date | undefined): number {
  return date ? date.getTime() : 0;
}

export function tagOf(stack: Stack, key: string): string | undefined {
  return stack.Tags?.find((t) => t.Key === key)?.Value;
}

export function parameterOf(stack: Stack, key: string): string | undefined {
  return stack.Parameters?.find((p) => p.ParameterKey === key)?.ParameterValue;
}

export function outputOf(stack: Stack, key: string): string | undefined {
  return stack.Outputs?.find((o) => o.OutputKey === key)?.OutputValue;
}

/** Every output as a plain object. */
export function outputsOf(stack: Stack): Record<string, string> {
  const outputs: Record<string, string> = {};
  for (const o of stack.Outputs ?? []) if (o.OutputKey) outputs[o.OutputKey] = o.OutputValue ?? "";
  return outputs;
}
