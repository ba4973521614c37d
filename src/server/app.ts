import { randomBytes } from "node:crypto";
import { homedir, hostname } from "node:os";
import { dirname, join } from "node:path";
import Fastify, { type FastifyInstance, type FastifyServerOptions } from "fastify";
import type { Config } from "../config.js";
import { envInt } from "../env-numbers.js";
import { OperationError, PandaError, UsageError } from "../errors.js";
import { packageVersion } from "../paths.js";
import { Accounts } from "./accounts.js";
import { type Audit, registerAudit } from "./audit.js";
import { registerAuth } from "./auth.js";
import { hashToken, loadSecretKey, newToken, SecretBox } from "./crypto.js";
import { type Engine, libraryEngine } from "./engine.js";
import { HttpError, normaliseService } from "./http.js";
import { StackPoller } from "./jobs/poller.js";
import { Reconciler } from "./jobs/reconcile.js";
import { JobRunner } from "./jobs/runner.js";
import { ScaleJobs } from "./jobs/scale.js";
import { loggableUrl } from "./log-url.js";
import { createMetrics, type Metrics, registerMetrics } from "./metrics.js";
import { clusterRoutes } from "./routes/clusters.js";
import { type EventStreamOptions, eventRoutes } from "./routes/events.js";
import { healthRoutes } from "./routes/health.js";
import { profileRoutes } from "./routes/profiles.js";
import { scaleRoutes } from "./routes/scale.js";
import { syncRoutes } from "./routes/sync.js";
import { templateRoutes } from "./routes/templates.js";
import type { ServerParts } from "./routes/types.js";
import { uiRoutes } from "./routes/ui.js";
import { upgradeRoutes } from "./routes/upgrade.js";
import { auditStoreFor } from "./store/audit.js";
import { isStoreUnavailable } from "./store/errors.js";
import { isPostgresUrl, PostgresStore, redactDatabaseUrl } from "./store/postgres.js";
import { SqliteStore } from "./store/sqlite.js";
import type { Store } from "./store/types.js";

/** Paths of secrets a log line must never show, whatever object they appear in. */
export const redactPaths = [
  "req.headers.authorization",
  "req.headers.cookie",
  "headers.authorization",
  "authorization",
  "token",
  "*.token",
  "secret",
  "*.secret",
  "aws.secret",
  "*.aws.secret",
  "body.aws",
  "credentials",
  "*.credentials",
];

export interface ServerOptions {
  /**
   * The store: a postgres:// (or postgresql://) URL for PostgreSQL (replicas share it), else a
   * SQLite file; default PANDACLUSTER_DATABASE_URL, else ~/.pandacluster/server.db; ":memory:"
   * for a throw-away store.
   */
  db?: string;
  env?: NodeJS.ProcessEnv;
  /** The server's own config (~/.pandacluster.cson): base AWS credentials, public keys, discovery. */
  config?: Config;
  /** The library operations; the library itself unless a test passes its own. */
  engine?: Engine;
  /** Fastify's logger option; default: JSON lines at PANDACLUSTER_LOG_LEVEL (info), secrets redacted. */
  logger?: FastifyServerOptions["logger"];
  /** Where the default logger writes (default standard output). */
  logStream?: NodeJS.WritableStream;
  /** Poll cycle of the stack status poller, ms (default 5000; PANDACLUSTER_POLL_MS). */
  pollIntervalMs?: number;
  /** Library steps running at once over all jobs (default 8; PANDACLUSTER_JOB_CONCURRENCY). */
  concurrency?: number;
  /**
   * Job lease duration, ms (default 60 s; PANDACLUSTER_LEASE_MS): how long a crashed server's jobs
   * wait for another server.
   */
  leaseMs?: number;
  /** First pause before a job retries a step AWS did not answer, ms (default 2000; PANDACLUSTER_RETRY_MS). */
  retryMs?: number;
  /** Resume unfinished jobs on start (default true). */
  resume?: boolean;
  /** Server-Sent Events of GET /clusters/{name}/events (heartbeat, re-read, streams per profile). */
  eventStream?: Partial<EventStreamOptions>;
  /** Cycle of the DNS reconciler, ms (default 60000; PANDACLUSTER_RECONCILE_MS). */
  reconcileMs?: number;
  /**
   * How often the reconciler looks at the clusters' images (outdated, deprecated, gone), ms
   * (default 21600000, six hours: images change by the week; PANDACLUSTER_IMAGE_CHECK_MS).
   */
  imageCheckMs?: number;
  /** The audit log also appended to this file (serve --audit-log; audit.ts). */
  auditLog?: string;
  /**
   * Audit log and Prometheus metrics (audit.ts, metrics.ts; default true). Off only to measure
   * what they cost (bench/observability.ts).
   */
  observability?: boolean;
  /** How long GET /clusters/{name}?live=true waits for AWS, ms (default 10000). */
  liveTimeoutMs?: number;
}

