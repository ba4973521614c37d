/**
 * The nodes' user data as a node would read it: decoded the way EC2 and Flatcar do (base64, then
 * gzip when the bytes are gzip, then Ignition's merged data: URLs, each decoded and gunzipped), and
 * every Ignition config checked with the real validator, Debian's /usr/bin/ignition-validate.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { gunzipSync } from "node:zlib";
import YAML from "yaml";
import type { IgnitionConfig, IgnitionUnit } from "../../src/template/ignition.js";

const run = promisify(execFile);

export const IGNITION_VALIDATE = "/usr/bin/ignition-validate";

export interface Validation {
  ok: boolean;
  /** What the validator printed (errors and warnings), one entry a line. */
  messages: string[];
  warnings: string[];
}

/** Runs ignition-validate on the config, written to a temporary file. */
export async function ignitionValidate(config: unknown): Promise<Validation> {
  const dir = mkdtempSync(join(tmpdir(), "pandacluster-ignition-"));
  const path = join(dir, "config.ign");
  writeFileSync(path, typeof config === "string" ? config : JSON.stringify(config));
  try {
    let out = "";
    let ok = true;
    try {
      const result = await run(IGNITION_VALIDATE, [path]);
      out = `${result.stdout}${result.stderr}`;
    } catch (error) {
      const failed = error as { code?: number | string; stdout?: string; stderr?: string };
      if (typeof failed.code !== "number") throw error;
      ok = false;
      out = `${failed.stdout ?? ""}${failed.stderr ?? ""}`;
    }
    const messages = out.split("\n").filter((line) => line.trim() !== "");
    return { ok, messages, warnings: messages.filter((m) => m.startsWith("warning")) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The user data's bytes from what a launch template holds: base64 (AWS), or the text itself (moto keeps Fn::Base64's input). */
export function userDataBytes(held: string): Buffer {
  if (held.startsWith("{") || held.startsWith("#cloud-config")) return Buffer.from(held, "utf8");
  return Buffer.from(held, "base64");
}

export type Decoded =
  | { format: "cloud-config"; gzipped: boolean; bytes: number; text: string; config: CloudConfig }
  | {
      format: "ignition";
      gzipped: boolean;
      bytes: number;
      text: string;
      /** The user data's own config, then every config it merges, decoded. */
      configs: IgnitionConfig[];
      /** What the node ends up with: the merged configs, then the user data's own config over them. */
      effective: IgnitionConfig;
    };

export interface CloudConfig {
  ssh_authorized_keys?: string[];
  coreos: {
    units: {
      name: string;
      content?: string;
      command?: string;
      enable?: boolean;
      runtime?: boolean;
      mask?: boolean;
      drop_ins?: { name: string; content: string }[];
    }[];
  };
}

/** Decodes user data bytes (before base64) as Flatcar reads them. */
export function decodeUserData(bytes: Buffer): Decoded {
  const gzipped = bytes[0] === 0x1f && bytes[1] === 0x8b;
  const text = (gzipped ? gunzipSync(bytes) : bytes).toString("utf8");
  if (text.startsWith("#cloud-config\n")) {
    return {
      format: "cloud-config",
      gzipped,
      bytes: bytes.length,
      text,
      config: YAML.parse(text, { uniqueKeys: true }) as CloudConfig,
    };
  }
  const own = JSON.parse(text) as IgnitionConfig;
  const merged = (own.ignition.config?.merge ?? []).map((m) => dataUrlConfig(m.source, m.compression));
  let effective: IgnitionConfig = { ignition: { version: own.ignition.version } };
  for (const child of merged) effective = mergeIgnition(effective, child);
  const { config: _config, ...ignition } = own.ignition;
  effective = mergeIgnition(effective, { ...own, ignition });
  return { format: "ignition", gzipped, bytes: bytes.length, text, configs: [own, ...merged], effective };
}

function dataUrlConfig(source: string, compression?: string): IgnitionConfig {
  const match = /^data:([^,]*?)(;base64)?,(.*)$/s.exec(source);
  if (!match) throw new Error(`test: not a data: URL: ${source.slice(0, 40)}`);
  const raw = match[2]
    ? Buffer.from(match[3] as string, "base64")
    : Buffer.from(decodeURIComponent(match[3] as string));
  const bytes = compression === "gzip" ? gunzipSync(raw) : raw;
  return JSON.parse(bytes.toString("utf8")) as IgnitionConfig;
}

/**
 * Ignition's merge, for the parts pandacluster writes: units by name and their dropins by name, links
 * and files by path, users by name; the child's (later) values win, lists of keys are joined.
 */
export function mergeIgnition(parent: IgnitionConfig, child: IgnitionConfig): IgnitionConfig {
  const out: IgnitionConfig = { ignition: { version: child.ignition.version } };
  const units = new Map<string, IgnitionUnit>();
  for (const unit of [...(parent.systemd?.units ?? []), ...(child.systemd?.units ?? [])]) {
    const before = units.get(unit.name);
    if (!before) {
      units.set(unit.name, { ...unit });
      continue;
    }
    const dropins = new Map((before.dropins ?? []).map((d) => [d.name, d]));
    for (const d of unit.dropins ?? []) dropins.set(d.name, d);
    units.set(unit.name, {
      ...before,
      ...unit,
      ...(dropins.size > 0 ? { dropins: [...dropins.values()] } : {}),
    });
  }
  if (units.size > 0) out.systemd = { units: [...units.values()] };
  const links = new Map(
    [...(parent.storage?.links ?? []), ...(child.storage?.links ?? [])].map((l) => [l.path, l]),
  );
  const files = new Map(
    [...(parent.storage?.files ?? []), ...(child.storage?.files ?? [])].map((f) => [f.path, f]),
  );
  if (links.size > 0 || files.size > 0) {
    out.storage = {
      ...(files.size > 0 ? { files: [...files.values()] } : {}),
      ...(links.size > 0 ? { links: [...links.values()] } : {}),
    };
  }
  const users = new Map<string, { name: string; sshAuthorizedKeys: string[] }>();
  for (const user of [...(parent.passwd?.users ?? []), ...(child.passwd?.users ?? [])]) {
    const before = users.get(user.name);
    users.set(user.name, {
      name: user.name,
      sshAuthorizedKeys: [...(before?.sshAuthorizedKeys ?? []), ...user.sshAuthorizedKeys],
    });
  }
  if (users.size > 0) out.passwd = { users: [...users.values()] };
  return out;
}

/**
 * Validates every Ignition config of decoded user data (its own and each merged one) and returns
 * the validator's findings per config; a test asserts they are all ok.
 */
export async function validateAll(decoded: Decoded): Promise<Validation[]> {
  if (decoded.format !== "ignition") return [];
  return Promise.all(decoded.configs.map((config) => ignitionValidate(config)));
}

/** Every unit text a node gets from decoded user data: by unit name, content and drop-ins. */
export function nodeUnits(
  decoded: Decoded,
): Map<string, { content?: string; dropIns: Map<string, string>; enabled?: boolean; mask?: boolean }> {
  const out = new Map<
    string,
    { content?: string; dropIns: Map<string, string>; enabled?: boolean; mask?: boolean }
  >();
  if (decoded.format === "cloud-config") {
    for (const u of decoded.config.coreos.units) {
      out.set(u.name, {
        ...(u.content !== undefined ? { content: u.content } : {}),
        dropIns: new Map((u.drop_ins ?? []).map((d) => [d.name, d.content])),
        ...(u.enable !== undefined ? { enabled: u.enable } : {}),
        ...(u.mask !== undefined ? { mask: u.mask } : {}),
      });
    }
    return out;
  }
  for (const u of decoded.effective.systemd?.units ?? []) {
    out.set(u.name, {
      ...(u.contents !== undefined ? { content: u.contents } : {}),
      dropIns: new Map((u.dropins ?? []).map((d) => [d.name, d.contents])),
      ...(u.enabled !== undefined ? { enabled: u.enabled } : {}),
      ...(u.mask !== undefined ? { mask: u.mask } : {}),
    });
  }
  return out;
}

/** The SSH keys for user core. */
export function nodeKeys(decoded: Decoded): string[] {
  if (decoded.format === "cloud-config") return decoded.config.ssh_authorized_keys ?? [];
  return decoded.effective.passwd?.users.find((u) => u.name === "core")?.sshAuthorizedKeys ?? [];
}

/** Every text of the user data, merged configs decoded: what must never hold a literal $private_ipv4. */
export function allText(decoded: Decoded): string {
  return decoded.format === "cloud-config"
    ? decoded.text
    : decoded.configs.map((c) => JSON.stringify(c)).join("\n");
}
