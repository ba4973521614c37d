import { createCipheriv, createDecipheriv, createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, statSync, writeSync } from "node:fs";
import { dirname } from "node:path";

/**
 * Secrets at rest: AWS secrets of profiles are sealed with AES-256-GCM under the server's key.
 * The key comes from PANDACLUSTER_SECRET_KEY (32 bytes as 64 hex digits or base64), or from a key
 * file that the server creates on first start with mode 0600 (beside the database).
 */

const version = "v1";

export class SecretBox {
  readonly #key: Buffer;

  constructor(key: Buffer) {
    if (key.length !== 32) throw new Error("the secret key must be 32 bytes");
    this.#key = Buffer.from(key);
  }

  /** Seals `plain`; `context` (e.g. the profile's name) is bound to it and must match on opening. */
  seal(plain: string, context: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", this.#key, iv);
    cipher.setAAD(Buffer.from(context, "utf8"));
    const sealed = Buffer.concat([cipher.update(plain, "utf8"), cipher.final()]);
    const tag = cipher.getAuthTag();
    return [version, iv.toString("base64"), tag.toString("base64"), sealed.toString("base64")].join(":");
  }

  open(sealed: string, context: string): string {
    const [v, iv, tag, data] = sealed.split(":");
    if (v !== version || !iv || !tag || data === undefined) throw new Error("not a sealed secret");
    const decipher = createDecipheriv("aes-256-gcm", this.#key, Buffer.from(iv, "base64"));
    decipher.setAAD(Buffer.from(context, "utf8"));
    decipher.setAuthTag(Buffer.from(tag, "base64"));
    return Buffer.concat([decipher.update(Buffer.from(data, "base64")), decipher.final()]).toString("utf8");
  }

  /** Keeps the key out of console.log and JSON. */
  toJSON(): string {
    return "[SecretBox]";
  }
}

/** Parses a 32-byte key given as 64 hex digits or as base64. */
export function parseKey(text: string, source: string): Buffer {
  const trimmed = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(trimmed)) return Buffer.from(trimmed, "hex");
  if (/^[A-Za-z0-9+/_-]{42,44}={0,2}$/.test(trimmed)) {
    const bytes = Buffer.from(trimmed.replaceAll("-", "+").replaceAll("_", "/"), "base64");
    if (bytes.length === 32) return bytes;
  }
  throw new Error(`${source} must hold a 32-byte key as 64 hex digits or base64 (openssl rand -hex 32)`);
}

export interface KeySource {
  key: Buffer;
  /** Where the key came from, for the start-up log line (never the key). */
  origin: string;
  /** True when this start created the key file. */
  created: boolean;
}

/**
 * The server's secret key: PANDACLUSTER_SECRET_KEY, else the key file (created with mode 0600 when
 * missing). A key file that others can read is refused, as ssh refuses such a private key.
 */
export function loadSecretKey(env: NodeJS.ProcessEnv, keyFile: string): KeySource {
  const fromEnv = env.PANDACLUSTER_SECRET_KEY;
  if (fromEnv)
    return {
      key: parseKey(fromEnv, "PANDACLUSTER_SECRET_KEY"),
      origin: "PANDACLUSTER_SECRET_KEY",
      created: false,
    };
  if (!existsSync(keyFile)) {
    mkdirSync(dirname(keyFile), { recursive: true, mode: 0o700 });
    try {
      const fd = openSync(keyFile, "wx", 0o600);
      try {
        writeSync(fd, `${randomBytes(32).toString("hex")}\n`);
      } finally {
        closeSync(fd);
      }
      return { key: parseKey(readFileSync(keyFile, "utf8"), keyFile), origin: keyFile, created: true };
    } catch (error) {
      // Another process created it in between: read theirs.
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
  }
  const mode = statSync(keyFile).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw new Error(`${keyFile} is readable by others (mode ${mode.toString(8)}); run: chmod 600 ${keyFile}`);
  }
  return { key: parseKey(readFileSync(keyFile, "utf8"), keyFile), origin: keyFile, created: false };
}

/** SHA-256 of a token, hex: what the store keeps instead of the token. */
export function hashToken(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}

/** Compares two hex digests in constant time. */
export function sameDigest(a: string, b: string): boolean {
  const left = Buffer.from(a, "hex");
  const right = Buffer.from(b, "hex");
  return left.length === right.length && left.length > 0 && timingSafeEqual(left, right);
}

/** A new bearer token: a prefix that says what it is (so scanners recognise leaked ones) + 256 random bits. */
export function newToken(kind: "admin" | "profile"): string {
  return `pc${kind === "admin" ? "a" : "p"}_${randomBytes(32).toString("base64url")}`;
}
