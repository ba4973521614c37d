import { PostgresStore } from "./postgres.js";
import { SqliteStore } from "./sqlite.js";
import type { Store } from "./types.js";

/**
 * The audit table (migrations: SQLite 10, PostgreSQL 9) and the fleet-wide counts the metrics read,
 * for both engines. Kept beside the Store rather than in it: only the audit log and the metrics use
 * them, through the engine's own handle (SQLite's file, PostgreSQL's pool, shared by the replicas).
 */

/** One request that changed or tried to change something. Never a token, a key or a body secret. */
export interface AuditRecord {
  id?: number;
  at: string;
  /** "admin", "profile:<name>", or "anonymous" (no valid token). */
  actor: string;
  /** The client's address. */
  source: string;
  method: string;
  /** The route's pattern (/clusters/:stack_name), or the path when no route matched. */
  route: string;
  /** "cluster:<name>" or "profile:<name>" acted on, when the request names one. */
  target: string | null;
  status: number;
  request_id: string;
}

export interface AuditQuery {
  /** Acted as (actor) or on (target) this profile. */
  profile?: string;
  /** Acted on this cluster. */
  cluster?: string;
  /** ISO times, inclusive. */
  since?: string;
  until?: string;
  /** Records with a smaller id (the previous page's last). */
  before?: number;
  limit: number;
}

export interface FleetCounts {
  clusters: { status: string; n: number }[];
  jobs: { kind: string; phase: string; n: number }[];
}

export interface AuditStore {
  /** Appends a record; returns its id. */
  append(record: AuditRecord): Promise<number>;
  /** Newest first. */
  list(query: AuditQuery): Promise<AuditRecord[]>;
  /** Clusters by status and jobs by kind and phase, over the whole store (every replica's). */
  counts(): Promise<FleetCounts>;
}

const columns = "id, at, actor, source, method, route, target, status, request_id";

/** The WHERE clause of a query, with `?` or `$n` placeholders. */
function where(query: AuditQuery, placeholder: (n: number) => string): { sql: string; params: unknown[] } {
  const clauses: string[] = [];
  const params: unknown[] = [];
  const next = (value: unknown) => {
    params.push(value);
    return placeholder(params.length);
  };
  if (query.profile !== undefined) {
    const who = `profile:${query.profile}`;
    clauses.push(`(actor = ${next(who)} OR target = ${next(who)})`);
  }
  if (query.cluster !== undefined) clauses.push(`target = ${next(`cluster:${query.cluster}`)}`);
  if (query.since !== undefined) clauses.push(`at >= ${next(query.since)}`);
  if (query.until !== undefined) clauses.push(`at <= ${next(query.until)}`);
  if (query.before !== undefined) clauses.push(`id < ${next(query.before)}`);
  const sql = `${clauses.length ? `WHERE ${clauses.join(" AND ")}` : ""} ORDER BY id DESC LIMIT ${next(query.limit)}`;
  return { sql, params };
}

/** Create and destroy jobs by their phase, and the stored day-2 jobs (scale, upgrade) by their state. */
const jobsByKindAndState = (cast: string) =>
  `SELECT kind, phase, count(*)${cast} AS n FROM jobs GROUP BY kind, phase
   UNION ALL SELECT kind, state AS phase, count(*)${cast} AS n FROM scale_jobs GROUP BY kind, state`;

const toRecord = (row: AuditRecord): AuditRecord => ({
  ...row,
  id: Number(row.id),
  status: Number(row.status),
});

class SqliteAudit implements AuditStore {
  constructor(private readonly store: SqliteStore) {}

  async append(record: AuditRecord): Promise<number> {
    const info = this.store.db
      .prepare(
        "INSERT INTO audit (at, actor, source, method, route, target, status, request_id) VALUES (@at, @actor, @source, @method, @route, @target, @status, @request_id)",
      )
      .run(record);
    return Number(info.lastInsertRowid);
  }

  async list(query: AuditQuery): Promise<AuditRecord[]> {
    const { sql, params } = where(query, () => "?");
    return (this.store.db.prepare(`SELECT ${columns} FROM audit ${sql}`).all(...params) as AuditRecord[]).map(
      toRecord,
    );
  }

  async counts(): Promise<FleetCounts> {
    const db = this.store.db;
    return {
      clusters: db
        .prepare("SELECT status, count(*) AS n FROM clusters GROUP BY status")
        .all() as FleetCounts["clusters"],
      jobs: db.prepare(jobsByKindAndState("")).all() as FleetCounts["jobs"],
    };
  }
}

class PostgresAudit implements AuditStore {
  constructor(private readonly store: PostgresStore) {}

  async append(record: AuditRecord): Promise<number> {
    const { rows } = await this.store.pool.query<{ id: string }>(
      "INSERT INTO audit (at, actor, source, method, route, target, status, request_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
      [
        record.at,
        record.actor,
        record.source,
        record.method,
        record.route,
        record.target,
        record.status,
        record.request_id,
      ],
    );
    return Number(rows[0]?.id);
  }

  async list(query: AuditQuery): Promise<AuditRecord[]> {
    const { sql, params } = where(query, (n) => `$${n}`);
    const { rows } = await this.store.pool.query<AuditRecord>(`SELECT ${columns} FROM audit ${sql}`, params);
    return rows.map(toRecord);
  }

  async counts(): Promise<FleetCounts> {
    const pool = this.store.pool;
    const [clusters, jobs] = await Promise.all([
      pool.query<FleetCounts["clusters"][number]>(
        "SELECT status, count(*)::int AS n FROM clusters GROUP BY status",
      ),
      pool.query<FleetCounts["jobs"][number]>(jobsByKindAndState("::int")),
    ]);
    return { clusters: clusters.rows, jobs: jobs.rows };
  }
}

/** The audit table of the store's engine. */
export function auditStoreFor(store: Store): AuditStore {
  if (store instanceof SqliteStore) return new SqliteAudit(store);
  if (store instanceof PostgresStore) return new PostgresAudit(store);
  throw new Error("the audit log needs a SQLite or PostgreSQL store");
}
