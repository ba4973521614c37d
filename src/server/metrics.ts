import Fastify, { type FastifyInstance, type onResponseHookHandler } from "fastify";
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { onAwsCall } from "../aws/observe.js";
import type { AuditStore } from "./store/audit.js";

/**
 * Prometheus metrics (prom-client, text exposition format): GET /metrics behind the admin token,
 * and with `serve --metrics-port N` on a listener of its own bound to 127.0.0.1 (for a scraper on
 * the host, no token). What is fleet-wide — clusters by status, jobs by kind and state — is read
 * from the store at each scrape, so every replica on one PostgreSQL database reports the same
 * numbers; what is per process (AWS calls, HTTP requests, event streams, cycles) is this server's.
 */

const latencyBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const awsBuckets = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const cycleBuckets = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

/** One label set of a histogram. */
export interface Series {
  observe(seconds: number): void;
}

/**
 * A histogram for the hot path (every HTTP request): prom-client's Histogram hashes its label
 * object on each observe(); here each label set is looked up once and then counted in place. It
 * exposes itself to the registry as prom-client's own metrics do (get(): name, help, type and the
 * cumulative _bucket, _sum and _count samples), so the text format is prom-client's.
 */
class RequestHistogram {
  readonly type = "histogram";
  readonly aggregator = "sum";
  readonly #all = new Map<
    string,
    { labels: Record<string, string>; counts: number[]; sum: number; count: number }
  >();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly buckets: number[],
  ) {}

  series(route: string, method: string, status: number): Series {
    const key = `${method} ${status} ${route}`;
    let entry = this.#all.get(key);
    if (!entry) {
      entry = {
        labels: { route, method, status: String(status) },
        counts: this.buckets.map(() => 0),
        sum: 0,
        count: 0,
      };
      this.#all.set(key, entry);
    }
    const one = entry;
    const bounds = this.buckets;
    return {
      observe(seconds: number) {
        one.sum += seconds;
        one.count += 1;
        for (let i = 0; i < bounds.length; i++) {
          if (seconds <= (bounds[i] as number)) {
            one.counts[i] = (one.counts[i] as number) + 1;
            break;
          }
        }
      },
    };
  }

  async get() {
    // Shaped as prom-client's Histogram shapes its samples (le first, then the series' labels).
    type Sample = {
      labels: Record<string, string | number>;
      sharedLabels?: Record<string, string>;
      value: number;
      metricName: string;
    };
    const values: Sample[] = [];
    const bucket = `${this.name}_bucket`;
    for (const { labels, counts, sum, count } of this.#all.values()) {
      let cumulative = 0;
      this.buckets.forEach((le, i) => {
        cumulative += counts[i] as number;
        values.push({ labels: { le }, sharedLabels: labels, value: cumulative, metricName: bucket });
      });
      values.push({ labels: { le: "+Inf" }, sharedLabels: labels, value: count, metricName: bucket });
      values.push({ labels, value: sum, metricName: `${this.name}_sum` });
      values.push({ labels, value: count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  reset(): void {
    this.#all.clear();
  }
}

export interface Metrics {
  readonly registry: Registry;
  /** GET /metrics's body: the store's counts read now, then every metric. */
  scrape(): Promise<string>;
  readonly contentType: string;
  /** For the poller and the reconciler (their cycleObserver). */
  pollCycle(seconds: number): void;
  reconcileCycle(seconds: number): void;
  /** One HTTP request answered. */
  http(route: string, method: string, status: number, seconds: number): void;
  /** The series of one route, method and status, to observe without looking it up again. */
  httpSeries(route: string, method: string, status: number): Series;
  /** For the event routes (EventStreamOptions.onStreams). */
  eventStreams(open: number): void;
  close(): Promise<void>;
}

export function createMetrics(store: Pick<AuditStore, "counts">): Metrics {
  const registry = new Registry();
  const awsRequests = new Counter({
    name: "pandacluster_aws_requests_total",
    help: "AWS API calls made by this server (after the SDK's retries), by service, operation and outcome",
    labelNames: ["service", "operation", "outcome"] as const,
    registers: [registry],
  });
  const awsSeconds = new Histogram({
    name: "pandacluster_aws_request_seconds",
    help: "Duration of AWS API calls made by this server, retries included",
    labelNames: ["service", "operation"] as const,
    buckets: awsBuckets,
    registers: [registry],
  });
  const jobs = new Gauge({
    name: "pandacluster_jobs",
    help: "Jobs in the store (every replica's), by kind (create, destroy, scale) and state (a create or destroy job's phase, done when finished; a scale's running, succeeded or failed)",
    labelNames: ["kind", "state"] as const,
    registers: [registry],
  });
  const clusters = new Gauge({
    name: "pandacluster_clusters",
    help: "Clusters in the store (every replica's), by status",
    labelNames: ["status"] as const,
    registers: [registry],
  });
  const httpSeconds = new RequestHistogram(
    "pandacluster_http_request_seconds",
    "Duration of HTTP requests this server answered, by route pattern, method and status code",
    latencyBuckets,
  );
  registry.registerMetric(httpSeconds as unknown as Histogram);
  const streams = new Gauge({
    name: "pandacluster_event_streams",
    help: "Server-Sent Event streams open on this server",
    registers: [registry],
  });
  const pollCycles = new Histogram({
    name: "pandacluster_poll_cycle_seconds",
    help: "Duration of the stack status poller's cycles on this server",
    buckets: cycleBuckets,
    registers: [registry],
  });
  const reconcileCycles = new Histogram({
    name: "pandacluster_reconcile_cycle_seconds",
    help: "Duration of the DNS reconciler's cycles on this server",
    buckets: cycleBuckets,
    registers: [registry],
  });
  streams.set(0);

  const stop = onAwsCall((call) => {
    awsRequests.inc({ service: call.service, operation: call.operation, outcome: call.outcome });
    awsSeconds.observe({ service: call.service, operation: call.operation }, call.seconds);
  });

  return {
    registry,
    contentType: registry.contentType,
    async scrape() {
      const counts = await store.counts();
      clusters.reset();
      for (const row of counts.clusters) clusters.set({ status: row.status }, Number(row.n));
      jobs.reset();
      for (const row of counts.jobs) jobs.set({ kind: row.kind, state: row.phase }, Number(row.n));
      return registry.metrics();
    },
    http: (route, method, status, seconds) => httpSeconds.series(route, method, status).observe(seconds),
    httpSeries: (route, method, status) => httpSeconds.series(route, method, status),
    pollCycle: (seconds) => pollCycles.observe(seconds),
    reconcileCycle: (seconds) => reconcileCycles.observe(seconds),
    eventStreams: (open) => streams.set(open),
    async close() {
      stop();
    },
  };
}

/**
 * Times every request (the route's pattern, never its path: bounded label values) and adds
 * GET /metrics behind the admin token. Call before the routes are added.
 */
export function registerMetrics(app: FastifyInstance, metrics: Metrics): void {
  // A route-level hook per route, with the route's pattern in hand (request.routeOptions builds
  // an object on each read) and its series kept by method and status (no label hashing per
  // request). A path that matches no route is not timed: unbounded paths make no label values.
  app.addHook("onRoute", (route) => {
    const url = route.url;
    const series = new Map<string, Series>();
    const hook: onResponseHookHandler = (request, reply, done) => {
      const key = `${request.method} ${reply.statusCode}`;
      let one = series.get(key);
      if (!one) {
        one = metrics.httpSeries(url, request.method, reply.statusCode);
        series.set(key, one);
      }
      one.observe(reply.elapsedTime / 1000);
      done();
    };
    route.onResponse = [...[route.onResponse ?? []].flat(), hook];
  });
  app.get("/metrics", { config: { access: "admin" } }, async (_request, reply) => {
    return reply.type(metrics.contentType).send(await metrics.scrape());
  });
}

/**
 * `serve --metrics-port N`: the same metrics, without a token, on 127.0.0.1 only (a scraper on the
 * host; nothing else is served there). Returns the listener, to close with the server.
 */
export async function listenMetrics(metrics: Metrics, port: number): Promise<FastifyInstance> {
  const app = Fastify({ logger: false });
  app.get("/metrics", async (_request, reply) =>
    reply.type(metrics.contentType).send(await metrics.scrape()),
  );
  await app.listen({ host: "127.0.0.1", port });
  return app;
}
