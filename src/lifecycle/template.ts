import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import type { Config } from "../config.js";
import { UsageError } from "../errors.js";
import type { CreateOptions } from "../options.js";
import { buildTemplate, TEMPLATE_BODY_LIMIT, tooBig } from "../template/build.js";
import { loadUnits } from "../template/units.js";
import { templateVariables } from "../template/variables.js";

export interface LoadedTemplate {
  body: string;
  bytes: number;
  source: "built" | "file";
  path?: string;
  /** The parameters the template declares: only those are passed (a user's template may lack some). */
  parameters: Set<string>;
  /** The template creates IAM resources, so CreateStack must acknowledge CAPABILITY_IAM. */
  needs_iam: boolean;
  notices: string[];
}

/**
 * The template to launch: the file given with template_path, or one built for the channel and arch
 * with the config's SSH keys and the units. A built template has no image map (`offline`): create
 * always resolves the image itself and passes it as ImageId, so the feed is not fetched twice.
 */
export async function loadTemplate(options: CreateOptions, config: Config): Promise<LoadedTemplate> {
  if (options.template_path) return readTemplate(options);
  const built = await buildTemplate(
    { channel: options.channel, arch: options.arch, units: options.units, offline: true },
    config,
    createVariables(options),
  );
  return {
    body: built.body,
    bytes: built.bytes,
    source: "built",
    parameters: new Set(Object.keys(built.template.Parameters)),
    needs_iam: /"AWS::IAM::/.test(built.body),
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
  };
}

/**
 * Checks a create's units as loadTemplate will use them — their shape and every {{placeholder}} —
 * without building anything: the API server calls it before it accepts a create, so that bad units
 * are a 400 at once rather than a failed job holding the name. Throws UsageError.
 */
export function checkCreateUnits(options: CreateOptions): void {
  if (!options.units || options.template_path) return;
  loadUnits(
    options.units,
    templateVariables({ channel: options.channel, arch: options.arch }, createVariables(options)),
  );
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
    // YAML is loaded only for a YAML template: most runs never need it.
    parsed = body.trimStart().startsWith("{") ? JSON.parse(body) : (await import("yaml")).parse(body);
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
