/**
 * The API as the page uses it: the token lives in sessionStorage only (never a URL, never a
 * cookie), goes out as Authorization: Bearer, and Sign out removes it.
 */

import { sleep } from "./dom.js";

const TOKEN = "pandacluster.token";
const KIND = "pandacluster.kind";

export const session = {
  /** @returns {string | null} */
  get token() {
    return sessionStorage.getItem(TOKEN);
  },
  /** "admin" or "profile" (what the token turned out to be at sign-in). */
  get kind() {
    return sessionStorage.getItem(KIND);
  },
  /** @param {string} token @param {string} kind */
  set(token, kind) {
    sessionStorage.setItem(TOKEN, token);
    sessionStorage.setItem(KIND, kind);
  },
  forget() {
    sessionStorage.removeItem(TOKEN);
    sessionStorage.removeItem(KIND);
  },
};

/** An answer other than 2xx, with the API's messages and their fields. */
export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {{error?: string, messages?: string[], problems?: {field: string | null, message: string}[]}} body
   */
  constructor(status, body) {
    const messages = Array.isArray(body?.messages) ? body.messages.map(String) : [];
    super(
      messages.length > 0 ? `${body.error ?? status}: ${messages.join("; ")}` : String(body?.error ?? status),
    );
    this.status = status;
    this.messages = messages;
    /** @type {{field: string | null, message: string}[]} */
    this.problems = Array.isArray(body?.problems)
      ? body.problems
      : messages.map((message) => ({ field: null, message }));
  }
}

/** Called when the token stops being valid (a deleted profile): the app signs out. */
let onUnauthorized = () => {};
/** @param {() => void} handler */
export function whenUnauthorized(handler) {
  onUnauthorized = handler;
}

/**
 * @param {string} method
 * @param {string} path
 * @param {{body?: unknown, token?: string, headers?: Record<string, string>, signal?: AbortSignal}} [options]
 * @returns {Promise<any>}
 */
export async function api(method, path, options = {}) {
  const token = options.token ?? session.token;
  /** @type {Record<string, string>} */
  const headers = { accept: "application/json", ...options.headers };
  if (token) headers.authorization = `Bearer ${token}`;
  if (options.body !== undefined) headers["content-type"] = "application/json";
  const answer = await fetch(path, {
    method,
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
    cache: "no-store",
    credentials: "omit",
    signal: options.signal,
  });
  const text = await answer.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = { error: `${answer.status} ${answer.statusText}`, messages: [text.slice(0, 200)] };
  }
  if (!answer.ok) {
    if (answer.status === 401 && !options.token) onUnauthorized();
    throw new ApiError(answer.status, body);
  }
  return body;
}

/** Which kind of token this is: "admin", "profile", or null when the server does not know it. */
export async function tokenKind(/** @type {string} */ token) {
  try {
    await api("GET", "/profiles", { token });
    return "admin";
  } catch (error) {
    if (error instanceof ApiError && error.status === 403) return "profile";
    if (error instanceof ApiError && error.status === 401) return null;
    throw error;
  }
}

/** The create request's fields: the server's own schema, generated from the argument definitions. */
/** @type {any} */
let createSchema;
export async function createFields() {
  if (!createSchema) {
    const document = await api("GET", "/");
    createSchema = document.components.schemas.CreateClusterRequest;
  }
  return createSchema;
}

/**
 * @param {string} name
 * @param {string} [region]
 */
export function clusterPath(name, region) {
  const path = `/clusters/${encodeURIComponent(name)}`;
  return region ? `${path}?region=${encodeURIComponent(region)}` : path;
}

/**
 * Follows a cluster's events. Server-Sent Events when the server offers them on the events route
 * (Accept: text/event-stream; read through fetch, since EventSource cannot send the token in a
 * header), else polling the JSON list with ?after=. Calls onEvent once per event (by seq),
 * onEnd(cluster) when a stream says the cluster reached a final state, and onMode("stream" |
 * "polling") when it knows which. While active() is false (the cluster is online, failed or
 * deleted) it asks nothing; it goes on once the cluster moves again (a delete). Stops when the
 * signal aborts.
 * @param {string} name
 * @param {string} region
 * @param {{onEvent: (event: any) => void, onEnd: (cluster: any) => void, onMode: (mode: string) => void,
 *   active: () => boolean, signal: AbortSignal, pollMs?: number}} options
 */
export async function followEvents(name, region, { onEvent, onEnd, onMode, active, signal, pollMs = 2000 }) {
  let after = 0;
  const seen = (/** @type {any} */ event) => {
    const seq = Number(event?.seq);
    if (Number.isFinite(seq)) {
      if (seq <= after) return;
      after = seq;
    }
    onEvent(event);
  };
  const url = () =>
    `/clusters/${encodeURIComponent(name)}/events?region=${encodeURIComponent(region)}${after ? `&after=${after}` : ""}`;
  let streaming = true;
  // One more round after the cluster settles, for the events stored just before its final state.
  let oneMore = true;
  while (!signal.aborted) {
    const moving = active();
    if (!moving && !oneMore) {
      await sleep(pollMs, signal);
      continue;
    }
    oneMore = moving;
    try {
      if (streaming) {
        const answer = await fetch(url(), {
          headers: { accept: "text/event-stream", authorization: `Bearer ${session.token}` },
          cache: "no-store",
          credentials: "omit",
          signal,
        });
        if (answer.status === 429) {
          // Too many streams open for this profile: this page polls instead.
          streaming = false;
          onMode("polling");
          continue;
        }
        if (!answer.ok) {
          if (answer.status === 401) onUnauthorized();
          throw new ApiError(answer.status, await answer.json().catch(() => ({})));
        }
        if ((answer.headers.get("content-type") ?? "").startsWith("text/event-stream") && answer.body) {
          onMode("stream");
          await readEventStream(answer.body, seen, onEnd);
          // The server closed the stream (a final state, or it stopped): go on after the last seq.
          await sleep(1000, signal);
          continue;
        }
        // No stream on this server: the JSON list it answered is the first batch; poll from here.
        streaming = false;
        onMode("polling");
        for (const event of await answer.json()) seen(event);
      } else {
        for (const event of await api("GET", url(), { signal })) seen(event);
      }
    } catch (error) {
      if (signal.aborted) return;
      if (error instanceof ApiError && error.status === 404) return;
    }
    await sleep(pollMs, signal);
  }
}

/**
 * Reads text/event-stream: blocks separated by a blank line, `data:` lines joined, `event:` the
 * type. "progress" (or no type) carries one event as JSON, "end" the cluster in its final state.
 * Comments (": heartbeat"), `id:`/`retry:` and unknown types are skipped.
 * @param {ReadableStream<any>} body
 * @param {(event: any) => void} seen
 * @param {(cluster: any) => void} onEnd
 */
async function readEventStream(body, seen, onEnd) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    const blocks = buffer.split(/\r?\n\r?\n/);
    buffer = blocks.pop() ?? "";
    for (const block of blocks) {
      let type = "message";
      const data = [];
      for (const line of block.split(/\r?\n/)) {
        if (line.startsWith("event:")) type = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
      }
      if (data.length === 0) continue;
      let parsed;
      try {
        parsed = JSON.parse(data.join("\n"));
      } catch {
        continue; // not JSON: nothing this page knows how to show
      }
      if (type === "end") onEnd(parsed);
      else if (type === "progress" || type === "message") seen(parsed);
    }
  }
}
