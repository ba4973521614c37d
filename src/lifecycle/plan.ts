import type { CreateStackCommandInput } from "@aws-sdk/client-cloudformation";
import { findPublicZone, type Zone } from "../aws/dns.js";
import { awsFailure } from "../aws/errors.js";
import { checkKeyPair } from "../aws/keys.js";
import { describeStack, StackExistsError } from "../aws/stacks.js";
import { discoveryService, newDiscoveryUrl } from "../discovery.js";
import { UsageError } from "../errors.js";
import type { CreateOptions } from "../options.js";
import { thousands } from "../template/boot.js";
import { checkUserData, measureUserData, type SentUserData, userDataSummary } from "../template/measure.js";
import { interruptedBeforeLaunch } from "./hints.js";
import { resolveImage } from "./image.js";
import { checkPublicNameFree } from "./public_dns.js";
import { createStackInput } from "./request.js";
import type { Session } from "./session.js";
import { type LoadedTemplate, loadTemplate, parseTemplateBody } from "./template.js";
import type { Launched } from "./types.js";
import { checkRootVolume } from "./volume.js";

/** Everything CreateStack needs, resolved and checked, with nothing created yet. */
export interface Plan {
  input: CreateStackCommandInput & { StackName: string };
  template: LoadedTemplate;
  resolved: Launched["resolved"];
  public_zone: Zone | null;
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

/**
 * Checks and resolves everything before anything is written: first what needs no AWS call (the
 * template and its size), then concurrently the key pair, the image and the public zone, and only
 * when those are fine a new discovery URL (each one asked for is a cluster registered with the
 * service, so none is asked for a create that cannot go ahead: that is also why a name already
 * taken is found here, not only by CreateStack). A dry run asks for no discovery URL at all.
 */
export async function plan(session: Session, options: CreateOptions, dryRun = false): Promise<Plan> {
  const config = session.credentials ?? {};
  let template = await loadTemplate(options, config);
  const notices = [...template.notices, ...sshNotice(options, template)];
  session.emit("launch", `template ready (${templateSummary(template)})`);

  const [key, image, zone, existing] = await settleInOrder([
    checkKeyPair(session.clients.ec2, options.key_pair, session.region),
    resolveImage(session.clients, options, notices),
    options.public_domain
      ? publicZone(session, options.public_domain, options.stack_name)
      : Promise.resolve(null),
    describeStack(session.clients.cloudformation, options.stack_name),
  ]);
  if (existing && existing.StackStatus !== "DELETE_COMPLETE") {
    throw new StackExistsError(options.stack_name, session.region);
  }
  await checkRootVolume(session, options, template, image.image_id);
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
  if (template.user_data?.pending_discovery_url) {
    // CloudFormation cannot gzip: the cloud-config is gzipped here, with the cluster's own URL in it.
    template = await loadTemplate(options, config, discovery.url);
    session.emit("launch", `template rebuilt with the discovery URL (${templateSummary(template)})`);
  }

  const input = createStackInput(options, template, image.image_id, discovery.url);
  // Every launch template's user data with the values CreateStack sends (the real discovery URL,
  // private domain, …), not the stand-ins the boot config was built with: what EC2 will count.
  const sent = await sentUserData(template, input);
  checkUserData(sent, "with the values CreateStack would send");
  if (sent.length > 0) session.emit("launch", `user data sent: ${userDataSummary(sent)}`);
  return {
    input,
    template,
    public_zone: zone,
    resolved: {
      image,
      discovery,
      template: { ...templateInfo(template), user_data_sent: sent },
      key_pair: key.key_name,
      notices,
    },
  };
}

/**
 * SSH is closed unless asked for (eksctl's model; doc/create says why): a create without
 * allow_ssh_from says so, and how to open it. A template from a file decides for itself.
 */
function sshNotice(options: CreateOptions, template: LoadedTemplate): string[] {
  if (options.allow_ssh_from || template.source === "file" || !template.parameters.has("AllowSSHFrom"))
    return [];
  return [
    "SSH is closed: port 22 is open to no one (no --allow-ssh-from, allow_ssh_from over HTTP); " +
      "give the address you connect from, e.g. --allow-ssh-from 203.0.113.7/32",
  ];
}

/** measureUserData of the template being sent, with CreateStack's parameter values. */
async function sentUserData(
  template: LoadedTemplate,
  input: { Parameters?: { ParameterKey?: string; ParameterValue?: string }[] },
): Promise<SentUserData[]> {
  const body = template.body;
  const parsed = parseTemplateBody(body);
  const values: Record<string, string> = {};
  for (const p of input.Parameters ?? []) if (p.ParameterKey) values[p.ParameterKey] = p.ParameterValue ?? "";
  return measureUserData(parsed, values);
}

/** The template's sizes, saying which bytes they are. */
function templateSummary(template: LoadedTemplate): string {
  const from = template.source === "file" ? template.path : "built";
  const n = thousands;
  const body = `${n(template.bytes)} bytes of TemplateBody`;
  const data = template.user_data;
  if (!data) return `${from}, ${body}`;
  const how = data.encoding === "plain" ? "" : data.encoding === "gzip" ? ", gzipped" : ", gzip-merged";
  return `${from}, ${body}; ${data.provisioning} user data ${n(data.bytes)} of ${n(data.limit)} bytes${how}`;
}

/** Shown in place of the discovery URL that a dry run does not ask for (asking registers a cluster). */
function dryRunDiscovery(service: string, size: number): string {
  return `<a new URL from ${service}/new?size=${size}, requested by create>`;
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
    ...(template.user_data ? { user_data: template.user_data } : {}),
  };
}

/**
 * The public zone must exist before anything is created, and the cluster's public name in it must be
 * free (another cluster's, of that name in another region or another profile's, is never taken
 * over): either is bad input.
 */
async function publicZone(session: Session, domain: string, stackName: string): Promise<Zone> {
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
  try {
    await checkPublicNameFree(session, zone, stackName);
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw awsFailure(`reading the public name of ${stackName} in ${domain}`, error);
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
