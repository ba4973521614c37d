/**
 * Shared by the template tests: fixture paths, a local HTTP server standing in for the Flatcar release
 * server (a real server on 127.0.0.1 serving fixture files, reached through the user-facing mirror
 * setting PANDACLUSTER_IMAGE_FEED_BASE), and an evaluator for the intrinsic functions the template's
 * UserData uses, so a test can decode it the way CloudFormation would.
 */
import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { DEFAULT_ETCD_VERSION } from "../../src/template/etcd/version.js";
import type { CfnTemplate } from "../../src/template/types.js";

/** test/fixtures/template/<parts> (tests run from dist/test/template/). */
export const fixture = (...parts: string[]): string =>
  fileURLToPath(new URL(`../../../test/fixtures/template/${parts.join("/")}`, import.meta.url));

/** The repository's own files (units/, doc/), from dist/test/template/. */
export const repoFile = (...parts: string[]): string =>
  fileURLToPath(new URL(`../../../${parts.join("/")}`, import.meta.url));

export interface FeedServer {
  base: string;
  /** Paths requested, in order. */
  requests: string[];
  close(): Promise<void>;
}

/**
 * Serves test/fixtures/template/feed/ like <channel>.release.flatcar-linux.net under
 * /<channel>/<board>/current/…, the layout PANDACLUSTER_IMAGE_FEED_BASE expects of a mirror.
 * `handler` may answer a request itself (return true) to simulate failures, or name another path to
 * serve (a string); `count` is how many times this path has been asked for.
 */
export async function startFeedServer(
  handler?: (req: IncomingMessage, res: ServerResponse, count: number) => boolean | string,
): Promise<FeedServer> {
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    let path = req.url ?? "/";
    requests.push(path);
    const handled = handler?.(req, res, requests.filter((p) => p === path).length);
    if (handled === true) return;
    if (typeof handled === "string") path = handled;
    try {
      const body = readFileSync(fixture("feed", ...path.split("/").filter((p) => p && p !== "..")));
      res.writeHead(200, { "content-type": path.endsWith(".json") ? "application/json" : "text/plain" });
      res.end(body);
    } catch {
      res.writeHead(404);
      res.end("not found");
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A port nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

/**
 * Parameters a test need not give because the template defaults them the same for every build that
 * does not ask otherwise: EtcdVersion (the build's etcd_version, DEFAULT_ETCD_VERSION unless given; a
 * test that builds another version passes EtcdVersion).
 */
const BUILD_DEFAULTS: Readonly<Record<string, string>> = { EtcdVersion: DEFAULT_ETCD_VERSION };

/**
 * Evaluates Ref (to parameters and pseudo parameters), Fn::Join, Fn::Sub (with its `${!…}` escapes),
 * Fn::Base64 and Fn::Select, as CloudFormation does; anything else is returned as it is.
 */
export function evaluate(value: unknown, given: Record<string, string>): Json {
  const params = { ...BUILD_DEFAULTS, ...given };
  if (Array.isArray(value)) return value.map((v) => evaluate(v, params));
  if (typeof value !== "object" || value === null) return value as Json;
  const entries = Object.entries(value);
  if (entries.length === 1) {
    const [fn, arg] = entries[0] as [string, unknown];
    if (fn === "Ref") {
      const resolved = params[arg as string];
      if (resolved === undefined) throw new Error(`test: no value for Ref ${String(arg)}`);
      return resolved;
    }
    if (fn === "Fn::Base64") return Buffer.from(String(evaluate(arg, params)), "utf8").toString("base64");
    if (fn === "Fn::Join") {
      const [sep, list] = arg as [string, unknown[]];
      return list.map((item) => String(evaluate(item, params))).join(sep);
    }
    if (fn === "Fn::Select") {
      const [index, list] = arg as [number, unknown[]];
      return evaluate((evaluate(list, params) as Json[])[index], params);
    }
    if (fn === "Fn::Sub") {
      const [text, vars] = (typeof arg === "string" ? [arg, {}] : arg) as [string, Record<string, unknown>];
      return text.replace(/\$\{(!?)([^}]*)\}/g, (_whole, bang: string, name: string) => {
        if (bang) return `\${${name}}`;
        if (name in vars) return String(evaluate(vars[name], params));
        const resolved = params[name];
        if (resolved === undefined) throw new Error(`test: no value for \${${name}} in Fn::Sub`);
        return resolved;
      });
    }
  }
  return Object.fromEntries(entries.map(([k, v]) => [k, evaluate(v, params)]));
}

/** The user data a node would receive, for the given parameter values. */
export function nodeUserData(template: CfnTemplate, params: Record<string, string>): string {
  const data = template.Resources.LaunchTemplate?.Properties?.LaunchTemplateData as Record<string, unknown>;
  const base64 = evaluate(data.UserData, { "AWS::Region": "us-east-1", "AWS::StackName": "demo", ...params });
  return Buffer.from(String(base64), "base64").toString("utf8");
}

/** The user data's bytes (before base64) a node would receive, for the given parameter values. */
export function nodeUserDataBytes(template: CfnTemplate, params: Record<string, string>): Buffer {
  const data = template.Resources.LaunchTemplate?.Properties?.LaunchTemplateData as Record<string, unknown>;
  const base64 = evaluate(data.UserData, { "AWS::Region": "us-east-1", "AWS::StackName": "demo", ...params });
  return Buffer.from(String(base64), "base64");
}

export const DISCOVERY = "https://discovery.etcd.io/0123456789abcdef0123456789abcdef";
export const KEYS = [
  "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKeyForTestsOnly0000000000000000000000 alice@laptop",
  "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQCfake== bob@desk",
];
