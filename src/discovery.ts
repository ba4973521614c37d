import { argumentSpec } from "./definitions.js";
import { InterruptedError, OperationError } from "./errors.js";

/** The public etcd discovery service. It is deprecated and may go away: hence --discovery-service. */
export const DEFAULT_DISCOVERY_SERVICE = "https://discovery.etcd.io";

/** A discovery URL ends in the 32-hex-digit token of one cluster. */
const discoveryUrlPattern = /^https?:\/\/[^\s/]+(\/[^\s]*)?\/[0-9a-f]{32}$/;

/**
 * A discovery URL a service answered: it ends in a token, and it passes the rule that --discovery-url
 * and the template's DiscoveryURL parameter apply (a hostile or broken service cannot slip a quote or
 * a newline into the nodes' etcd unit either).
 */
export function isDiscoveryUrl(text: string): boolean {
  const rule = argumentSpec("create", "discovery_url").pattern;
  return discoveryUrlPattern.test(text) && (rule === undefined || new RegExp(rule).test(text));
}

/** The service to ask: the option, else the config file's discovery_service, else the public one. */
export function discoveryService(option: string | undefined, configured: string | undefined): string {
  return (option ?? configured ?? DEFAULT_DISCOVERY_SERVICE).replace(/\/+$/, "");
}

export interface DiscoveryRequest {
  signal?: AbortSignal;
  /** Per attempt; the default is 10 s. */
  timeout_ms?: number;
}

/**
 * Asks the service for a fresh discovery URL for a cluster of `size` members:
 * GET {service}/new?size=N. The size matters: etcd waits for exactly that many members before the
 * cluster forms (the seed never passed it, so any cluster not of 3 was mis-bootstrapped).
 * One retry covers a dropped connection; anything else is an OperationError naming the service.
 */
export async function newDiscoveryUrl(
  service: string,
  size: number,
  request: DiscoveryRequest = {},
): Promise<string> {
  const url = `${service.replace(/\/+$/, "")}/new?size=${size}`;
  let lastProblem = "";
  for (let attempt = 1; attempt <= 2; attempt++) {
    if (request.signal?.aborted) throw new InterruptedError("interrupted while asking for a discovery URL");
    const answer = await ask(url, request);
    if ("url" in answer) return answer.url;
    lastProblem = answer.problem;
    if (!answer.retry) break;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new OperationError(
    `the etcd discovery service ${service} ${lastProblem}; nothing was created. ` +
      "Use another service with --discovery-service URL, or give a ready URL with --discovery-url",
  );
}

type Answer = { url: string } | { problem: string; retry: boolean };

async function ask(url: string, request: DiscoveryRequest): Promise<Answer> {
  const timeout = AbortSignal.timeout(request.timeout_ms ?? 10_000);
  const signal = request.signal ? AbortSignal.any([request.signal, timeout]) : timeout;
  let response: Response;
  try {
    response = await fetch(url, { signal, headers: { accept: "text/plain" } });
  } catch (error) {
    if (request.signal?.aborted) throw new InterruptedError("interrupted while asking for a discovery URL");
    if (timeout.aborted)
      return { problem: `did not answer within ${(request.timeout_ms ?? 10_000) / 1000} s`, retry: true };
    return { problem: `is unreachable (${networkReason(error)})`, retry: true };
  }
  const body = (await response.text()).trim();
  if (!response.ok) {
    return { problem: `answered HTTP ${response.status}: ${firstLine(body)}`, retry: response.status >= 500 };
  }
  if (!isDiscoveryUrl(body)) {
    return {
      problem: `answered something that is not a discovery URL: ${JSON.stringify(clip(body))}`,
      retry: false,
    };
  }
  return { url: body };
}

/** fetch hides the socket error in `cause`: "fetch failed" alone would tell the user nothing. */
function networkReason(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (error as Error).message ?? String(error);
}

/**
 * An error page in one short line: an HTML page's <title> (or its first line of text), never the
 * whole page.
 */
function firstLine(body: string): string {
  const title = /<title[^>]*>([^<]*)<\/title>/i.exec(body)?.[1];
  const text = (title ?? body.replace(/<[^>]*>/g, "\n"))
    .split("\n")
    .map((line) => line.replace(/\s+/g, " ").trim())
    .find((line) => line !== "");
  if (!text) return "(no message)";
  return text.length > 80 ? `${text.slice(0, 80)}…` : text;
}

function clip(text: string): string {
  return text.length > 120 ? `${text.slice(0, 120)}…` : text;
}
