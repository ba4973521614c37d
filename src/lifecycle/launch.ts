import { randomUUID } from "node:crypto";
import type { CreateStackCommandInput } from "@aws-sdk/client-cloudformation";
import { findPublicZone, type Zone } from "../aws/dns.js";
import { awsFailure } from "../aws/errors.js";
import { checkKeyPair } from "../aws/keys.js";
import { createStack, describeStack, StackExistsError } from "../aws/stacks.js";
import type { Config } from "../config.js";
import { discoveryService, newDiscoveryUrl } from "../discovery.js";
import { UsageError } from "../errors.js";
import type { CreateOptions } from "../options.js";
import { clusterTags, defaultPrivateDomain } from "./facts.js";
import { interrupted, interruptedBeforeLaunch } from "./hints.js";
import { resolveImage } from "./image.js";
import { openSession, type Session, seconds } from "./session.js";
import { type LoadedTemplate, loadTemplate } from "./template.js";
import type { Hooks, Launched } from "./types.js";

/** Everything CreateStack needs, resolved and checked, with nothing created yet. */
export interface Plan {
  input: CreateStackCommandInput & { StackName: string };
  template: LoadedTemplate;
  resolved: Launched["resolved"];
  public_zone: Zone | null;
}

/** Shown in place of the discovery URL that a dry run does not ask for (asking registers a cluster). */
function dryRunDiscovery(service: string, size: number): string {
  return `<a new URL from ${service}/new?size=${size}, requested by create>`;
}

/**
 * Checks and resolves everything before anything is written: first what needs no AWS call (the
 * template and its size), then concurrently the key pair, the image and the public zone, and only
 * when those are fine a new discovery URL (each one asked for is a cluster registered with the
 * service, so none is asked for a create that cannot go ahead). A dry run also checks that the name
 * is free, and asks for no discovery URL at all.
 */
export async function plan(session: Session, options: CreateOptions, dryRun = false): Promise<Plan> {
  const config = session.credentials ?? {};
  const template = await loadTemplate(options, config);
  const notices = [...template.notices];
  const from = template.source === "file" ? template.path : "built";
  session.emit("launch", `template ready (${from}, ${template.bytes} bytes)`);

  const [key, image, zone, existing] = await settleInOrder([
    checkKeyPair(session.clients.ec2, options.key_pair, session.region),
    resolveImage(session.clients, options, notices),
    options.public_domain ? publicZone(session, options.public_domain) : Promise.resolve(null),
    dryRun ? describeStack(session.clients.cloudformation, options.stack_name) : Promise.resolve(undefined),
  ]);
  if (existing && existing.StackStatus !== "DELETE_COMPLETE") {
    throw new StackExistsError(options.stack_name, session.region);
  }
  session.emit("launch", `key pair ${key.key_name} found`);
  session.emit(
    "launch",
    `image ${image.image_id}${image.name ? ` (${image.name})` : ""} from ${image.source}`,
  );
  const discovery = await discoveryUrl(session, options, dryRun);
  if (discovery.source === "service") {
    session.emit(
      "launch",
      dryRun
        ? "discovery URL: not requested in a dry run"
        : `discovery URL from ${discovery.service} (size ${options.cluster_size})`,
    );
  }
  for (const notice of notices) session.emit("launch", notice, { kind: "warning" });

  const private_domain = options.private_domain ?? defaultPrivateDomain(options.stack_name);
  const values: Record<string, string> = {
    InstanceType: options.instance_type,
    ClusterSize: String(options.cluster_size),
    DiscoveryURL: discovery.url,
    KeyPair: options.key_pair,
    AllowSSHFrom: options.allow_ssh_from,
    ImageId: image.image_id,
  };
  const input: Plan["input"] = {
    StackName: options.stack_name,
    TemplateBody: template.body,
    Parameters: Object.entries(values)
      .filter(([key]) => template.parameters.has(key))
      .map(([ParameterKey, ParameterValue]) => ({ ParameterKey, ParameterValue })),
    OnFailure: options.on_failure,
    // Makes the SDK's retries of this CreateStack idempotent, and marks the events it causes.
    ClientRequestToken: `pandacluster-create-${randomUUID()}`,
    Tags: clusterTags({
      stack_name: options.stack_name,
      channel: options.channel,
      arch: options.arch,
      private_domain,
      ...(options.public_domain ? { public_domain: options.public_domain } : {}),
    }),
    ...(template.needs_iam ? { Capabilities: ["CAPABILITY_IAM"] } : {}),
  };
  return {
    input,
    template,
    public_zone: zone,
    resolved: { image, discovery, template: templateInfo(template), key_pair: key.key_name, notices },
  };
}

