import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { callerProfile } from "../auth.js";
import { HttpError } from "../http.js";
import { validateQueryValue } from "../schemas.js";
import type { ClusterRecord, ClusterStatus, Store } from "../store/types.js";
import type { ServerParts } from "./types.js";

/**
 * GET /clusters/{name}/events: the cluster's progress events, oldest first, as JSON; or, when the
 * client sends Accept: text/event-stream, as Server-Sent Events that keep coming until the cluster
 * reaches a final state:
 *
 *   id: 42                      the event's sequence number (Last-Event-ID resumes after it)
 *   event: progress
 *   data: {"seq":42,"step":"formation","message":"stack CREATE_COMPLETE",...}
 *
 *   event: end                  once the cluster is online, failed or deleted: the cluster, then
 *   data: {"stack_name":...,"status":"online",...}     the stream closes
 *
 * plus a comment line every heartbeat (proxies and clients keep the connection). A stream wakes
 * when the store announces a change of its cluster (on PostgreSQL, written by any replica: NOTIFY),
 * and re-reads at least every `wakeMs` in case an announcement was missed.
 */

export interface EventStreamOptions {
  /** A comment line this often, ms (default 15 s). */
  heartbeatMs: number;
  /** Re-read the events at least this often without an announcement, ms (default 2 s). */
  wakeMs: number;
  /** Streams one profile may hold open at once (default 20): more are refused with 429. */
  perProfile: number;
  /** Told the number of streams open on this server whenever it changes (the server's metrics). */
  onStreams?: (open: number) => void;
}

const finalStatuses: ReadonlySet<ClusterStatus> = new Set(["online", "failed", "deleted"]);

interface NameParams {
  stack_name: string;
}

/** `after` (query) or Last-Event-ID (header, which wins): events after that sequence number. */
function resumeAfter(request: FastifyRequest<{ Querystring: { after?: string } }>): number {
  const header = request.headers["last-event-id"];
  const [raw, name] =
    typeof header === "string" && header !== "" ? [header, "Last-Event-ID"] : [request.query.after, "after"];
  if (raw === undefined) return 0;
  if (!/^\d{1,15}$/.test(raw)) {
    throw new HttpError(400, "invalid request", [`${name}: ${JSON.stringify(raw)} is not an integer`]);
  }
  return Number(raw);
}

export function wantsEventStream(request: FastifyRequest): boolean {
  const accept = request.headers.accept;
  return typeof accept === "string" && /(^|,)\s*text\/event-stream\s*(;|,|$)/i.test(accept);
}

/** The cluster as GET /clusters/{name} shows it. */
function clusterBody(cluster: ClusterRecord): Record<string, unknown> {
  return {
    stack_name: cluster.stack_name,
    region: cluster.region,
    status: cluster.status,
    cluster_size: cluster.cluster_size,
    result: cluster.result,
    reasons: cluster.reasons,
    created_at: cluster.created_at,
    updated_at: cluster.updated_at,
  };
}

export function eventRoutes(app: FastifyInstance, parts: ServerParts, options: EventStreamOptions): void {
  const { store } = parts;
  const open = new Map<number, number>();
  const closers = new Set<() => void>();
  let streams = 0;
  // The server stops: every stream ends (a client resumes from its Last-Event-ID elsewhere).
  app.addHook("preClose", async () => {
    for (const close of closers) close();
  });

  app.get<{ Params: NameParams; Querystring: { region?: string; after?: string } }>(
    "/clusters/:stack_name/events",
    { config: { access: "profile" } },
    async (request, reply) => {
      const profile = callerProfile(request);
      const { stack_name } = request.params;
      const region = validateQueryValue("status", "region", request.query.region);
      const after = resumeAfter(request);
      const cluster = await store.clusterByName(profile.id, stack_name, region);
      if (!cluster) throw new HttpError(404, "not found", [`no cluster named ${stack_name}`]);
      if (!wantsEventStream(request)) return reply.send(await store.listEvents(cluster.id, after));

      const held = open.get(profile.id) ?? 0;
      if (held >= options.perProfile) {
        throw new HttpError(429, "too many event streams", [
          `this profile already follows ${held} event streams (at most ${options.perProfile}); close one`,
        ]);
      }
      open.set(profile.id, held + 1);
      streams += 1;
      options.onStreams?.(streams);
      try {
        await stream(store, cluster.id, after, request, reply, options, closers);
      } finally {
        const left = (open.get(profile.id) ?? 1) - 1;
        if (left > 0) open.set(profile.id, left);
        else open.delete(profile.id);
        streams -= 1;
        options.onStreams?.(streams);
      }
    },
  );
}

async function stream(
  store: Store,
  clusterId: number,
  after: number,
  request: FastifyRequest,
  reply: FastifyReply,
  options: EventStreamOptions,
  closers: Set<() => void>,
): Promise<void> {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache, no-transform",
    connection: "keep-alive",
    "x-accel-buffering": "no",
  });
  // A client that lost the connection asks again after a second (EventSource's own retry).
  res.write("retry: 1000\n\n");

  let closed = false;
  let wake: () => void = () => {};
  const close = () => {
    closed = true;
    wake();
  };
  closers.add(close);
  request.raw.once("close", close);
  res.once("close", close);
  const stopListening = store.onClusterChange((id) => {
    if (id === clusterId || id === 0) wake();
  });
  const heartbeat = setInterval(() => {
    if (!closed) res.write(": heartbeat\n\n");
  }, options.heartbeatMs);
  let last = after;
  try {
    while (!closed) {
      // Set before reading, so that a change announced while this reads is not lost.
      const woken = new Promise<void>((resolve) => {
        wake = resolve;
      });
      // The state first: events are stored before the state they lead to, so after a final state
      // the events read next are all there are.
      const cluster = await store.clusterById(clusterId);
      for (const event of await store.listEvents(clusterId, last)) {
        last = event.seq;
        res.write(`id: ${event.seq}\nevent: progress\ndata: ${JSON.stringify(event)}\n\n`);
      }
      if (!cluster || finalStatuses.has(cluster.status)) {
        if (cluster) res.write(`event: end\ndata: ${JSON.stringify(clusterBody(cluster))}\n\n`);
        break;
      }
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([woken, new Promise((resolve) => (timer = setTimeout(resolve, options.wakeMs)))]);
      clearTimeout(timer);
    }
  } catch (error) {
    request.log.error({ error: (error as Error).message }, "event stream failed");
  } finally {
    clearInterval(heartbeat);
    stopListening();
    closers.delete(close);
    res.end();
  }
}
