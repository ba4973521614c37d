import { UsageError } from "../errors.js";
import { thousands, USER_DATA_LIMIT } from "./boot.js";

/** One launch template's user data as EC2 will get it (bytes before base64). */
export interface SentUserData {
  /** The launch template's logical id (LaunchTemplate, WorkerLaunchTemplate, …). */
  launch_template: string;
  /** null: the template computes it in a way this tool cannot follow (then AWS is the judge). */
  bytes: number | null;
  limit: number;
}

type Json = unknown;

/**
 * Measures the UserData of every AWS::EC2::LaunchTemplate of a template with the parameter values
 * given (those CreateStack sends; the template's defaults for the rest), resolving what
 * CloudFormation resolves: Fn::Base64, Fn::Join, Ref, Fn::Sub with parameters. This is the size EC2
 * counts, whatever stand-ins the boot config was measured with when it was built.
 */
export function measureUserData(template: Json, values: Record<string, string>): SentUserData[] {
  const t = (template ?? {}) as {
    Parameters?: Record<string, { Default?: unknown }>;
    Resources?: Record<string, { Type?: string; Properties?: { LaunchTemplateData?: { UserData?: Json } } }>;
  };
  const params: Record<string, string> = {};
  for (const [name, p] of Object.entries(t.Parameters ?? {}))
    if (p && p.Default !== undefined) params[name] = String(p.Default);
  Object.assign(params, values);
  const sizes: SentUserData[] = [];
  for (const [id, resource] of Object.entries(t.Resources ?? {})) {
    if (resource?.Type !== "AWS::EC2::LaunchTemplate") continue;
    const data = resource.Properties?.LaunchTemplateData?.UserData;
    if (data === undefined) continue;
    sizes.push({ launch_template: id, bytes: userDataBytes(data, params), limit: USER_DATA_LIMIT });
  }
  return sizes.sort((a, b) => logicalIdOrder(a.launch_template, b.launch_template));
}

const ALPHANUMERIC = /^[A-Za-z0-9]*$/;

/**
 * The order localeCompare gives logical ids, without localeCompare: its first call loads ICU's
 * collation data, about 10 ms of a build-template run (issue 18). For letters and digits (all that
 * CloudFormation allows in a logical id) that order is: case-insensitive first, then at the first
 * letter that differs only in case, lower case first. Any other id falls back to localeCompare.
 */
export function logicalIdOrder(a: string, b: string): number {
  if (!ALPHANUMERIC.test(a) || !ALPHANUMERIC.test(b)) return a.localeCompare(b);
  const lowerA = a.toLowerCase();
  const lowerB = b.toLowerCase();
  if (lowerA !== lowerB) return lowerA < lowerB ? -1 : 1;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] === lowerA[i] ? -1 : 1;
  return 0;
}

/** A UsageError when any launch template's user data is over EC2's limit, naming each. */
export function checkUserData(sizes: SentUserData[], what: string): void {
  const over = sizes.filter((s) => s.bytes !== null && s.bytes > s.limit);
  if (over.length === 0) return;
  const n = thousands;
  throw new UsageError(
    over.map((s) => ({
      argument: "user data",
      message:
        `launch template ${s.launch_template}: ${n(s.bytes as number)} bytes ${what}; EC2 accepts at most ` +
        `${n(s.limit)} bytes of user data (${n((s.bytes as number) - s.limit)} over): put fewer or smaller ` +
        "units on the nodes, or use shorter names",
    })),
  );
}

/** "LaunchTemplate 12,345, WorkerLaunchTemplate 12,400 of 16,384 bytes". */
export function userDataSummary(sizes: SentUserData[]): string {
  const n = thousands;
  const each = sizes.map((s) => `${s.launch_template} ${s.bytes === null ? "unknown" : n(s.bytes)}`);
  return `${each.join(", ")} of ${n(USER_DATA_LIMIT)} bytes`;
}

function userDataBytes(value: Json, params: Record<string, string>): number | null {
  if (typeof value === "string") return Buffer.from(value, "base64").length;
  if (value && typeof value === "object" && "Fn::Base64" in value) {
    const text = resolved((value as { "Fn::Base64": Json })["Fn::Base64"], params);
    return text === null ? null : Buffer.byteLength(text);
  }
  return null;
}

/** The string CloudFormation makes of a value, or null when it depends on something else. */
function resolved(value: Json, params: Record<string, string>): string | null {
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (!value || typeof value !== "object" || Array.isArray(value)) return null;
  const [key, arg] = Object.entries(value)[0] ?? [];
  if (key === "Ref" && typeof arg === "string") return params[arg] ?? null;
  if (key === "Fn::Join" && Array.isArray(arg) && typeof arg[0] === "string" && Array.isArray(arg[1])) {
    const parts = (arg[1] as Json[]).map((part) => resolved(part, params));
    return parts.includes(null) ? null : parts.join(arg[0]);
  }
  if (key === "Fn::Sub") {
    const [text, vars] = Array.isArray(arg) ? [arg[0], arg[1] ?? {}] : [arg, {}];
    if (typeof text !== "string" || typeof vars !== "object") return null;
    const local: Record<string, string | null> = {};
    for (const [name, v] of Object.entries(vars as Record<string, Json>)) local[name] = resolved(v, params);
    let unknown = false;
    const out = text.replace(/\$\{(!?)([^}]*)\}/g, (whole, bang: string, name: string) => {
      if (bang) return `\${${name}}`;
      const v = name in local ? local[name] : params[name];
      if (v === null || v === undefined) unknown = true;
      return v ?? whole;
    });
    return unknown ? null : out;
  }
  return null;
}