async function discoveryUrl(
  session: Session,
  options: CreateOptions,
  dryRun: boolean,
): Promise<Launched["resolved"]["discovery"]> {
  if (options.discovery_url) return { url: options.discovery_url, source: "option" };
  const service = discoveryService(options.discovery_service, session.credentials?.discovery_service);
  if (dryRun) return { url: dryRunDiscovery(service, options.cluster_size), source: "service", service };
  const signal = session.hooks.signal;
  const url = await newDiscoveryUrl(service, options.cluster_size, signal ? { signal } : {});
  return { url, source: "service", service };
}

function templateInfo(template: LoadedTemplate): Launched["resolved"]["template"] {
  return {
    source: template.source,
    bytes: template.bytes,
    ...(template.path ? { path: template.path } : {}),
  };
}

/** The public zone must exist before anything is created: its absence is bad input. */
async function publicZone(session: Session, domain: string): Promise<Zone> {
  let zone: Zone | undefined;
  try {
    zone = await findPublicZone(session.clients.route53, domain);
  } catch (error) {
    throw awsFailure(`looking up the public zone ${domain}`, error);
  }
  if (!zone) {
    throw new UsageError([
      {
        argument: "public_domain",
        message: `no public Route 53 hosted zone named ${domain} in this account`,
      },
    ]);
  }
  return zone;
}

/**
 * Awaits every promise, then throws the first failure in the order given (not the order they
 * failed in), so that the same bad input always gets the same message.
 */
async function settleInOrder<T extends readonly unknown[]>(
  promises: { [K in keyof T]: Promise<T[K]> },
): Promise<T> {
  const settled = await Promise.allSettled(promises);
  const failed = settled.find((s) => s.status === "rejected");
  if (failed) throw (failed as PromiseRejectedResult).reason;
  return settled.map((s) => (s as PromiseFulfilledResult<unknown>).value) as unknown as T;
}

/** The CreateStack input as it may be shown or stored: the template body summarised. */
export function printableRequest(input: Plan["input"], template: LoadedTemplate): Record<string, unknown> {
  const { TemplateBody: _body, ...rest } = input;
  const from = template.source === "file" ? `from ${template.path}` : "built by pandacluster";
  return { ...rest, TemplateBody: `<${template.bytes} bytes of template ${from}>` };
}

/** Sends CreateStack for a plan; the returned Launched is all `finish` needs. */
export async function send(session: Session, planned: Plan): Promise<Launched> {
  if (session.hooks.signal?.aborted) throw interruptedBeforeLaunch();
  // No signal here: an interrupted CreateStack could have created the stack without our knowing.
  const stackId = await createStack(session.clients.cloudformation, planned.input, session.region);
  session.emit("launch", `CreateStack accepted: ${stackId}`);
  const launched: Launched = {
    stack_id: stackId,
    stack_name: planned.input.StackName,
    region: session.region,
    image_id: planned.resolved.image.image_id,
    discovery_url: planned.resolved.discovery.url,
    request: printableRequest(planned.input, planned.template),
    resolved: planned.resolved,
    timings: { launch: seconds(session.started) },
  };
  if (session.profile) launched.profile = session.profile;
  if (session.hooks.signal?.aborted) {
    throw interrupted(
      { stack_name: launched.stack_name, region: session.region, profile: session.profile },
      "created",
    );
  }
  return launched;
}

/**
 * All the checks, the resolution and CreateStack; returns as soon as CreateStack has answered.
 * Nothing is created when a check fails.
 */
export async function launch(
  credentials: Config | undefined,
  options: CreateOptions,
  hooks: Hooks = {},
): Promise<Launched> {
  const session = await openSession(credentials, options, hooks);
  return send(session, await planChecked(session, options));
}

/** plan(), with an interrupt during the checks reported as "nothing was created". */
export async function planChecked(session: Session, options: CreateOptions, dryRun = false): Promise<Plan> {
  session.emit("launch", `checking ${options.stack_name} in ${session.region}`);
  try {
    const planned = await plan(session, options, dryRun);
    if (session.hooks.signal?.aborted) throw interruptedBeforeLaunch();
    return planned;
  } catch (error) {
    if (session.hooks.signal?.aborted) throw interruptedBeforeLaunch();
    throw error;
  }
}
