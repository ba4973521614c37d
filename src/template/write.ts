import * as fs from "node:fs";
import { constants, writeSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { promisify } from "node:util";
import type { Config } from "../config.js";
import { UsageError } from "../errors.js";
import type { BuildTemplateOptions } from "../options.js";
import { type BuiltTemplate, buildTemplate } from "./build.js";
import type { CfnTemplate } from "./types.js";

export { TEMPLATE_BODY_LIMIT } from "./build.js";

// Looking at the path and replacing a file are synchronous calls (a few system calls on a local
// path): their promise forms went through libuv's thread pool, whose start cost a build-template run
// half a millisecond, and node:fs/promises another millisecond to load (issue 18). Only writing
// through a FIFO or a device stays asynchronous (opening a FIFO waits for its reader): node:fs's
// calls made promises, not node:fs/promises.
const close = promisify(fs.close);
const fstat = promisify(fs.fstat);
const open = promisify(fs.open);
const writeFile = promisify(fs.writeFile);

export interface BuildTemplateResult {
  template: CfnTemplate;
  /**
   * The absolute path written, when a path was given (not for "-" and not without write_path). For a
   * symbolic link, the file it leads to (the link itself is left as it is).
   */
  written_to?: string;
  /** The size of what was written to written_to (the indented text), when a file was written. */
  written_bytes?: number;
  /** The size of the template's compact JSON, as CreateStack gets it. */
  bytes: number;
  image_map: BuiltTemplate["image_map"];
  /** The nodes' user data: format and bytes as EC2 counts them. */
  user_data: BuiltTemplate["user_data"];
  /** Every launch template's user data (controllers, workers), measured in the whole template. */
  launch_templates: BuiltTemplate["launch_templates"];
  /** The template's compact JSON text, as CreateStack gets it (the file is indented for people). */
  body: string;
  /** The notices also given to hooks.notice. */
  notices: string[];
}

/**
 * The library's build_template: builds the template and, when write_path names a file, writes it
 * there (see writeTemplateFile). write_path "-" is left to the caller to print; an absent or false
 * write_path only returns the template.
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
    launch_templates: built.launch_templates,
    body: built.body,
    notices: built.notices,
  };
  const path = options.write_path;
  if (path === undefined || path === null || path === false || path === "-") return result;
  if (typeof path !== "string" || path === "")
    throw new UsageError([{ argument: "write_path", message: "needs a file path" }]);
  const written = await writeTemplateFile(resolve(path), `${JSON.stringify(built.template, null, 2)}\n`);
  result.written_to = written.path;
  result.written_bytes = written.bytes;
  return result;
}

/** What is at a path, as far as writing there is concerned. */
type Place =
  | { kind: "new"; path: string }
  | { kind: "file"; path: string; mode: number; uid: number; gid: number }
  | { kind: "through"; path: string }
  | { kind: "fd"; path: string; fd: number };

/**
 * The descriptor of this process a path names: /dev/stdout, /dev/stderr, /dev/stdin, /dev/fd/N,
 * /proc/self/fd/N, /proc/<our pid>/fd/N. Written to as it is open (a pipe, a file opened for
 * append by `>> app.log`): reopening it by name would lose the append mode or fail on a pipe.
 */
function ownDescriptor(path: string): number | undefined {
  const named: Record<string, number> = { "/dev/stdin": 0, "/dev/stdout": 1, "/dev/stderr": 2 };
  if (path in named) return named[path];
  const match = /^\/(?:dev\/fd|proc\/(?:self|thread-self|(\d+))\/fd)\/(\d+)$/.exec(path);
  if (!match || (match[1] !== undefined && Number(match[1]) !== process.pid)) return undefined;
  return Number(match[2]);
}

/** Symbolic links followed before giving up, as the kernel's own limit (ELOOP). */
const MAX_LINKS = 40;

/**
 * Writes the template without ever replacing what is at the path with something else:
 * - a regular file, or nothing yet: atomically (a temporary file beside it, then a rename), so a
 *   reader never sees half a template; an existing file keeps its permission bits;
 * - a symbolic link: followed (also when it dangles); what it leads to is written by these rules,
 *   and the link stays a link;
 * - a FIFO or a character device (/dev/null, /dev/stdout, a terminal): written through, as a shell
 *   redirection would, since renaming over it would replace the device with a plain file;
 * - a folder, a socket or a block device: refused.
 * Every error names the path and the system's reason, with its code (ENOSPC for /dev/full, …).
 */
export async function writeTemplateFile(
  path: string,
  text: string,
): Promise<{ path: string; bytes: number }> {
  const place = placeOf(path);
  const bytes = Buffer.byteLength(text);
  if (place.kind === "through") await writeThrough(place.path, text);
  else if (place.kind === "fd") await writeToDescriptor(place.path, place.fd, text);
  else writeAtomically(place.path, text, place.kind === "file" ? place : undefined);
  return { path: place.path, bytes };
}

function placeOf(path: string, links = 0): Place {
  const fd = ownDescriptor(path);
  if (fd !== undefined) return { kind: "fd", path, fd };
  let stat: fs.Stats;
  try {
    stat = fs.lstatSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return { kind: "new", path };
    throw cannotWrite(path, error);
  }
  if (stat.isSymbolicLink()) {
    if (links >= MAX_LINKS) throw cannotWrite(path, Object.assign(new Error("loop"), { code: "ELOOP" }));
    // A link to /dev/stdout (or /proc/self/fd/N) is that descriptor, not the file behind it.
    let target: string;
    try {
      target = fs.readlinkSync(path);
    } catch (error) {
      throw cannotWrite(path, error);
    }
    const next = resolve(dirname(path), target);
    if (ownDescriptor(next) !== undefined) return placeOf(next, links + 1);
    return placeOf(linkTarget(path), links + 1);
  }
  if (stat.isFile()) return { kind: "file", path, mode: stat.mode & 0o7777, uid: stat.uid, gid: stat.gid };
  if (stat.isFIFO() || stat.isCharacterDevice()) return { kind: "through", path };
  const what = stat.isDirectory()
    ? "it is a folder (EISDIR)"
    : stat.isSocket()
      ? "it is a socket"
      : "it is a block device";
  throw new UsageError([
    { argument: "write_path", message: `cannot write the template to ${path}: ${what}; nothing was written` },
  ]);
}

/** Where a link leads: its real path, or for a dangling link the (absolute) path it names. */
function linkTarget(link: string): string {
  try {
    return fs.realpathSync.native(link);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw cannotWrite(link, error);
  }
  try {
    return resolve(dirname(link), fs.readlinkSync(link));
  } catch (error) {
    throw cannotWrite(link, error);
  }
}

let temporaries = 0;

function writeAtomically(
  path: string,
  text: string,
  was: { mode: number; uid: number; gid: number } | undefined,
): void {
  // Unique among this machine's processes (pid) and this one's calls; "wx" below refuses anything
  // already at that name (a link planted there included), so the name need not be unguessable: it is
  // not drawn from node:crypto, whose loading cost every build-template run 2 ms (issue 18).
  temporaries += 1;
  const unique = `${process.pid}.${temporaries}.${Math.random().toString(16).slice(2, 10)}`;
  const temp = join(dirname(path), `.${basename(path)}.${unique}.tmp`);
  try {
    fs.writeFileSync(temp, text, { flag: "wx" });
    if (was !== undefined) {
      // The file that replaces it keeps its owner and group (as its permission bits), or nothing is
      // written: root writing a user's template must not leave a root-owned file in its place.
      if (was.uid !== process.getuid?.() || was.gid !== process.getgid?.()) {
        try {
          fs.chownSync(temp, was.uid, was.gid);
        } catch (error) {
          throw Object.assign(new Error("owner"), {
            code: "EOWNER",
            uid: was.uid,
            gid: was.gid,
            cause: error,
          });
        }
      }
      fs.chmodSync(temp, was.mode);
    }
    fs.renameSync(temp, path);
  } catch (error) {
    try {
      fs.rmSync(temp, { force: true });
    } catch {}
    throw cannotWrite(path, error);
  }
}

/**
 * Writes to a descriptor this process already has open, as it is: a pipe, a terminal, a file opened
 * for append (each write then goes to its end) or not. A pipe set non-blocking answers EAGAIN while
 * full: waited out.
 */
async function writeToDescriptor(path: string, fd: number, text: string): Promise<void> {
  const data = Buffer.from(text);
  let offset = 0;
  try {
    while (offset < data.length) {
      try {
        offset += writeSync(fd, data, offset, data.length - offset);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EAGAIN") throw error;
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    }
  } catch (error) {
    throw cannotWrite(path, error);
  }
}

/** Opens what is there without creating, truncating or following anything, and writes into it. */
async function writeThrough(path: string, text: string): Promise<void> {
  try {
    const fd = await open(path, constants.O_WRONLY | constants.O_NOFOLLOW);
    try {
      const stat = await fstat(fd);
      // Swapped for a file between our look and the open: write nothing rather than append.
      if (!stat.isFIFO() && !stat.isCharacterDevice())
        throw Object.assign(new Error("changed"), { code: "ECHANGED" });
      await writeFile(fd, text);
    } finally {
      await close(fd);
    }
  } catch (error) {
    throw cannotWrite(path, error);
  }
}

function cannotWrite(path: string, error: unknown): UsageError {
  if (error instanceof UsageError) return error;
  return new UsageError([
    { argument: "write_path", message: `cannot write the template to ${path}: ${why(path, error)}` },
  ]);
}

function why(path: string, error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  switch (code) {
    case "ENOENT":
      return `the folder ${dirname(path)} does not exist (ENOENT)`;
    case "EACCES":
    case "EPERM":
      return `permission denied (${code})`;
    case "EISDIR":
      return "it is a folder (EISDIR)";
    case "ENOTDIR":
      return "a part of the path is not a folder (ENOTDIR)";
    case "EROFS":
      return "read-only file system (EROFS)";
    case "ENOSPC":
      return "no space left on the device (ENOSPC)";
    case "EDQUOT":
      return "disk quota exceeded (EDQUOT)";
    case "ELOOP":
      return "too many levels of symbolic links (ELOOP)";
    case "ENXIO":
      return "no such device (ENXIO)";
    case "EBADF":
      return "that descriptor is not open for writing (EBADF)";
    case "EPIPE":
      return "the reading end of the pipe is closed (EPIPE)";
    case "EOWNER": {
      const e = error as { uid?: number; gid?: number };
      return `it belongs to uid ${e.uid}, gid ${e.gid}, and the file that would replace it could not be given that owner; nothing was written`;
    }
    case "ECHANGED":
      return "it changed from a FIFO or device to something else while being written; nothing was written";
    default:
      return (error as Error).message;
  }
}
