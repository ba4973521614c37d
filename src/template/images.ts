import { readCsonFile } from "../cson.js";
import { OperationError } from "../errors.js";
import type { Arch, Channel } from "../options.js";
import { packagePath } from "../paths.js";

/** Where a channel's images for one architecture are published (src/templates.cson). */
export interface FeedUrls {
  amis: string;
  version: string;
}

/** The environment variable naming a mirror of the Flatcar release servers. */
export const FEED_BASE_VARIABLE = "PANDACLUSTER_IMAGE_FEED_BASE";

const REGION = /^[a-z]{2}(-[a-z]+)+-\d+$/;
const AMI = /^ami-[0-9a-f]{8,17}$/;
const DEFAULT_TIMEOUT_MS = 4000;

let feeds: Record<string, Record<string, FeedUrls>> | undefined;

/**
 * The feed URLs of a channel and architecture, from src/templates.cson, rewritten to the mirror that
 * PANDACLUSTER_IMAGE_FEED_BASE names when it is set (<base>/<channel>/<board>/current/…).
 */
export function feedUrls(channel: Channel, arch: Arch, env: NodeJS.ProcessEnv = process.env): FeedUrls {
  if (!feeds) {
    const path = packagePath("src", "templates.cson");
    feeds = readCsonFile(path, { publicText: true }) as Record<string, Record<string, FeedUrls>>;
  }
  const urls = feeds[channel]?.[arch];
  if (!urls) throw new OperationError(`src/templates.cson has no image feed for ${channel} ${arch}`);
  const base = env[FEED_BASE_VARIABLE]?.trim().replace(/\/+$/, "");
  if (!base) return { ...urls };
  const mirror = (url: string) => `${base}/${channel}${new URL(url).pathname}`;
  return { amis: mirror(urls.amis), version: mirror(urls.version) };
}

export interface FetchOptions {
  /** Time allowed for each attempt (there are two); default 4 s. */
  timeoutMs?: number;
  fetchImpl?: typeof fetch;
  env?: NodeJS.ProcessEnv;
}

/**
 * Fetches the channel's current AMIs (region → HVM AMI id) and, when it can, the release's version.
 * Each request gets a few seconds and one retry. A missing or broken AMI list is an OperationError
 * saying which URL and why; a missing version file only leaves the version out.
 */
export async function fetchImageFeed(
  channel: Channel,
  arch: Arch,
  opts: FetchOptions = {},
): Promise<{ version?: string; amis: Record<string, string> }> {
  const urls = feedUrls(channel, arch, opts.env);
  const get = (url: string) => fetchText(url, opts.timeoutMs ?? DEFAULT_TIMEOUT_MS, opts.fetchImpl ?? fetch);
  const [amisText, versionText] = await Promise.allSettled([get(urls.amis), get(urls.version)]);
  if (amisText.status === "rejected") {
    const why = (amisText.reason as Error).message;
    throw new OperationError(`cannot fetch the Flatcar image feed ${urls.amis}: ${why}`, [why]);
  }
  const amis = parseAmiFeed(amisText.value, urls.amis);
  const version = versionText.status === "fulfilled" ? parseVersion(versionText.value) : undefined;
  return version ? { version, amis } : { amis };
}

/** Reads a feed tolerantly: entries need a region name and an HVM AMI id; anything else is skipped. */
export function parseAmiFeed(text: string, url: string): Record<string, string> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new OperationError(`the Flatcar image feed ${url} is not JSON`);
  }
  const list = (parsed as { amis?: unknown } | null)?.amis;
  if (!Array.isArray(list)) throw new OperationError(`the Flatcar image feed ${url} has no "amis" list`);
  const amis: Record<string, string> = {};
  for (const entry of list) {
    if (typeof entry !== "object" || entry === null) continue;
    const { name, hvm } = entry as { name?: unknown; hvm?: unknown };
    if (typeof name === "string" && REGION.test(name) && typeof hvm === "string" && AMI.test(hvm)) {
      amis[name] = hvm;
    }
  }
  if (Object.keys(amis).length === 0) {
    throw new OperationError(`the Flatcar image feed ${url} lists no HVM images`);
  }
  return amis;
}

/** FLATCAR_VERSION=4081.2.0 → "4081.2.0". */
export function parseVersion(text: string): string | undefined {
  const match = /^FLATCAR_VERSION=([0-9A-Za-z.+_-]+)\s*$/m.exec(text);
  return match?.[1];
}

async function fetchText(url: string, timeoutMs: number, fetchImpl: typeof fetch): Promise<string> {
  let lastError: Error = new Error("not fetched");
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const response = await fetchImpl(url, { signal: AbortSignal.timeout(timeoutMs) });
      if (response.ok) return await response.text();
      lastError = new Error(`HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ""}`);
      // A client error will not change on a retry.
      if (response.status >= 400 && response.status < 500 && response.status !== 429) break;
    } catch (error) {
      lastError = describeFetchError(error, timeoutMs);
    }
  }
  throw lastError;
}

function describeFetchError(error: unknown, timeoutMs: number): Error {
  const err = error as Error & { cause?: { code?: string; message?: string } };
  if (err.name === "TimeoutError" || err.name === "AbortError") {
    return new Error(`no answer within ${timeoutMs / 1000} s`);
  }
  const cause = err.cause?.code ?? err.cause?.message;
  return new Error(cause ? `${err.message} (${cause})` : err.message);
}

/** The template's Mappings.RegionMap: {region: {hvm: ami}}, optionally for one region only. */
export function regionMap(
  amis: Record<string, string>,
  region?: string,
): Record<string, Record<string, string>> | undefined {
  const regions = Object.keys(amis)
    .filter((name) => !region || name === region)
    .sort();
  if (regions.length === 0) return undefined;
  return Object.fromEntries(regions.map((name) => [name, { hvm: amis[name] as string }]));
}
