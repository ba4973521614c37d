import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { homedir } from "node:os";
import { join } from "node:path";
import { UsageError } from "./errors.js";

export interface CsonReadOptions {
  /** The argument the file was given for, to name in messages. */
  argument?: string;
  /**
   * Whether a parsed value may be kept in the parse cache (default: unless it has a secret-looking
   * key, see secretLooking). The config file is cached only when all it holds is public.
   */
  cacheable?: (value: unknown) => boolean;
}

/** Reads and parses a CSON file; any problem becomes a UsageError naming the file (and line). */
export function readCsonFile(path: string, options: CsonReadOptions = {}): unknown {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "no such file" : code === "EACCES" ? "permission denied" : String(error);
    throw new UsageError([{ argument: options.argument ?? "", message: `cannot read ${path}: ${why}` }]);
  }
  return parseCson(text, path, options);
}

/**
 * Parses CSON text. cson-parser compiles the text with CoffeeScript, which costs far more than the
 * rest of a build-template run (about 100 ms for a 200-unit file), so parsed values are kept in a
 * cache keyed by the text's SHA-256: the same text always parses to the same value, so an entry is
 * never stale. The cache is best effort: any failure to read or write it only means parsing again.
 */
export function parseCson(text: string, path: string, options: CsonReadOptions = {}): unknown {
  const key = createHash("sha256").update(text).digest("hex");
  const cached = readCache(key);
  if (cached !== undefined) return cached;
  let value: unknown;
  try {
    value = csonParser().parse(text);
  } catch (error) {
    throw new UsageError([
      { argument: options.argument ?? "", message: `${path}: ${describeSyntaxError(error)}` },
    ]);
  }
  if (options.cacheable ? options.cacheable(value) : !secretLooking(value)) writeCache(key, value);
  return value;
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

// Loaded on first use only: commands that read no CSON (help, --version) never pay for CoffeeScript.
let parser: { parse(text: string): unknown } | undefined;
function csonParser() {
  parser ??= createRequire(import.meta.url)("cson-parser") as { parse(text: string): unknown };
  return parser;
}

function cacheDir(): string {
  return join(process.env.XDG_CACHE_HOME || join(homedir(), ".cache"), "pandacluster", "cson");
}

function readCache(key: string): unknown {
  try {
    return JSON.parse(readFileSync(join(cacheDir(), `${key}.json`), "utf8"));
  } catch {
    return undefined;
  }
}

function writeCache(key: string, value: unknown): void {
  try {
    const dir = cacheDir();
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const temp = join(dir, `${key}.${process.pid}.tmp`);
    writeFileSync(temp, JSON.stringify(value), { mode: 0o600 });
    renameSync(temp, join(dir, `${key}.json`));
  } catch {
    // An unwritable cache (read-only home, full disk) only costs the next run a parse.
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
