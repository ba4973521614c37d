import type { ClusterResult, ProgressEvent, StatusResult } from "../../lifecycle/types.js";
import { type Client, sleep } from "./client.js";

/** A cluster as the server shows it (GET /clusters/{name}, and the event stream's end event). */
export interface ServerCluster {
  stack_name: string;
  region: string;
  status: "creating" | "online" | "failed" | "deleting" | "deleted";
  cluster_size: number;
  result: ClusterResult | null;
  reasons: string[];
  created_at: string;
  updated_at: string;
  live?: StatusResult | null;
  live_error?: string;
}

/** A progress event as the server stores it; `final` marks the server's own closing line. */
export interface StoredEvent extends ProgressEvent {
  seq: number;
  final?: boolean;
}

export interface FollowOptions {
  /** Shown events: each one as it comes. */
  onEvent(event: StoredEvent): void;
  /** Which events to show (a deletion shows its own, not the create's history). */
  shown(event: StoredEvent): boolean;
  /** Interval of the polling fallback (a server that does not stream events), ms. */
  pollMs: number;
  signal: AbortSignal;
}

/**
 * Follows a cluster's job until the cluster is online, failed or deleted: through the server's
 * event stream (Server-Sent Events, resumed with Last-Event-ID if the connection drops), or by
 * polling a server that answers the events route with JSON only. Returns the cluster as it ended.
 */
export async function follow(
  client: Client,
  name: string,
  region: string,
  options: FollowOptions,
): Promise<ServerCluster> {
  const query = `?${new URLSearchParams({ region })}`;
  const path = `clusters/${encodeURIComponent(name)}`;
  let last = 0;
  const take = (event: StoredEvent) => {
    last = Math.max(last, event.seq);
    if (options.shown(event)) options.onEvent(event);
  };
  for await (const event of client.stream(`${path}/events${query}`)) {
    if (event === "json") return poll(client, path, region, last, take, options);
    if (event.event === "progress") take(JSON.parse(event.data) as StoredEvent);
    if (event.event === "end") return JSON.parse(event.data) as ServerCluster;
  }
  // The stream ended without its end event: ask for the cluster itself.
  return (await client.call<ServerCluster>("GET", `${path}${query}`)).body;
}

const final = new Set(["online", "failed", "deleted"]);

async function poll(
  client: Client,
  path: string,
  region: string,
  after: number,
  take: (event: StoredEvent) => void,
  options: FollowOptions,
): Promise<ServerCluster> {
  let last = after;
  for (;;) {
    const { body: cluster } = await client.call<ServerCluster>(
      "GET",
      `${path}?${new URLSearchParams({ region })}`,
    );
    // Events are stored before the status changes: after a final status, all are there.
    const { body: events } = await client.call<StoredEvent[]>(
      "GET",
      `${path}/events?${new URLSearchParams({ region, after: String(last) })}`,
    );
    for (const event of events) {
      last = Math.max(last, event.seq);
      take(event);
    }
    if (final.has(cluster.status)) return cluster;
    await sleep(options.pollMs, options.signal);
  }
}