export interface Server {
  app: FastifyInstance;
  store: Store;
  runner: JobRunner;
  poller: StackPoller;
  /** Scales started with PATCH /clusters/{name}. */
  scales: ScaleJobs;
  /** Keeps the owned clusters' DNS names in line with their groups (jobs/reconcile.ts). */
  reconciler: Reconciler;
  /** The admin token when this start generated it (print it once); undefined otherwise. */
  generatedAdminToken: string | undefined;
  /** Where the secret key came from. */
  keyOrigin: string;
  /** The audit log (undefined with observability: false). */
  audit: Audit | undefined;
  /** The Prometheus metrics (undefined with observability: false). */
  metrics: Metrics | undefined;
  /** Stops the jobs (they stay persisted), closes the HTTP server and the store. */
  close(): Promise<void>;
}

export function defaultDbPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.PANDACLUSTER_DATABASE_URL || join(env.HOME || homedir(), ".pandacluster", "server.db");
}

/** The store as the start-up notice names it: a database URL without its password. */
export function describeDb(db: string): string {
  return isPostgresUrl(db) ? `PostgreSQL ${redactDatabaseUrl(db)}` : db;
}

/** PostgreSQL for a postgres:// URL, else SQLite. A URL that does not parse is bad input. */
export function openStore(db: string): Store {
  if (!isPostgresUrl(db)) return new SqliteStore(db);
  if (!URL.canParse(db))
    throw new UsageError("--db: the PostgreSQL URL does not parse (not shown: it may hold a password)");
  return new PostgresStore(db);
}

/** Migrates the store; a PostgreSQL database that cannot be used is named (without its password). */
async function migrateStore(store: Store, db: string): Promise<void> {
  try {
    await store.migrate();
  } catch (error) {
    if (!isPostgresUrl(db) || error instanceof PandaError) throw error;
    throw new OperationError(`cannot use the database ${describeDb(db)}: ${(error as Error).message}`);
  }
}

/**
 * Where the secret key file is: beside a SQLite file; for PostgreSQL in ~/.pandacluster (replicas
 * must then share the key: PANDACLUSTER_SECRET_KEY, or the same file on each).
 */
function keyFile(db: string, env: NodeJS.ProcessEnv): string {
  const home = join(env.HOME || homedir(), ".pandacluster");
  return join(isPostgresUrl(db) ? home : dirname(db), "server.key");
}

/**
 * The name this server process puts on the job leases it holds: unique per start (host, process id
 * and a random part), so that two servers on one store never take each other's leases for their
 * own, even on one host with one PANDACLUSTER_SERVER_ID. The id (or the host name) leads, for people
 * reading the store.
 */
export function leaseOwner(env: NodeJS.ProcessEnv = process.env): string {
  const name = env.PANDACLUSTER_SERVER_ID || hostname();
  return `${name}/${process.pid}/${randomBytes(6).toString("hex")}`;
}

