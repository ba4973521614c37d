import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { resolve } from "node:path";
import type { Config } from "../config.js";
import { discoveryService } from "../discovery.js";
import { UsageError } from "../errors.js";
import type { CreateOptions } from "../options.js";
import { sampleDiscoveryUrl, type UserDataReport } from "../template/boot.js";
import { buildTemplate, TEMPLATE_BODY_LIMIT, tooBig } from "../template/build.js";
import { defaultPrivateDomain } from "./facts.js";

export interface LoadedTemplate {
  body: string;
  bytes: number;
  source: "built" | "file";
  path?: string;
  /** The parameters the template declares: only those are passed (a user's template may lack some). */
  parameters: Set<string>;
  /** The template creates IAM resources, so CreateStack must acknowledge CAPABILITY_IAM. */
  needs_iam: boolean;
  /** A built template's user data; a cloud-config marked pending_discovery_url is rebuilt with the URL. */
  user_data?: UserDataReport;
  notices: string[];
}

/**
 * A template's text as data: JSON, or YAML (CloudFormation takes both). YAML is loaded only for a YAML
 * template, most runs never need it; with require(), not import(): the CLI runs as a CommonJS bundle
 * compiled from a code cache, where import() has no loader (scripts/build/bundle-cli.mjs checks).
 */
export function parseTemplateBody(body: string): unknown {
  return body.trimStart().startsWith("{")
    ? JSON.parse(body)
    : (createRequire(import.meta.url)("yaml") as typeof import("yaml")).parse(body);
}

/**
 * The template to launch: the file given with template_path, or one built for the channel and arch
 * with the config's SSH keys and the units. A built template has no image map (`offline`): create
 * always resolves the image itself and passes it as ImageId, so the feed is not fetched twice.
 *
 * The user data is measured with the discovery URL given, or one as long as the service's will be.
 * `discoveryUrl` is the cluster's real URL, once known: a cloud-config over EC2's limit is then
 * gzipped with it (plan builds the template again when `user_data.pending_discovery_url` says so).
 */
export async function loadTemplate(
  options: CreateOptions,
  config: Config,
  discoveryUrl?: string,
): Promise<LoadedTemplate> {
  if (options.template_path) return readTemplate(options);
  const sampleUrl =
    options.discovery_url ??
    sampleDiscoveryUrl(discoveryService(options.discovery_service, config.discovery_service));
  const built = await buildTemplate(
    {
      channel: options.channel,
      arch: options.arch,
      provisioning: options.provisioning,
      units: options.units,
      offline: true,
    },
    config,
    createVariables(options),
    discoveryUrl !== undefined
      ? { sampleUrl: discoveryUrl, knownUrl: discoveryUrl }
      : { sampleUrl, urlComesLater: true },
  );
  return {
    body: built.body,
    bytes: built.bytes,
    source: "built",
    parameters: new Set(Object.keys(built.template.Parameters)),
    needs_iam: /"AWS::IAM::/.test(built.body),
    user_data: built.user_data,
    // "no image map, pass ImageId" is for build-template users: create passes it.
    notices: built.notices.filter((n) => !n.startsWith("offline:")),
  };
}

/** The `{{variable}}`s a create adds to those of build-template (see template/variables.ts). */
function createVariables(options: CreateOptions): Record<string, string> {
  return {
    stack_name: options.stack_name,
    cluster_size: String(options.cluster_size),
    instance_type: options.instance_type,
    // Workers reach etcd at etcd.<this zone> (template/workers.ts).
    private_domain: options.private_domain ?? defaultPrivateDomain(options.stack_name),
  };
}

/**
 * Checks a create's template as loadTemplate will build it — units, every {{placeholder}}, the boot
 * format's own refusals and EC2's user-data limit — offline, calling nothing: the API server calls it
 * before it accepts a create, so that bad input is a 400 at once rather than a failed job holding the
 * name. Throws UsageError.
 */
export async function checkCreateTemplate(options: CreateOptions, config: Config): Promise<void> {
  if (options.template_path) return;
  await loadTemplate(options, config);
}

async function readTemplate(options: CreateOptions): Promise<LoadedTemplate> {
  const path = resolve(options.template_path as string);
  const problem = (message: string) => new UsageError([{ argument: "template_path", message }]);
  let body: string;
  try {
    body = await readFile(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw problem(`cannot read ${path}: ${code === "ENOENT" ? "no such file" : (error as Error).message}`);
  }
  const bytes = Buffer.byteLength(body);
  if (bytes > TEMPLATE_BODY_LIMIT) throw problem(`${path}: ${tooBig(bytes).replace(/: put fewer.*$/, "")}`);
  let parsed: unknown;
  try {
    parsed = parseTemplateBody(body);
  } catch (error) {
    throw problem(`${path} is not a JSON or YAML template: ${(error as Error).message.split("\n")[0]}`);
  }
  const declared = (parsed as { Parameters?: Record<string, unknown>; Resources?: unknown } | null) ?? {};
  if (typeof declared !== "object" || !declared.Resources) throw problem(`${path} has no Resources section`);
  const notices = options.units
    ? ["units are ignored: the template given with template_path is used as it is"]
    : [];
  return {
    body,
    bytes,
    source: "file",
    path,
    parameters: new Set(Object.keys(declared.Parameters ?? {})),
    needs_iam: /AWS::IAM::/.test(body),
    notices,
  };
}
