import {
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { createRequire } from "node:module";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { UsageError } from "./errors.js";

export interface CsonReadOptions {
  /** The argument the file was given for, to name in messages. */
  argument?: string;
  /**
   * Whether a parsed value may be kept in the parse cache (default: unless it has a secret-looking
   * key, see secretLooking). The config file is cached only when all it holds is public.
   */
  cacheable?: (value: unknown) => boolean;
  /**
   * The text holds nothing private (a file of the package, such as the argument definitions): its
   * cache entry may keep the text, comments and all (see parseCson).
   */
  publicText?: boolean;
}

/** Reads and parses a CSON file; any problem becomes a UsageError naming the file (and line). */
export function readCsonFile(path: string, options: CsonReadOptions = {}): unknown {
  let text: string;
  let fd: number | undefined;
  try {
    // O_NONBLOCK: opening a FIFO with no writer then returns at once instead of waiting for ever;
    // what is open is then checked to be a regular file before anything is read.
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
    const stat = fstatSync(fd);
    if (!stat.isFile()) {
      const what = stat.isFIFO()
        ? "a FIFO"
        : stat.isDirectory()
          ? "a folder"
          : stat.isSocket()
            ? "a socket"
            : "a device";
      throw new UsageError([
        {
          argument: options.argument ?? "",
          message: `cannot read ${path}: it is ${what}, not a regular file`,
        },
      ]);
    }
    text = readFileSync(fd, "utf8");
  } catch (error) {
    if (error instanceof UsageError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    const why =
      code === "ENOENT"
        ? "no such file"
        : code === "EACCES"
          ? "permission denied"
          : code === "EISDIR"
            ? "it is a folder, not a regular file"
            : String(error);
    throw new UsageError([{ argument: options.argument ?? "", message: `cannot read ${path}: ${why}` }]);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  return parseCson(text, path, options);
}

/**
 * Parses CSON text. cson-parser compiles the text with CoffeeScript, which costs far more than the
 * rest of a build-template run (about 100 ms for a 200-unit file), so parsed values are kept in a
 * cache, each entry used only for the very text it was parsed from: an entry is never stale. The
 * cache is best effort: any failure to read or write it only means parsing again.
 *
 * Two kinds of entry (cacheEntryName):
 * - a text that may be kept (no comment: no "#" at all, so all it says is in the value, which is
 *   checked to hold no secret before it is cached; or a file of the package): the entry holds the
 *   text and its value, named after the file's path and the text's length, and is used only when its
 *   text is the text read. No hash to compute: node:crypto, which loading cost every command about
 *   2 ms (issue 18), is not needed;
 * - any other text (a comment could hold what the value does not, such as a secret commented out):
 *   the entry holds the value only, named after the text's SHA-256.
 */
export function parseCson(text: string, path: string, options: CsonReadOptions = {}): unknown {
  const kept = keepsText(text, options);
  const key = cacheEntryName(text, path, options).replace(/\.json$/, "");
  const cached = readCache(key, kept ? text : undefined);
  if (cached !== undefined) return cached;
  let value: unknown;
  try {
    value = csonParser().parse(text);
  } catch (error) {
    throw new UsageError([
      { argument: options.argument ?? "", message: `${path}: ${describeSyntaxError(error)}` },
    ]);
  }
  const cacheable = options.cacheable ? options.cacheable(value) : !secretLooking(value);
  if (cacheable && !holdsUserinfo(value)) writeCache(key, kept ? { text, value } : value);
  return value;
}

function keepsText(text: string, options: CsonReadOptions): boolean {
  return options.publicText === true || !text.includes("#");
}

/** The cache entry's file name for a text read from `path` (see parseCson). */
export function cacheEntryName(text: string, path: string, options: CsonReadOptions = {}): string {
  if (!keepsText(text, options)) {
    // Only here: most runs read texts without comments and never load node:crypto.
    const { createHash } = createRequire(import.meta.url)("node:crypto") as typeof import("node:crypto");
    return `${createHash("sha256").update(text).digest("hex")}.json`;
  }
  // FNV-1a of the absolute path: any collision is harmless, the entry's text must be the text read.
  const name = resolve(path);
  let hash = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) hash = Math.imul(hash ^ name.charCodeAt(i), 0x01000193);
  return `text-${(hash >>> 0).toString(16).padStart(8, "0")}-${text.length}.json`;
}

const secretKey = /secret|passw|token|key_?id|access_?key|credential|private|api_?key/i;

/**
 * Whether any key, at any depth, looks like it names a secret and holds one (a string or a number:
 * a secret is a value, so `private_domain: {type: …}` in the argument definitions is not one).
 * Such a file is never cached.
 */
export function secretLooking(value: unknown): boolean {
  if (Array.isArray(value)) return value.some(secretLooking);
  if (typeof value !== "object" || value === null) return false;
  return Object.entries(value).some(
    ([key, inner]) =>
      (secretKey.test(key) && (typeof inner === "string" || typeof inner === "number")) ||
      secretLooking(inner),
  );
}

/** Whether any string, at any depth, is a URL with a user name or password (never cached). */
export function holdsUserinfo(value: unknown): boolean {
  if (typeof value === "string") return /^[a-z][a-z0-9+.-]*:\/\/[^/?#\s]*@/i.test(value.trim());
  if (Array.isArray(value)) return value.some(holdsUserinfo);
  if (typeof value === "object" && value !== null) return Object.values(value).some(holdsUserinfo);
  return false;
}

// Loaded on first use only: commands that read no CSON (help, --version) never pay for CoffeeScript.
let parser: { parse(text: string): unknown } | undefined;
function csonParser() {
  parser ??= createRequire(import.meta.url)("cson-parser") as { parse(text: string): unknown };
  return parser;
}

function cacheDir(): string {
  return join(process.env.XDG_CACHE_HOME || join(homedir(), ".cache"), "pandacluster", "cson");
}

/**
 * Whether a cache path (the folder or an entry) can be trusted: not a link, owned by this user, and
 * writable by nobody else. A parsed value read from a cache others could write would let them put
 * anything in a units file or a config (a unit on every node).
 */
function trusted(path: string, kind: "folder" | "file"): boolean {
  try {
    const stat = lstatSync(path);
    if (kind === "folder" ? !stat.isDirectory() : !stat.isFile()) return false;
    const uid = process.getuid?.();
    if (uid !== undefined && stat.uid !== uid) return false;
    return (stat.mode & 0o022) === 0;
  } catch {
    return false;
  }
}

/** The cached value; with `text`, an entry of a kept text, used only when its text is that text. */
function readCache(key: string, text?: string): unknown {
  try {
    const dir = cacheDir();
    const file = join(dir, `${key}.json`);
    if (!trusted(dir, "folder") || !trusted(file, "file")) return undefined;
    const entry = JSON.parse(readFileSync(file, "utf8"));
    if (text === undefined) return entry;
    return entry?.text === text ? entry.value : undefined;
  } catch {
    return undefined;
  }
}

let writes = 0;

function writeCache(key: string, value: unknown): void {
  let temp: string | undefined;
  try {
    const dir = cacheDir();
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    // Into a folder others may write, nothing is cached (they could swap the entry afterwards).
    if (!trusted(dir, "folder")) return;
    // Unique among this user's processes (pid) and calls; "wx" refuses anything already there.
    writes += 1;
    temp = join(dir, `${key}.${process.pid}.${writes}.${Math.random().toString(16).slice(2, 10)}.tmp`);
    writeFileSync(temp, JSON.stringify(value), { mode: 0o600, flag: "wx" });
    renameSync(temp, join(dir, `${key}.json`));
    temp = undefined;
  } catch {
    // An unwritable cache (read-only home, full disk) only costs the next run a parse; a temporary
    // file a failed write left is removed.
    try {
      if (temp !== undefined) rmSync(temp, { force: true });
    } catch {}
  }
}

function describeSyntaxError(error: unknown): string {
  const located = error as { message?: string; location?: { first_line: number; first_column: number } };
  const message = located.message ?? String(error);
  if (located.location) {
    return `line ${located.location.first_line + 1}, column ${located.location.first_column + 1}: ${message}`;
  }
  // cson-parser's own checks already say "Syntax error on line N, column M: ..."
  return message.replace(/^Syntax error on /, "");
}