/** Builds the whole server (store, secrets, jobs, routes) without listening: app.inject() works. */
export async function createServer(options: ServerOptions = {}): Promise<Server> {
  const env = options.env ?? process.env;
  const db = options.db ?? defaultDbPath(env);
  const store = openStore(db);
  try {
    await migrateStore(store, db);

    const key =
      db === ":memory:" && !env.PANDACLUSTER_SECRET_KEY
        ? { key: randomBytes(32), origin: "an in-memory key (the store is in memory too)", created: true }
        : loadSecretKey(env, keyFile(db, env));
    const box = new SecretBox(key.key);
    await checkSecretKey(store, box, key.origin);

    let generatedAdminToken: string | undefined;
    let adminTokenHash: string;
    const fromEnv = env.PANDACLUSTER_ADMIN_TOKEN;
    if (fromEnv) {
      if (fromEnv.length < 16)
        throw new UsageError("PANDACLUSTER_ADMIN_TOKEN must be at least 16 characters");
      adminTokenHash = hashToken(fromEnv);
    } else {
      const stored = await store.getSetting("admin_token_sha256");
      if (stored) adminTokenHash = stored;
      else {
        const token = newToken("admin");
        adminTokenHash = await store.setSettingOnce("admin_token_sha256", hashToken(token));
        if (adminTokenHash === hashToken(token)) generatedAdminToken = token;
      }
    }

    const engine = options.engine ?? libraryEngine;
    const app = Fastify({
      logger: options.logger ?? {
        level: env.PANDACLUSTER_LOG_LEVEL || "info",
        redact: { paths: redactPaths, censor: "[redacted]" },
        // The request line without secrets a client may have put in the query (log-url.ts).
        serializers: {
          req: (request: {
            method?: string;
            url?: string;
            host?: string;
            ip?: string;
            socket?: { remotePort?: number };
          }) => ({
            method: request.method,
            url: loggableUrl(request.url),
            host: request.host,
            remoteAddress: request.ip,
            remotePort: request.socket?.remotePort,
          }),
        },
        ...(options.logStream ? { stream: options.logStream } : {}),
      },
      bodyLimit: 1024 * 1024,
    });
    const log = app.log;
    const owner = leaseOwner(env);
    const poller = new StackPoller(engine, {
      ...(store.fleet ? { fleet: { share: store.fleet, owner } } : {}),
      intervalMs: options.pollIntervalMs ?? envInt(env, "PANDACLUSTER_POLL_MS") ?? 5000,
      maxIntervalMs: 60_000,
      settleMs: 50,
      log: (message, fields) => log.warn(fields ?? {}, message),
    });
    const accounts = new Accounts(options.config ?? {}, box, { engine, store });
    const runner = new JobRunner({
      store,
      engine,
      accounts,
      poller,
      owner,
      leaseMs: options.leaseMs ?? envInt(env, "PANDACLUSTER_LEASE_MS") ?? 60_000,
      retryMs: options.retryMs ?? envInt(env, "PANDACLUSTER_RETRY_MS") ?? 2_000,
      concurrency: options.concurrency ?? envInt(env, "PANDACLUSTER_JOB_CONCURRENCY") ?? 8,
      log,
    });
    const discoveryServices = new Set(
      [
        "https://discovery.etcd.io",
        options.config?.discovery_service,
        ...(env.PANDACLUSTER_DISCOVERY_SERVICES ?? "").split(","),
      ]
        .filter((url): url is string => Boolean(url?.trim()))
        .map(normaliseService),
    );
    const parts: ServerParts = {
      store,
      engine,
      accounts,
      runner,
      version: packageVersion(),
      discoveryServices,
      ...(options.liveTimeoutMs ? { liveTimeoutMs: options.liveTimeoutMs } : {}),
    };

    const scales = new ScaleJobs(store, engine, log, {
      owner,
      accounts,
      leaseMs: options.leaseMs ?? envInt(env, "PANDACLUSTER_LEASE_MS") ?? 60_000,
    });
    const reconciler = new Reconciler(
      { store, engine, accounts, scales },
      options.reconcileMs ?? envInt(env, "PANDACLUSTER_RECONCILE_MS") ?? 60_000,
      log,
      options.imageCheckMs ?? envInt(env, "PANDACLUSTER_IMAGE_CHECK_MS") ?? 6 * 3_600_000,
    );
    const watch = await observe(app, store, { poller, reconciler, log, options });
    buildRoutes(app, parts, box, adminTokenHash, {
      heartbeatMs: 15_000,
      wakeMs: 2_000,
      perProfile: 20,
      ...(watch.metrics ? { onStreams: watch.metrics.eventStreams } : {}),
      owner,
      ...options.eventStream,
    });
    scaleRoutes(app, parts, scales);
    syncRoutes(app, parts, scales);
    upgradeRoutes(app, parts, scales);
    await app.ready();
    if (options.resume !== false) {
      await runner.resumeAll();
      scales.resumeAll();
    }
    reconciler.start();

    let closed = false;
    return {
      app,
      store,
      runner,
      poller,
      scales,
      reconciler,
      generatedAdminToken,
      keyOrigin: key.origin,
      audit: watch.audit,
      metrics: watch.metrics,
      async close() {
        if (closed) return;
        closed = true;
        await reconciler.stop();
        await scales.stop();
        await runner.stop();
        await app.close();
        await watch.audit?.close();
        await watch.metrics?.close();
        await store.close();
      },
    };
  } catch (error) {
    await store.close();
    throw error;
  }
}

/**
 * The audit log and the metrics (audit.ts, metrics.ts), hooked in before the routes are added so
 * that they see every route.
 */
async function observe(
  app: FastifyInstance,
  store: Store,
  o: { poller: StackPoller; reconciler: Reconciler; log: FastifyInstance["log"]; options: ServerOptions },
): Promise<{ audit: Audit | undefined; metrics: Metrics | undefined }> {
  if (o.options.observability === false) return { audit: undefined, metrics: undefined };
  const table = auditStoreFor(store);
  // Metrics first: they time every route added after them, GET /audit too.
  const metrics = createMetrics(table);
  registerMetrics(app, metrics);
  const audit = await registerAudit(app, {
    store: table,
    log: o.log,
    ...(o.options.auditLog ? { file: o.options.auditLog } : {}),
  });
  o.poller.cycleObserver = metrics.pollCycle;
  o.reconciler.cycleObserver = metrics.reconcileCycle;
  return { audit, metrics };
}

