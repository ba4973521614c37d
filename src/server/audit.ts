import { constants, type FileHandle, open } from "node:fs/promises";
import type { FastifyInstance, FastifyRequest, onSendHookHandler } from "fastify";
import { UsageError } from "../errors.js";
import { HttpError } from "./http.js";
import type { AuditQuery, AuditRecord, AuditStore } from "./store/audit.js";

/**
 * The audit log: every request that changes or tries to change something (any method but GET,
 * HEAD and OPTIONS), allowed or refused, is recorded once, before its answer leaves: when, who
 * (admin, profile:<name>, or anonymous), from where, the method and the route's pattern, the
 * cluster or profile acted on, the status code and the request id. Never a header, a token, a key
 * or a body: only a name from the body (the cluster or profile being created). Kept in the store
 * (shared by the replicas on PostgreSQL; GET /audit), and appended to a JSON-lines file with
 * `serve --audit-log FILE`.
 */

const readOnly = new Set(["GET", "HEAD", "OPTIONS"]);
const audited = Symbol("audited");

export interface AuditOptions {
  store: AuditStore;
  /** JSON lines appended here too (mode 0600). */
  file?: string;
  log: FastifyInstance["log"];
}

export interface Audit {
  /** Every mutating method and route pattern the server has (method and Fastify URL). */
  readonly routes: { method: string; url: string }[];
  close(): Promise<void>;
}

/** The actor of a request, as authentication left it (auth.ts). */
function actorOf(request: FastifyRequest): string {
  const principal = request.principal;
  if (principal?.kind === "admin") return "admin";
  if (principal?.kind === "profile") return `profile:${principal.profile.name}`;
  return "anonymous";
}

const shortName = (value: unknown): string | undefined =>
  typeof value === "string" && value.length > 0 && value.length <= 255 ? value : undefined;

/** What the request acts on: the route's name parameter, else the name a create's body gives. */
function targetOf(request: FastifyRequest, route: string): string | null {
  const params = (request.params ?? {}) as Record<string, unknown>;
  const body = request.body as Record<string, unknown> | undefined;
  const fromBody = (key: string) =>
    typeof body === "object" && body !== null && !Array.isArray(body) ? shortName(body[key]) : undefined;
  const cluster =
    shortName(params.stack_name) ?? (route === "/clusters" ? fromBody("stack_name") : undefined);
  if (cluster) return `cluster:${cluster}`;
  const profile = shortName(params.name) ?? (route === "/profiles" ? fromBody("name") : undefined);
  if (profile && route.startsWith("/profiles")) return `profile:${profile}`;
  return null;
}

/** Opens the audit file for appending; created 0600; one that others can read is refused. */
async function openAuditFile(path: string): Promise<FileHandle> {
  let handle: FileHandle;
  try {
    handle = await open(path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT, 0o600);
  } catch (error) {
    throw new UsageError(`--audit-log: cannot open ${path}: ${(error as Error).message}`);
  }
  const mode = (await handle.stat()).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    await handle.close();
    throw new UsageError(
      `--audit-log: ${path} is readable or writable by others (mode ${mode.toString(8)}); run: chmod 600 ${path}`,
    );
  }
  return handle;
}

/**
 * Installs the audit hooks and GET /audit. Call before the routes are added (the route list is
 * gathered as they are).
 */
export async function registerAudit(app: FastifyInstance, options: AuditOptions): Promise<Audit> {
  const file = options.file ? await openAuditFile(options.file) : undefined;
  let writing: Promise<unknown> = Promise.resolve();
  const routes: Audit["routes"] = [];

  // Each mutating route gets the hook itself (a route-level onSend, added as the route is): reads
  // carry no audit code at all. A request refused before its handler (401, 403, a body that does
  // not parse) still passes its route's onSend. A path that matches no route changes nothing and
  // is not recorded.
  const hook: onSendHookHandler = (request, reply, payload, done) => {
    const marked = request as FastifyRequest & { [audited]?: true };
    if (marked[audited]) return done(null, payload);
    marked[audited] = true;
    const route = request.routeOptions.url ?? request.url.split("?")[0] ?? "";
    const record: AuditRecord = {
      at: new Date().toISOString(),
      actor: actorOf(request),
      source: request.ip,
      method: request.method,
      route,
      target: targetOf(request, route),
      status: reply.statusCode,
      request_id: String(request.id),
    };
    write(record).then(
      () => done(null, payload),
      (error: unknown) => {
        // The request has been carried out: its answer still goes out; the gap is logged loudly.
        request.log.error({ err: error, audit: record }, "audit record not written");
        done(null, payload);
      },
    );
  };
  app.addHook("onRoute", (route) => {
    const methods = [route.method].flat().filter((method) => !readOnly.has(method));
    if (methods.length === 0) return;
    for (const method of methods) routes.push({ method, url: route.url });
    route.onSend = [...[route.onSend ?? []].flat(), hook];
  });

  /** Into the store, then (in order) the file. */
  async function write(record: AuditRecord): Promise<void> {
    record.id = await options.store.append(record);
    if (file) {
      const line = `${JSON.stringify(record)}\n`;
      writing = writing.then(() => file.appendFile(line));
      await writing;
    }
  }

  app.get<{ Querystring: Record<string, string | undefined> }>(
    "/audit",
    { config: { access: "admin" } },
    async (request, reply) => {
      const query = auditQuery(request.query);
      const records = await options.store.list(query);
      const last = records.at(-1);
      return reply.send({
        records,
        next: records.length === query.limit && last?.id !== undefined ? last.id : null,
      });
    },
  );

  return {
    routes,
    async close() {
      await writing.catch(() => {});
      await file?.close();
    },
  };
}

/** GET /audit's query: each problem named (400). */
export function auditQuery(raw: Record<string, string | undefined>): AuditQuery {
  const messages: string[] = [];
  for (const key of Object.keys(raw)) {
    if (!["profile", "cluster", "since", "until", "limit", "before"].includes(key))
      messages.push(`${key}: unknown query parameter`);
  }
  const time = (name: "since" | "until"): string | undefined => {
    const value = raw[name];
    if (value === undefined) return undefined;
    const parsed = Date.parse(value);
    if (Number.isNaN(parsed)) {
      messages.push(`${name}: must be a time (ISO 8601, e.g. 2026-12-03T09:00:00Z)`);
      return undefined;
    }
    return new Date(parsed).toISOString();
  };
  const integer = (name: "limit" | "before", min: number, max: number): number | undefined => {
    const value = raw[name];
    if (value === undefined) return undefined;
    if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
      messages.push(`${name}: must be an integer from ${min} to ${max} (got ${JSON.stringify(value)})`);
      return undefined;
    }
    return Number(value);
  };
  const query: AuditQuery = { limit: integer("limit", 1, 1000) ?? 100 };
  const since = time("since");
  const until = time("until");
  const before = integer("before", 1, Number.MAX_SAFE_INTEGER);
  if (raw.profile !== undefined) query.profile = raw.profile;
  if (raw.cluster !== undefined) query.cluster = raw.cluster;
  if (since) query.since = since;
  if (until) query.until = until;
  if (before !== undefined) query.before = before;
  if (messages.length > 0) throw new HttpError(400, "invalid request", messages);
  return query;
}
