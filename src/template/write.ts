import { randomBytes } from "node:crypto";
import { rename, rm, writeFile } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import type { Config } from "../config.js";
import { UsageError } from "../errors.js";
import type { BuildTemplateOptions } from "../options.js";
import { type BuiltTemplate, buildTemplate } from "./build.js";
import type { CfnTemplate } from "./types.js";

export { TEMPLATE_BODY_LIMIT } from "./build.js";

export interface BuildTemplateResult {
  template: CfnTemplate;
  /** The absolute path written, when a path was given (not for "-" and not without write_path). */
  written_to?: string;
  bytes: number;
  image_map: BuiltTemplate["image_map"];
  /** The nodes' user data: format and bytes as EC2 counts them. */
  user_data: BuiltTemplate["user_data"];
  /** The template's compact JSON text, as CreateStack gets it (the file is indented for people). */
  body: string;
  /** The notices also given to hooks.notice. */
  notices: string[];
}

/**
 * The library's build_template: builds the template and, when write_path names a file, writes it
 * there (atomically: a temporary file beside it, then a rename). write_path "-" is left to the caller
 * to print; an absent or false write_path only returns the template.
 *
 * `credentials` is the config (its public_keys go on every node). Notices (no image map and why, …)
 * go to hooks.notice as they come, and are in the result.
 */
export async function build_template(
  options: BuildTemplateOptions,
  credentials?: Config,
  hooks?: { notice?: (line: string) => void },
): Promise<BuildTemplateResult> {
  const built = await buildTemplate(options, credentials ?? {});
  for (const line of built.notices) hooks?.notice?.(line);
  const result: BuildTemplateResult = {
    template: built.template,
    bytes: built.bytes,
    image_map: built.image_map,
    user_data: built.user_data,
    body: built.body,
    notices: built.notices,
  };
  const path = options.write_path;
  if (path === undefined || path === null || path === false || path === "-") return result;
  if (typeof path !== "string" || path === "")
    throw new UsageError([{ argument: "write_path", message: "needs a file path" }]);
  result.written_to = await writeAtomically(resolve(path), `${JSON.stringify(built.template, null, 2)}\n`);
  return result;
}

/** Writes a file through a temporary one beside it and a rename; errors name the path. */
export async function writeAtomically(path: string, text: string): Promise<string> {
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
  try {
    await writeFile(temp, text, { flag: "wx" });
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true }).catch(() => {});
    throw new UsageError([
      { argument: "write_path", message: `cannot write the template to ${path}: ${why(error)}` },
    ]);
  }
  return path;
}

function why(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  switch (code) {
    case "ENOENT":
      return "no such folder";
    case "EACCES":
    case "EPERM":
      return "permission denied";
    case "EISDIR":
      return "it is a folder";
    case "ENOTDIR":
      return "a part of the path is not a folder";
    case "EROFS":
      return "read-only file system";
    case "ENOSPC":
      return "no space left on the device";
    default:
      return (error as Error).message;
  }
}
