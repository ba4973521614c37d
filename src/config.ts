import { statSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { readCsonFile } from "./cson.js";
import { type Problem, UsageError } from "./errors.js";

/**
 * The user's ~/.pandacluster.cson: AWS credentials, the SSH public keys every node gets, and an
 * optional etcd discovery service. The library's `credentials` argument has this shape.
 */
export interface Config {
  aws?: { id?: string; secret?: string; region?: string };
  public_keys?: string[];
  discovery_service?: string;
}

export interface LoadedConfig {
  config: Config;
  /** The file read, or undefined when there was none. */
  path: string | undefined;
  warnings: string[];
}

export function configPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.PANDACLUSTER_CONFIG || join(homedir(), ".pandacluster.cson");
}

const keyTypes =
  /^(ssh-ed25519|ssh-rsa|ssh-dss|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com) [A-Za-z0-9+/]+={0,3}( .*)?$/;

/**
 * Reads the config file. A missing ~/.pandacluster.cson is an empty config; a PANDACLUSTER_CONFIG
 * naming a file that does not exist is a UsageError (a typo there would otherwise run silently with
 * no keys and whatever credentials the environment holds). Anything malformed is a UsageError too.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  const path = configPath(env);
  let mode: number;
  try {
    mode = statSync(path).mode;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") {
      if (env.PANDACLUSTER_CONFIG)
        throw new UsageError(`PANDACLUSTER_CONFIG names ${path}, which does not exist`);
      return { config: {}, path: undefined, warnings: [] };
    }
    throw new UsageError(`cannot read ${path}: ${(error as Error).message}`);
  }
  // The parse cache is plain JSON on disk, and this is the file meant for secrets (under whatever
  // key a user may misspell: aws_secret_access_key, secretKey, password, …): it is cached only when
  // it holds nothing but what is public (cacheableConfig), which spares most runs CoffeeScript.
  const parsed = readCsonFile(path, { cacheable: cacheableConfig });
  const config = checkConfig(parsed, path);
  const warnings: string[] = [];
  // As ssh does with private keys: a secret others can read is a secret others may have.
  if (config.aws?.secret && (mode & 0o077) !== 0) {
    warnings.push(
      `warning: ${path} holds an AWS secret and is readable by others (mode ${(mode & 0o777).toString(8)}); run: chmod 600 ${path}`,
    );
  }
  return { config, path, warnings };
}

/** Validates a parsed config; messages name the file and the entry, never a secret's value. */
export function checkConfig(parsed: unknown, path: string): Config {
  const problems: Problem[] = [];
  const at = (entry: string, message: string) => problems.push({ argument: `${path}: ${entry}`, message });
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new UsageError(`${path}: must hold an object with aws and public_keys`);
  }
  const raw = parsed as Record<string, unknown>;
  for (const key of Object.keys(raw)) {
    if (!["aws", "public_keys", "discovery_service"].includes(key)) at(key, "unknown entry");
  }
  const config: Config = {};
  if (raw.aws !== undefined) {
    if (typeof raw.aws !== "object" || raw.aws === null || Array.isArray(raw.aws)) {
      at("aws", "must be an object {id, secret, region}");
    } else {
      const aws = raw.aws as Record<string, unknown>;
      config.aws = {};
      for (const key of Object.keys(aws)) {
        if (!["id", "secret", "region"].includes(key)) at(`aws.${key}`, "unknown entry");
        else if (typeof aws[key] !== "string" || aws[key] === "")
          at(`aws.${key}`, "must be a non-empty string");
        else config.aws[key as "id" | "secret" | "region"] = aws[key] as string;
      }
      if (Boolean(config.aws.id) !== Boolean(config.aws.secret)) {
        at("aws", "id and secret go together: give both or neither");
      }
    }
  }
  if (raw.public_keys !== undefined) {
    if (!Array.isArray(raw.public_keys)) at("public_keys", "must be a list of SSH public keys");
    else {
      config.public_keys = [];
      raw.public_keys.forEach((key: unknown, index: number) => {
        const line = typeof key === "string" ? key.trim() : "";
        if (!keyTypes.test(line)) {
          at(`public_keys[${index}]`, "is not an SSH public key (ssh-ed25519, ssh-rsa, ecdsa-sha2-*, sk-*)");
        } else config.public_keys?.push(line);
      });
    }
  }
  if (raw.discovery_service !== undefined) {
    if (typeof raw.discovery_service !== "string" || !/^https?:\/\/\S+$/.test(raw.discovery_service)) {
      at("discovery_service", "must be an http(s) URL");
    } else config.discovery_service = raw.discovery_service;
  }
  if (problems.length > 0) throw new UsageError(problems);
  return config;
}

const SSH_PUBLIC_KEY =
  /^(ssh-[a-z0-9-]+|ecdsa-sha2-[a-z0-9-]+|sk-[a-z0-9@.-]+) [A-Za-z0-9+/]+={0,3}( [^\n]*)?$/;

/**
 * Whether a parsed config may go to the parse cache: only when every key is one of the public
 * ones (aws.region, public_keys that are SSH public keys, discovery_service). An allow-list, not a
 * list of secret-looking names: a key nobody foresaw is never cached.
 */
export function cacheableConfig(value: unknown): boolean {
  const isRecord = (v: unknown): v is Record<string, unknown> =>
    typeof v === "object" && v !== null && !Array.isArray(v);
  if (!isRecord(value)) return false;
  return Object.entries(value).every(([key, inner]) => {
    if (key === "discovery_service") return typeof inner === "string";
    if (key === "public_keys")
      return Array.isArray(inner) && inner.every((k) => typeof k === "string" && SSH_PUBLIC_KEY.test(k));
    if (key === "aws")
      return (
        isRecord(inner) && Object.entries(inner).every(([k, v]) => k === "region" && typeof v === "string")
      );
    return false;
  });
}
