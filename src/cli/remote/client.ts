import { OperationError } from "../../errors.js";

/**
 * The pandacluster API server as the CLI's --server mode talks to it: JSON calls with the
 * caller's token, and a cluster's event stream (Server-Sent Events), reconnecting with
 * Last-Event-ID when the connection drops (a replica restarting behind a load balancer).
 */

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    readonly messages: string[],
  ) {
    super(messages[0] ?? error);
  }
}

/** Ctrl-C: the caller stops waiting. */
export class Aborted extends Error {}
export class NetworkError extends OperationError {}

/** One Server-Sent Event. */
export interface StreamEvent {
  id: string | undefined;
  event: string;
  data: string;
}

export class Client {
  constructor(
    readonly base: string,
    private readonly token: string,
    private readonly signal: AbortSignal,
  ) {}

  async #fetch(url: string, init: RequestInit): Promise<Response> {
    try {
      return await fetch(url, { ...init, signal: this.signal });
    } catch (error) {
      if (this.signal.aborted) throw new Aborted();
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      throw new NetworkError(
        `cannot reach the pandacluster server at ${this.base}: ${cause?.code ?? cause?.message ?? (error as Error).message}`,
      );
    }
  }

  async call<T>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<{ status: number; body: T }> {
    const answer = await this.#fetch(new URL(path, this.base).href, {
      method,
      headers: {
        authorization: `Bearer ${this.token}`,
        accept: "application/json",
        ...(body === undefined ? {} : { "content-type": "application/json" }),
        ...headers,
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await answer.text();
    const parsed = this.#json(answer.status, text);
    if (answer.status >= 400) throw apiError(answer.status, parsed);
    return { status: answer.status, body: parsed as T };
  }

  #json(status: number, text: string): unknown {
    try {
      return text ? JSON.parse(text) : undefined;
    } catch {
      throw new OperationError(
        `the server at ${this.base} answered ${status} with something that is not JSON`,
      );
    }
  }

  /**
   * The events of `path` (GET, Accept: text/event-stream) as they come, until the server ends the
   * stream. A dropped connection is opened again after the server's retry delay with the last id
   * seen, up to `attempts` times in a row; "json" when the server answers with JSON (no stream).
   */
  async *stream(path: string, lastId?: string, attempts = 5): AsyncGenerator<StreamEvent | "json"> {
    let failures = 0;
    let retryMs = 1_000;
    for (;;) {
      let answer: Response;
      try {
        answer = await this.#fetch(new URL(path, this.base).href, {
          headers: {
            authorization: `Bearer ${this.token}`,
            accept: "text/event-stream",
            ...(lastId ? { "last-event-id": lastId } : {}),
          },
        });
      } catch (error) {
        if (!(error instanceof NetworkError) || ++failures >= attempts) throw error;
        await sleep(retryMs, this.signal);
        continue;
      }
      if (answer.status >= 400) throw apiError(answer.status, this.#json(answer.status, await answer.text()));
      if (!(answer.headers.get("content-type") ?? "").startsWith("text/event-stream")) {
        await answer.body?.cancel();
        yield "json";
        return;
      }
      let ended = false;
      try {
        for await (const event of frames(answer)) {
          failures = 0;
          if (event.event === "retry") {
            retryMs = Number(event.data) || retryMs;
            continue;
          }
          if (event.id !== undefined) lastId = event.id;
          if (event.event === "end") ended = true;
          yield event;
        }
      } catch (error) {
        if (this.signal.aborted) throw new Aborted();
        if (++failures >= attempts) {
          throw new NetworkError(
            `the event stream of the server at ${this.base} broke off: ${(error as Error).message}`,
          );
        }
      }
      if (ended) return;
      await sleep(retryMs, this.signal);
    }
  }
}

function apiError(status: number, parsed: unknown): ApiError {
  const error = parsed as { error?: string; messages?: string[] } | undefined;
  return new ApiError(status, error?.error ?? `HTTP ${status}`, error?.messages ?? []);
}

/** Parses the text/event-stream body (the WHATWG format: fields, blank line between events). */
async function* frames(answer: Response): AsyncGenerator<StreamEvent> {
  if (!answer.body) return;
  const decoder = new TextDecoder();
  let buffer = "";
  let id: string | undefined;
  let event = "message";
  let data: string[] = [];
  for await (const chunk of answer.body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    let newline = buffer.search(/\r\n|\r|\n/);
    while (newline >= 0) {
      const line = buffer.slice(0, newline);
      buffer = buffer.slice(newline + (buffer.startsWith("\r\n", newline) ? 2 : 1));
      newline = buffer.search(/\r\n|\r|\n/);
      if (line === "") {
        if (data.length > 0) yield { id, event, data: data.join("\n") };
        event = "message";
        data = [];
        continue;
      }
      if (line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (field === "data") data.push(value);
      else if (field === "event") event = value;
      else if (field === "id") id = value;
      else if (field === "retry" && /^\d+$/.test(value)) yield { id, event: "retry", data: value };
    }
  }
}

export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new Aborted());
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(new Aborted());
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
