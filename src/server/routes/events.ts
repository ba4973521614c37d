import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { callerProfile } from "../auth.js";
import { HttpError } from "../http.js";
import { validateQueryValue } from "../schemas.js";
import { isStoreUnavailable } from "../store/errors.js";
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
  /**
   * Streams one profile may hold open at once (default 20), over every replica on the store (each
   * open stream is a row in it): more are refused with 429.
   */
  perProfile: number;
  /** How long an open stream counts without renewal (default 30 s): a dead replica's streams stop counting. */
  countedMs?: number;
  /** This server on the store's stream rows (for people reading the store). */
  owner?: string;
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
  // Sequence numbers are 64-bit in both stores; a number JavaScript cannot hold exactly is refused
  // as junk is (400), never passed to the store.
  const value = /^\d{1,16}$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(value)) {
    const shown = raw.length > 40 ? `${raw.slice(0, 40)}…` : raw;
    throw new HttpError(400, "invalid request", [
      `${name}: ${JSON.stringify(shown)} is not an event sequence number (a whole number from 0 to ${Number.MAX_SAFE_INTEGER})`,
    ]);
  }
  return value;
}

/**
 * Whether the client asked for Server-Sent Events: text/event-stream in Accept with a quality
 * above 0 (RFC 9110 12.5.1: q=0 means "not acceptable"), not outranked by application/json.
 */
export function wantsEventStream(request: FastifyRequest): boolean {
  const accept = request.headers.accept;
  if (typeof accept !== "string") return false;
  let stream = 0;
  let json = 0;
  for (const part of accept.split(",")) {
    const [type = "", ...params] = part.split(";").map((p) => p.trim().toLowerCase());
    const q = params.find((p) => /^q\s*=/.test(p));
    const quality = q === undefined ? 1 : Number(q.replace(/^q\s*=\s*/, ""));
    const weight = Number.isFinite(quality) ? Math.min(1, Math.max(0, quality)) : 0;
    if (type === "text/event-stream") stream = Math.max(stream, weight);
    else if (type === "application/json") json = Math.max(json, weight);
  }
  return stream > 0 && stream >= json;
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
  const countedMs = options.countedMs ?? 30_000;
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

      const opened = await store.openStream(
        profile.id,
        options.owner ?? "server",
        options.perProfile,
        countedMs,
      );
      if ("held" in opened) {
        throw new HttpError(429, "too many event streams", [
          `this profile already follows ${opened.held} event streams (at most ${options.perProfile}); close one`,
        ]);
      }
      // Renewed while the stream is open (a third of the time it counts without renewal).
      const renew = setInterval(
        () => {
          store.renewStream(opened.id, countedMs).catch((error: unknown) => {
            request.log.warn({ error: (error as Error).message }, "could not renew an event stream's count");
          });
        },
        Math.max(50, Math.floor(countedMs / 3)),
      );
      streams += 1;
      options.onStreams?.(streams);
      try {
        await stream(store, cluster.id, after, request, reply, options, closers);
      } finally {
        streams -= 1;
        options.onStreams?.(streams);
        clearInterval(renew);
        await store.closeStream(opened.id).catch((error: unknown) => {
          request.log.warn({ error: (error as Error).message }, "could not record an event stream's end");
        });
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
    "cache-control": "no-store, no-transform",
    "x-content-type-options": "nosniff",
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
      // the events read next are all there are. A store that is down for a moment is waited for
      // (heartbeats go on), not the end of the stream.
      let cluster: ClusterRecord | undefined;
      let events: Awaited<ReturnType<Store["listEvents"]>>;
      try {
        cluster = await store.clusterById(clusterId);
        events = await store.listEvents(clusterId, last);
      } catch (error) {
        if (!isStoreUnavailable(error)) throw error;
        await pauseUnlessWoken(woken, options.wakeMs);
        continue;
      }
      for (const event of events) {
        last = event.seq;
        res.write(`id: ${event.seq}\nevent: progress\ndata: ${JSON.stringify(event)}\n\n`);
      }
      // Online is not the end while a scale or upgrade of the cluster runs (on any replica): its events follow.
      const settled =
        !cluster ||
        (finalStatuses.has(cluster.status) &&
          !(cluster.status === "online" && (await store.latestScale(cluster.id))?.state === "running"));
      if (settled) {
        if (cluster) res.write(`event: end\ndata: ${JSON.stringify(clusterBody(cluster))}\n\n`);
        break;
      }
      await pauseUnlessWoken(woken, options.wakeMs);
    }
  } catch (error) {
    // Always an `end`: a stream closed without one makes EventSource reconnect for ever.
    request.log.error({ error: (error as Error).message }, "event stream failed");
    if (!closed)
      res.write(
        `event: end\ndata: ${JSON.stringify({ error: "the event stream failed", messages: ["the server failed; see its log"] })}\n\n`,
      );
  } finally {
    clearInterval(heartbeat);
    stopListening();
    closers.delete(close);
    res.end();
  }
}

async function pauseUnlessWoken(woken: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([woken, new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}