/**
 * Every server on a store must open the profiles' secrets with the same key: the first start
 * leaves a sealed check value in the settings, and a server with another key refuses to start
 * (rather than failing each job of a profile with its own credentials later).
 */
async function checkSecretKey(store: Store, box: SecretBox, origin: string): Promise<void> {
  const check = await store.setSettingOnce("secret_key_check", box.seal("pandacluster", "secret-key-check"));
  try {
    if (box.open(check, "secret-key-check") === "pandacluster") return;
  } catch {
    // a different key: said below
  }
  throw new UsageError(
    `the secret key (from ${origin}) is not the one this store's secrets were sealed with: every server on one store needs the same PANDACLUSTER_SECRET_KEY`,
  );
}

function buildRoutes(
  app: FastifyInstance,
  parts: ServerParts,
  box: SecretBox,
  adminTokenHash: string,
  eventStream: EventStreamOptions,
): void {
  // Every answer: never stored by a cache (POST /profiles returns a token; every other answer is a
  // caller's own data) unless the route set its own policy (the dashboard's assets), and never
  // sniffed into another type (a JSON error echoing input must not render as HTML).
  app.addHook("onSend", async (_request, reply) => {
    if (!reply.hasHeader("cache-control")) reply.header("cache-control", "no-store");
    reply.header("x-content-type-options", "nosniff");
  });
  registerAuth(app, parts.store, adminTokenHash);
  // JSON only: a text/plain body would otherwise arrive as a string.
  app.removeContentTypeParser("text/plain");
  // Common HTTP clients send Content-Type: application/json on every request, also a DELETE or a
  // POST without a body: an empty body is an empty object. Anything else goes to Fastify's own
  // parser (which refuses __proto__ and constructor keys). Auth runs before any parsing (onRequest).
  const json = app.getDefaultJsonParser("error", "error");
  app.removeContentTypeParser("application/json");
  app.addContentTypeParser("application/json", { parseAs: "string" }, (request, body, done) => {
    if (typeof body === "string" && body.trim() === "") return done(null, {});
    return json(request, body as string, done);
  });

  app.setErrorHandler((error: unknown, request, reply) => {
    if (error instanceof HttpError) {
      return reply.code(error.statusCode).headers(error.headers).send(error.body());
    }
    if (error instanceof UsageError) {
      return reply.code(400).send({
        error: "invalid request",
        messages: error.problems.map((p) => (p.argument ? `${p.argument}: ${p.message}` : p.message)),
      });
    }
    const fastifyError = error as { code?: string; statusCode?: number; message?: string };
    switch (fastifyError.code) {
      case "FST_ERR_CTP_INVALID_JSON_BODY":
      case "FST_ERR_CTP_EMPTY_JSON_BODY":
        return reply.code(400).send({
          error: "invalid request",
          messages: [`the request body is not JSON: ${fastifyError.message}`],
        });
      case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
        return reply.code(415).send({
          error: "unsupported media type",
          messages: ["send the body as JSON (Content-Type: application/json)"],
        });
      case "FST_ERR_CTP_BODY_TOO_LARGE":
        return reply.code(413).send({ error: "request body too large", messages: ["at most 1 MiB"] });
    }
    if (fastifyError.statusCode && fastifyError.statusCode >= 400 && fastifyError.statusCode < 500) {
      return reply
        .code(fastifyError.statusCode)
        .send({ error: "invalid request", messages: [fastifyError.message ?? ""] });
    }
    if (isStoreUnavailable(error)) {
      // The database is down or unreachable (PostgreSQL stopped, a SQLite file locked): the
      // request is fine and may succeed in a moment. Never the driver's message (it may name hosts).
      request.log.error({ error: (error as Error).message }, "the store is unavailable");
      return reply
        .code(503)
        .header("retry-after", "5")
        .send({
          error: "service unavailable",
          messages: ["the server's database is unavailable; try again shortly"],
        });
    }
    if (error instanceof PandaError) {
      // The library refused or failed (AWS said no, a service was down): the caller's request is fine.
      request.log.warn({ error: error.message }, "operation failed");
      return reply.code(502).send({
        error: "operation failed",
        messages: [error.message, ...((error as { reasons?: string[] }).reasons ?? [])],
      });
    }
    request.log.error({ err: error }, "request failed");
    return reply.code(500).send({ error: "internal error", messages: ["the server failed; see its log"] });
  });

  app.setNotFoundHandler((request, reply) => {
    reply
      .code(404)
      .send({ error: "not found", messages: [`no route ${request.method} ${request.url.split("?")[0]}`] });
  });

  healthRoutes(app, parts);
  profileRoutes(app, parts, box);
  templateRoutes(app, parts);
  clusterRoutes(app, parts);
  eventRoutes(app, parts, eventStream);
  uiRoutes(app);
}
