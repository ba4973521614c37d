import pg from "pg";
import { postgresMigrations } from "./postgres-migrations.js";
import {
  type ClusterRow,
  newestFirst,
  now,
  type ProfileRow,
  toCluster,
  toProfile,
  type ViewRow,
} from "./rows.js";
import {
  type ClusterPatch,
  type ClusterRecord,
  type ClusterStatus,
  type ClusterSummary,
  type ClusterView,
  type CreateClusterOutcome,
  type Day2Kind,
  defaultMaxClusters,
  type Fleet,
  type HeldLease,
  type IdempotentAnswer,
  type ImageWarning,
  type JobFence,
  type JobLease,
  type JobPhase,
  type JobRecord,
  LeaseLostError,
  type NewCluster,
  type NewDay2Job,
  type NewProfile,
  type ProfileAccess,
  type ProfileRecord,
  type ScaleJobRecord,
  type StartDestroyOutcome,
  type StartScaleOutcome,
  type Store,
  type StoredEvent,
} from "./types.js";

/**
 * The Store on PostgreSQL through node-postgres (`pg`): a connection pool for the queries, and one
 * more connection that LISTENs for the replicas' notifications (events added, clusters changed).
 * Several `pandacluster serve` replicas share one database:
 *   - migrations run under an advisory lock, so replicas starting together apply each one once;
 *   - jobs are taken with SELECT … FOR UPDATE SKIP LOCKED and a lease on the database's clock;
 *   - the stack status poller of an account and region is leased to one replica (Fleet);
 *   - a change to a cluster is announced with NOTIFY to every replica (onClusterChange).
 */

/** The key of the advisory lock that serialises migrations (any constant; "pandaclu" in ASCII). */
const MIGRATION_LOCK = 0x70616e6461636c75n;
/** The NOTIFY channel; the payload is a cluster id. */
const CHANNEL = "pandacluster_clusters";

const scaleColumns =
  "id, cluster_id, key, kind, workers, params, result, state, message, reasons, started_at, finished_at, lease_owner, lease_generation";
const jobColumns =
  "id, cluster_id, kind, phase, attempts, created_at, updated_at, lease_owner, lease_generation";
const clusterColumns =
  "id, profile_id, stack_name, region, account, status, cluster_size, options, stack_id, create_token, result, reasons, created_at, updated_at";

/** A unique index said no (SQLSTATE 23505). */
const isUniqueViolation = (error: unknown) => (error as { code?: string }).code === "23505";

/**
 * Query parameters of a connection URL that hold a secret (libpq's `password`, `sslpassword`, a
 * key or token): shown as ***.
 */
const secretParameter = /pass|secret|token|key/i;

/** The URL as it may be shown: without a password, whether in its userinfo or its query (`?password=`). */
export function redactDatabaseUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    for (const name of [...parsed.searchParams.keys()]) {
      if (secretParameter.test(name)) parsed.searchParams.set(name, "***");
    }
    return parsed.href.replace(/=\*\*\*/g, "=***").replace(/%2A%2A%2A/gi, "***");
  } catch {
    return "postgres://(unparsable URL)";
  }
}

export function isPostgresUrl(db: string): boolean {
  return /^postgres(ql)?:\/\//i.test(db);
}

type Queryable = pg.Pool | pg.PoolClient;

export class PostgresStore implements Store {
  readonly pool: pg.Pool;
  readonly fleet: Fleet;
  readonly #url: string;
  readonly #listeners = new Set<(clusterId: number) => void>();
  #listener: pg.Client | undefined;
  #listening: Promise<void> | undefined;
  #closed = false;
  #retry: NodeJS.Timeout | undefined;

  constructor(url: string, options: { poolSize?: number } = {}) {
    this.#url = url;
    this.pool = new pg.Pool({
      connectionString: url,
      max: options.poolSize ?? 16,
      application_name: "pandacluster",
      // A database that does not answer (stopped, unreachable) fails a request in seconds (503)
      // instead of holding it open.
      connectionTimeoutMillis: 5_000,
      // A fenced write holds its job's row lock until it commits; a replica paused (SIGSTOP) or cut
      // off inside a transaction must not keep that lock, or no other replica could ever take the
      // job over (claims skip locked rows). PostgreSQL ends such a session after 10 s.
      idle_in_transaction_session_timeout: 10_000,
    });
    // An idle connection that the server drops must not crash the process; the next query reconnects.
    this.pool.on("error", () => {});
    this.fleet = {
      leadPoll: (key, owner, ttlMs, gapMs) => this.#leadPoll(key, owner, ttlMs, gapMs),
      publishPoll: (key, owner, states) => this.#publishPoll(key, owner, states),
      latestPoll: (key) => this.#latestPoll(key),
      releasePolls: (owner, key) => this.#releasePolls(owner, key),
    };
  }

  async #rows<T>(sql: string, params: unknown[] = [], on: Queryable = this.pool): Promise<T[]> {
    return (await on.query(sql, params)).rows as T[];
  }

  async #row<T>(sql: string, params: unknown[] = [], on: Queryable = this.pool): Promise<T | undefined> {
    return (await this.#rows<T>(sql, params, on))[0];
  }

  /** Runs `work` in one transaction on one pooled connection. */
  async #tx<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    // A connection that drops while checked out emits 'error' on the client as well as failing its
    // query: without a listener that event would end the process (the pool listens only to idle
    // clients). The failed query says it; the broken connection is thrown away, not pooled again.
    let broken: Error | undefined;
    const onError = (error: Error) => {
      broken = error;
    };
    client.on("error", onError);
    try {
      await client.query("BEGIN");
      const result = await work(client);
      await client.query("COMMIT");
      return result;
    } catch (error) {
      if (!broken) await client.query("ROLLBACK").catch(() => {});
      throw error;
    } finally {
      client.off("error", onError);
      client.release(broken ?? false);
    }
  }

  /** Applies the migrations the database has not seen yet, once across replicas. */
  async migrate(): Promise<void> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    const onError = (error: Error) => {
      broken = error;
    };
    client.on("error", onError);
    try {
      // Session-level lock: held across the migrations' own transactions, released below.
      await client.query("SELECT pg_advisory_lock($1)", [MIGRATION_LOCK.toString()]);
      try {
        await client.query(
          "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)",
        );
        const done = new Set(
          (await this.#rows<{ version: number }>("SELECT version FROM schema_migrations", [], client)).map(
            (r) => r.version,
          ),
        );
        const latest = Math.max(0, ...postgresMigrations.map((m) => m.version));
        const known = Math.max(0, ...done);
        if (known > latest) {
          throw new Error(
            `the database has schema version ${known}, newer than this pandacluster knows (${latest})`,
          );
        }
        for (const migration of postgresMigrations) {
          if (done.has(migration.version)) continue;
          await client.query("BEGIN");
          try {
            await client.query(migration.sql);
            await client.query(
              "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
              [migration.version, migration.name, now()],
            );
            await client.query("COMMIT");
          } catch (error) {
            await client.query("ROLLBACK").catch(() => {});
            throw error;
          }
        }
      } finally {
        await client.query("SELECT pg_advisory_unlock($1)", [MIGRATION_LOCK.toString()]).catch(() => {});
      }
    } finally {
      client.off("error", onError);
      client.release(broken ?? false);
    }
  }

  async health(): Promise<void> {
    await this.pool.query("SELECT 1");
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#retry) clearTimeout(this.#retry);
    this.#listeners.clear();
    const listener = this.#listener;
    this.#listener = undefined;
    await listener?.end().catch(() => {});
    await this.pool.end();
  }

  // ------------------------------------------------------------ notifications

  onClusterChange(listener: (clusterId: number) => void): () => void {
    this.#listeners.add(listener);
    this.#listening ??= this.#listen();
    return () => {
      this.#listeners.delete(listener);
    };
  }

  /** One connection LISTENs for the whole process; it reconnects when the connection drops. */
  async #listen(): Promise<void> {
    if (this.#closed) return;
    const client = new pg.Client({ connectionString: this.#url, application_name: "pandacluster-listen" });
    const reconnect = () => {
      if (this.#closed || this.#listener !== client) return;
      this.#listener = undefined;
      client.end().catch(() => {});
      this.#retry = setTimeout(() => {
        this.#listening = this.#listen();
      }, 1_000);
      this.#retry.unref();
    };
    client.on("error", reconnect);
    client.on("end", reconnect);
    client.on("notification", (message) => {
      const id = Number(message.payload);
      if (!Number.isInteger(id)) return;
      for (const listener of this.#listeners) listener(id);
    });
    this.#listener = client;
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANNEL}`);
      // Whatever changed while nobody listened (the first start, a reconnect): look again.
      for (const listener of this.#listeners) listener(0);
    } catch {
      reconnect();
    }
  }

  #notify(clusterId: number, on: Queryable = this.pool): Promise<unknown> {
    return on.query("SELECT pg_notify($1, $2)", [CHANNEL, String(clusterId)]);
  }

  // ------------------------------------------------------------ settings and profiles

  async getSetting(key: string): Promise<string | undefined> {
    return (await this.#row<{ value: string }>("SELECT value FROM settings WHERE key = $1", [key]))?.value;
  }

  async setSettingOnce(key: string, value: string): Promise<string> {
    await this.pool.query("INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING", [
      key,
      value,
    ]);
    return (await this.getSetting(key)) as string;
  }

  async createProfile(profile: NewProfile): Promise<ProfileRecord | "exists"> {
    try {
      const row = await this.#row<ProfileRow>(
        `INSERT INTO profiles (name, email, token_hash, aws_id, aws_secret_sealed, aws_region, public_keys, created_at, max_clusters, role_arn, external_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING *`,
        [
          profile.name,
          profile.email,
          profile.token_hash,
          profile.aws_id,
          profile.aws_secret_sealed,
          profile.aws_region,
          profile.public_keys ? JSON.stringify(profile.public_keys) : null,
          now(),
          profile.max_clusters ?? defaultMaxClusters,
          profile.role_arn ?? null,
          profile.external_id ?? null,
        ],
      );
      return toProfile(row) as ProfileRecord;
    } catch (error) {
      if (isUniqueViolation(error)) return "exists";
      throw error;
    }
  }

  async profileByTokenHash(tokenHash: string): Promise<ProfileRecord | undefined> {
    return toProfile(
      await this.#row<ProfileRow>("SELECT * FROM profiles WHERE token_hash = $1", [tokenHash]),
    );
  }

  async profileById(id: number): Promise<ProfileRecord | undefined> {
    return toProfile(await this.#row<ProfileRow>("SELECT * FROM profiles WHERE id = $1", [id]));
  }

  async listProfiles(): Promise<ProfileRecord[]> {
    return (await this.#rows<ProfileRow>("SELECT * FROM profiles ORDER BY id")).map(
      (row) => toProfile(row) as ProfileRecord,
    );
  }

  async setProfileQuota(name: string, maxClusters: number): Promise<ProfileRecord | undefined> {
    return toProfile(
      await this.#row<ProfileRow>("UPDATE profiles SET max_clusters = $2 WHERE name = $1 RETURNING *", [
        name,
        maxClusters,
      ]),
    );
  }

  async setProfileAccess(name: string, access: ProfileAccess): Promise<ProfileRecord | undefined> {
    return toProfile(
      "role_arn" in access
        ? await this.#row<ProfileRow>(
            "UPDATE profiles SET role_arn = $2, external_id = coalesce(external_id, $3), aws_id = NULL, aws_secret_sealed = NULL WHERE name = $1 RETURNING *",
            [name, access.role_arn, access.external_id],
          )
        : await this.#row<ProfileRow>(
            "UPDATE profiles SET role_arn = NULL, aws_id = $2, aws_secret_sealed = $3 WHERE name = $1 RETURNING *",
            [name, access.aws_id, access.aws_secret_sealed],
          ),
    );
  }

  async deleteProfile(name: string): Promise<"deleted" | "missing" | "has_clusters"> {
    return this.#tx(async (client) => {
      // The row lock keeps a create for this profile from slipping in between the check and the delete.
      const profile = await this.#row<{ id: number }>(
        "SELECT id FROM profiles WHERE name = $1 FOR UPDATE",
        [name],
        client,
      );
      if (!profile) return "missing";
      const live = await this.#row<{ n: number }>(
        "SELECT count(*)::int AS n FROM clusters WHERE profile_id = $1 AND status <> 'deleted'",
        [profile.id],
        client,
      );
      if ((live?.n ?? 0) > 0) return "has_clusters";
      for (const sql of [
        "DELETE FROM events WHERE cluster_id IN (SELECT id FROM clusters WHERE profile_id = $1)",
        "DELETE FROM jobs WHERE cluster_id IN (SELECT id FROM clusters WHERE profile_id = $1)",
        "DELETE FROM scale_jobs WHERE cluster_id IN (SELECT id FROM clusters WHERE profile_id = $1)",
        "DELETE FROM clusters WHERE profile_id = $1",
        "DELETE FROM idempotency WHERE profile_id = $1",
        "DELETE FROM profiles WHERE id = $1",
      ]) {
        await client.query(sql, [profile.id]);
      }
      return "deleted";
    });
  }

  // ------------------------------------------------------------ clusters

  async createCluster(
    input: NewCluster,
    idempotency: { key: string; request_hash: string } | undefined,
    answer: (cluster: ClusterRecord) => Omit<IdempotentAnswer, "request_hash">,
    firstEvent: Record<string, unknown>,
    lease?: JobLease,
  ): Promise<CreateClusterOutcome> {
    // Two replicas creating the same name (or replaying the same key) at once: one commits, the
    // other's insert meets the unique index; tried again, it sees the winner's row.
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#createCluster(input, idempotency, answer, firstEvent, lease);
      } catch (error) {
        if (!isUniqueViolation(error) || attempt >= 3) throw error;
      }
    }
  }

  async #createCluster(
    input: NewCluster,
    idempotency: { key: string; request_hash: string } | undefined,
    answer: (cluster: ClusterRecord) => Omit<IdempotentAnswer, "request_hash">,
    firstEvent: Record<string, unknown>,
    lease: JobLease | undefined,
  ): Promise<CreateClusterOutcome> {
    const outcome = await this.#tx(async (client): Promise<CreateClusterOutcome> => {
      // One create of a profile at a time: the profile's row lock orders them.
      await client.query("SELECT id FROM profiles WHERE id = $1 FOR UPDATE", [input.profile_id]);
      if (idempotency) {
        const seen = await this.#row<IdempotentAnswer>(
          "SELECT request_hash, status_code, body, location FROM idempotency WHERE profile_id = $1 AND key = $2",
          [input.profile_id, idempotency.key],
          client,
        );
        if (seen) {
          return seen.request_hash === idempotency.request_hash
            ? { kind: "replay", answer: seen }
            : { kind: "key_reused" };
        }
      }
      const existing = toCluster(
        await this.#row<ClusterRow>(
          `SELECT ${clusterColumns} FROM clusters WHERE account = $1 AND region = $2 AND stack_name = $3
             AND status IN ('creating', 'online', 'deleting')`,
          [input.account, input.region, input.stack_name],
          client,
        ),
      );
      if (existing) return { kind: "conflict", existing };
      // Counted under the profile's row lock (above): two creates cannot both take the last place.
      const quota = await this.#row<{ limit: number; live: number }>(
        `SELECT p.max_clusters AS "limit", (SELECT count(*)::int FROM clusters c WHERE c.profile_id = p.id
           AND c.superseded = 0 AND c.status <> 'deleted' AND NOT (c.stack_name = $2 AND c.region = $3)) AS live
         FROM profiles p WHERE p.id = $1`,
        [input.profile_id, input.stack_name, input.region],
        client,
      );
      if (quota && quota.live >= quota.limit) return { kind: "quota", ...quota };
      const at = now();
      await client.query(
        "UPDATE clusters SET superseded = 1 WHERE profile_id = $1 AND stack_name = $2 AND region = $3 AND superseded = 0",
        [input.profile_id, input.stack_name, input.region],
      );
      const cluster = toCluster(
        await this.#row<ClusterRow>(
          `INSERT INTO clusters (profile_id, stack_name, region, account, status, cluster_size, options, channel, arch,
             create_token, created_at, updated_at)
           VALUES ($1, $2, $3, $4, 'creating', $5, $6, $7, $8, $10, $9, $9) RETURNING ${clusterColumns}`,
          [
            input.profile_id,
            input.stack_name,
            input.region,
            input.account,
            input.cluster_size,
            JSON.stringify(input.options),
            input.options.channel ?? null,
            input.options.arch ?? null,
            at,
            input.create_token,
          ],
          client,
        ),
      );
      if (!cluster) throw new Error("the cluster insert returned no row");
      const job = await this.#insertJob(client, cluster.id, "create", "launch", at, lease);
      await this.#insertEvent(client, cluster.id, firstEvent);
      if (idempotency) {
        const reply = answer(cluster);
        await client.query(
          `INSERT INTO idempotency (profile_id, key, request_hash, status_code, body, location, created_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7)`,
          [
            input.profile_id,
            idempotency.key,
            idempotency.request_hash,
            reply.status_code,
            reply.body,
            reply.location,
            at,
          ],
        );
      }
      return { kind: "created", cluster, job };
    });
    return outcome;
  }

  async startDestroy(
    clusterId: number,
    firstEvent: Record<string, unknown>,
    lease?: JobLease,
  ): Promise<StartDestroyOutcome> {
    try {
      return await this.#tx(async (client): Promise<StartDestroyOutcome> => {
        const cluster = toCluster(
          await this.#row<ClusterRow>(
            `SELECT ${clusterColumns} FROM clusters WHERE id = $1 FOR UPDATE`,
            [clusterId],
            client,
          ),
        );
        if (!cluster) throw new Error(`no cluster ${clusterId}`);
        if (cluster.status === "deleting" || cluster.status === "deleted")
          return { kind: "unchanged", cluster };
        if (cluster.status === "creating") return { kind: "busy", cluster };
        // Under the cluster's row lock (above), which startScale takes too: no scale starts in between.
        if (
          await this.#row(
            "SELECT 1 FROM scale_jobs WHERE cluster_id = $1 AND state = 'running'",
            [clusterId],
            client,
          )
        )
          return { kind: "scaling", cluster };
        if (cluster.status === "failed" && !cluster.stack_id) {
          // Its create made no stack: nothing in AWS to delete, no job, and never a 409 because a
          // newer cluster has taken the name since.
          await this.#patchCluster(client, clusterId, { status: "deleted" });
          await this.#insertEvent(client, clusterId, firstEvent);
          await this.#insertEvent(client, clusterId, {
            time: now(),
            step: "destroy",
            message: "cluster deleted (its create made no stack, so nothing in AWS was touched)",
            final: true,
          });
          return { kind: "unchanged", cluster: { ...cluster, status: "deleted" } };
        }
        await client.query("UPDATE clusters SET status = 'deleting', updated_at = $1 WHERE id = $2", [
          now(),
          clusterId,
        ]);
        const job = await this.#insertJob(client, clusterId, "destroy", "delete", now(), lease);
        await this.#insertEvent(client, clusterId, firstEvent);
        return { kind: "started", cluster: { ...cluster, status: "deleting" }, job };
      });
    } catch (error) {
      // A failed cluster whose name a newer cluster took again: that one is the name's owner now.
      if (isUniqueViolation(error)) {
        const cluster = await this.clusterById(clusterId);
        if (cluster) return { kind: "busy", cluster };
      }
      throw error;
    }
  }

  async #insertJob(
    client: pg.PoolClient,
    clusterId: number,
    kind: "create" | "destroy",
    phase: JobPhase,
    at: string,
    lease: JobLease | undefined,
  ): Promise<JobRecord> {
    // Born leased (when a server is about to run it): never free for another, not for an instant.
    const ms = lease ? Math.max(0, Date.parse(lease.until) - Date.now()) : null;
    return (await this.#row<JobRecord>(
      `INSERT INTO jobs (cluster_id, kind, phase, attempts, created_at, updated_at, lease_owner, lease_until,
         lease_generation)
       VALUES ($1, $2, $3, 1, $4, $4, $5, now() + $6 * interval '1 millisecond', $7)
       RETURNING ${jobColumns}`,
      [clusterId, kind, phase, at, lease?.owner ?? null, ms, lease ? 1 : 0],
      client,
    )) as JobRecord;
  }

  async #insertEvent(on: Queryable, clusterId: number, event: Record<string, unknown>): Promise<void> {
    await on.query("INSERT INTO events (cluster_id, event) VALUES ($1, $2)", [
      clusterId,
      JSON.stringify(event),
    ]);
    // Inside a transaction the notification goes out when it commits.
    await this.#notify(clusterId, on);
  }

  async clusterByName(
    profileId: number,
    stackName: string,
    region?: string,
  ): Promise<ClusterRecord | undefined> {
    const row =
      region === undefined
        ? await this.#row<ClusterRow>(
            `SELECT ${clusterColumns} FROM clusters WHERE profile_id = $1 AND stack_name = $2 ${newestFirst}`,
            [profileId, stackName],
          )
        : await this.#row<ClusterRow>(
            `SELECT ${clusterColumns} FROM clusters WHERE profile_id = $1 AND stack_name = $2 AND region = $3 ${newestFirst}`,
            [profileId, stackName, region],
          );
    return toCluster(row);
  }

  async clusterViewByName(
    profileId: number,
    stackName: string,
    region?: string,
  ): Promise<ClusterView | undefined> {
    const columns =
      "stack_name, region, status, cluster_size, result, reasons, image_warning, created_at, updated_at";
    const row =
      region === undefined
        ? await this.#row<ViewRow>(
            `SELECT ${columns} FROM clusters WHERE profile_id = $1 AND stack_name = $2 ${newestFirst}`,
            [profileId, stackName],
          )
        : await this.#row<ViewRow>(
            `SELECT ${columns} FROM clusters WHERE profile_id = $1 AND stack_name = $2 AND region = $3 ${newestFirst}`,
            [profileId, stackName, region],
          );
    if (!row) return undefined;
    const { result, reasons, image_warning, ...rest } = row;
    return { ...rest, result_json: result, reasons_json: reasons, image_warning_json: image_warning };
  }

  async clusterById(id: number): Promise<ClusterRecord | undefined> {
    return toCluster(
      await this.#row<ClusterRow>(`SELECT ${clusterColumns} FROM clusters WHERE id = $1`, [id]),
    );
  }

  async listClusters(profileId: number, region?: string, includeDeleted = false): Promise<ClusterSummary[]> {
    const params: unknown[] = [profileId];
    if (region !== undefined) params.push(region);
    return this.#rows<ClusterSummary>(
      `SELECT stack_name, region, status, cluster_size, created_at, stack_id, channel, arch,
         (image_warning::json ->> 'warning') AS image_warning FROM clusters
       WHERE profile_id = $1 AND superseded = 0 ${region === undefined ? "" : "AND region = $2"}
         ${includeDeleted ? "" : "AND status <> 'deleted'"}
       ORDER BY id DESC`,
      params,
    );
  }

  async updateCluster(id: number, patch: ClusterPatch, fence?: JobFence): Promise<void> {
    if (!fence) return this.#patchCluster(this.pool, id, patch);
    await this.#fenced(fence, (client) => this.#patchCluster(client, id, patch));
  }

  /**
   * Runs `write` in one transaction only while the fence's job still has that owner and generation
   * and is not done; else LeaseLostError, nothing written. The job's row stays locked until the
   * commit, so a claim cannot move the lease between the check and the write (claims skip a
   * locked row and take it on their next round).
   */
  async #fenced<T>(fence: JobFence, write: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    return this.#tx(async (client) => {
      const row = await this.#row(
        `SELECT 1 FROM jobs WHERE id = $1 AND lease_owner = $2 AND lease_generation = $3 AND phase <> 'done'
         FOR UPDATE`,
        [fence.job_id, fence.owner, fence.generation],
        client,
      );
      if (!row) throw new LeaseLostError(fence);
      return write(client);
    });
  }

  async holdsLease(fence: JobFence): Promise<boolean> {
    const row = await this.#row(
      "SELECT 1 FROM jobs WHERE id = $1 AND lease_owner = $2 AND lease_generation = $3 AND phase <> 'done'",
      [fence.job_id, fence.owner, fence.generation],
    );
    return row !== undefined;
  }

  async #patchCluster(on: Queryable, id: number, patch: ClusterPatch): Promise<void> {
    const params: unknown[] = [id, now()];
    const sets: string[] = ["updated_at = $2"];
    const set = (column: string, value: unknown) => {
      params.push(value);
      sets.push(`${column} = $${params.length}`);
    };
    if (patch.status !== undefined) set("status", patch.status satisfies ClusterStatus);
    if (patch.stack_id !== undefined) set("stack_id", patch.stack_id);
    if (patch.result !== undefined) set("result", JSON.stringify(patch.result));
    if (patch.reasons !== undefined) set("reasons", JSON.stringify(patch.reasons));
    await on.query(`UPDATE clusters SET ${sets.join(", ")} WHERE id = $1`, params);
    if (patch.status !== undefined) await this.#notify(id, on);
  }

  // ------------------------------------------------------------ events

  async addEvent(clusterId: number, event: Record<string, unknown>, fence?: JobFence): Promise<void> {
    if (fence) await this.#fenced(fence, (client) => this.#insertEvent(client, clusterId, event));
    else await this.#tx((client) => this.#insertEvent(client, clusterId, event));
  }

  async listEvents(clusterId: number, afterSeq = 0): Promise<StoredEvent[]> {
    // seq is BIGINT: node-postgres gives it as text (exact); sequence numbers stay below 2^53.
    const rows = await this.#rows<{ seq: string; event: string }>(
      "SELECT seq, event FROM events WHERE cluster_id = $1 AND seq > $2 ORDER BY seq",
      [clusterId, String(afterSeq)],
    );
    return rows.map((row) => ({
      seq: Number(row.seq),
      ...(JSON.parse(row.event) as Record<string, unknown>),
    }));
  }

  // ------------------------------------------------------------ jobs

  async unfinishedJobs(): Promise<JobRecord[]> {
    return this.#rows<JobRecord>(`SELECT ${jobColumns} FROM jobs WHERE phase <> 'done' ORDER BY id`);
  }

  /**
   * Takes the free jobs in one statement: SKIP LOCKED passes over jobs another replica is taking
   * at this moment (neither waits for the other, and no job is taken twice). The lease runs on the
   * database's clock for as long as `until` is ahead of this machine's.
   */
  async claimJobs(owner: string, until: string, jobId?: number): Promise<JobRecord[]> {
    const ms = Math.max(0, Date.parse(until) - Date.now());
    const rows = await this.#rows<JobRecord>(
      `WITH free AS (
         SELECT id FROM jobs
         WHERE phase <> 'done' AND (lease_owner IS NULL OR lease_owner = $1 OR lease_until < now())
           ${jobId === undefined ? "" : "AND id = $3"}
         ORDER BY id
         FOR UPDATE SKIP LOCKED
       )
       UPDATE jobs SET lease_owner = $1, lease_until = now() + $2 * interval '1 millisecond',
         -- A lease passing to another holder gets the next generation: the last holder's fence no
         -- longer matches. Its own holder taking it again keeps it (its running job stays valid).
         lease_generation = CASE WHEN jobs.lease_owner = $1 THEN jobs.lease_generation ELSE jobs.lease_generation + 1 END
       FROM free WHERE jobs.id = free.id
       RETURNING ${jobColumns
         .split(", ")
         .map((c) => `jobs.${c}`)
         .join(", ")}`,
      jobId === undefined ? [owner, ms] : [owner, ms, jobId],
    );
    return rows.sort((a, b) => a.id - b.id);
  }

  async renewLeases(owner: string, until: string): Promise<HeldLease[]> {
    const ms = Math.max(0, Date.parse(until) - Date.now());
    return this.#rows<HeldLease>(
      `UPDATE jobs SET lease_until = now() + $2 * interval '1 millisecond' WHERE lease_owner = $1 AND phase <> 'done'
       RETURNING id, lease_generation`,
      [owner, ms],
    );
  }

  async releaseLeases(owner: string): Promise<void> {
    await this.pool.query("UPDATE jobs SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = $1", [
      owner,
    ]);
  }

  async setJobPhase(jobId: number, phase: JobPhase, fence?: JobFence): Promise<JobRecord> {
    const write = async (on: Queryable) =>
      (await this.#row<JobRecord>(
        `UPDATE jobs SET attempts = CASE WHEN phase = $2 THEN attempts + 1 ELSE 1 END,
           phase = $2, updated_at = $3 WHERE id = $1 RETURNING ${jobColumns}`,
        [jobId, phase, now()],
        on,
      )) as JobRecord;
    return fence ? this.#fenced({ ...fence, job_id: jobId }, write) : write(this.pool);
  }

  async completeJob(jobId: number, clusterId: number, patch: ClusterPatch, fence?: JobFence): Promise<void> {
    const write = async (client: pg.PoolClient) => {
      await client.query("UPDATE jobs SET phase = 'done', updated_at = $1 WHERE id = $2", [now(), jobId]);
      await this.#patchCluster(client, clusterId, patch);
      await this.#notify(clusterId, client);
    };
    await (fence ? this.#fenced({ ...fence, job_id: jobId }, write) : this.#tx(write));
  }

  async startScale(
    clusterId: number,
    key: string,
    workers: number,
    lease: JobLease,
  ): Promise<StartScaleOutcome> {
    return this.startDay2(clusterId, key, { kind: "scale", workers }, lease);
  }

  async startDay2(
    clusterId: number,
    key: string,
    job: NewDay2Job,
    lease: JobLease,
  ): Promise<StartScaleOutcome> {
    const ms = Math.max(0, Date.parse(lease.until) - Date.now());
    return this.#tx(async (client): Promise<StartScaleOutcome> => {
      // The cluster's row lock orders this with startDestroy and with other scales of it.
      const cluster = toCluster(
        await this.#row<ClusterRow>(
          `SELECT ${clusterColumns} FROM clusters WHERE id = $1 FOR UPDATE`,
          [clusterId],
          client,
        ),
      );
      if (!cluster) throw new Error(`no cluster ${clusterId}`);
      const running = await this.#row<ScaleRow>(
        `SELECT ${scaleColumns} FROM scale_jobs WHERE cluster_id = $1 AND state = 'running'`,
        [clusterId],
        client,
      );
      if (running) return { kind: "busy", job: toScale(running) };
      if (cluster.status !== "online") return { kind: "not_online", cluster };
      const row = await this.#row<ScaleRow>(
        `INSERT INTO scale_jobs (cluster_id, key, kind, workers, params, state, started_at, lease_owner, lease_until, lease_generation)
         VALUES ($1, $2, $3, $4, $5, 'running', $6, $7, now() + $8 * interval '1 millisecond', 1) RETURNING ${scaleColumns}`,
        [
          clusterId,
          key,
          job.kind,
          job.workers ?? null,
          job.params ? JSON.stringify(job.params) : null,
          now(),
          lease.owner,
          ms,
        ],
        client,
      );
      return { kind: "started", job: toScale(row as ScaleRow) };
    });
  }

  async latestScale(clusterId: number, kind?: Day2Kind): Promise<ScaleJobRecord | undefined> {
    const row = await this.#row<ScaleRow>(
      kind
        ? `SELECT ${scaleColumns} FROM scale_jobs WHERE cluster_id = $1 AND kind = $2 ORDER BY id DESC LIMIT 1`
        : `SELECT ${scaleColumns} FROM scale_jobs WHERE cluster_id = $1 ORDER BY id DESC LIMIT 1`,
      kind ? [clusterId, kind] : [clusterId],
    );
    return row ? toScale(row) : undefined;
  }

  async recordImageWarning(
    clusterId: number,
    warning: ImageWarning | null,
    event: Record<string, unknown> | undefined,
  ): Promise<boolean> {
    return this.#tx(async (client) => {
      // The row lock makes a second replica's update wait, then find the key already there.
      const changed = await client.query(
        `UPDATE clusters SET image_warning = $2, image_warning_key = $3
         WHERE id = $1 AND image_warning_key IS DISTINCT FROM $3`,
        [clusterId, warning ? JSON.stringify(warning) : null, warning?.key ?? null],
      );
      if (!changed.rowCount) return false;
      if (event) await this.#insertEvent(client, clusterId, event);
      await this.#notify(clusterId, client);
      return true;
    });
  }

  async imageWarning(clusterId: number): Promise<ImageWarning | null> {
    const row = await this.#row<{ image_warning: string | null }>(
      "SELECT image_warning FROM clusters WHERE id = $1",
      [clusterId],
    );
    return row?.image_warning ? (JSON.parse(row.image_warning) as ImageWarning) : null;
  }

  async claimScales(owner: string, until: string): Promise<ScaleJobRecord[]> {
    const ms = Math.max(0, Date.parse(until) - Date.now());
    const rows = await this.#rows<ScaleRow>(
      `WITH free AS (
         SELECT id FROM scale_jobs
         WHERE state = 'running' AND (lease_owner IS NULL OR lease_owner = $1 OR lease_until < now())
         FOR UPDATE SKIP LOCKED
       )
       UPDATE scale_jobs SET lease_owner = $1, lease_until = now() + $2 * interval '1 millisecond',
         lease_generation = CASE WHEN scale_jobs.lease_owner = $1 THEN scale_jobs.lease_generation
           ELSE scale_jobs.lease_generation + 1 END
       FROM free WHERE scale_jobs.id = free.id
       RETURNING ${scaleColumns
         .split(", ")
         .map((c) => `scale_jobs.${c}`)
         .join(", ")}`,
      [owner, ms],
    );
    return rows.map(toScale).sort((a, b) => a.id - b.id);
  }

  async finishScale(
    id: number,
    fence: JobFence,
    end: { state: "succeeded" | "failed"; message: string | null; reasons: string[] },
    result?: unknown,
    jobResult?: unknown,
  ): Promise<void> {
    await this.#tx(async (client) => {
      const row = await this.#row<{ cluster_id: number }>(
        `SELECT cluster_id FROM scale_jobs WHERE id = $1 AND lease_owner = $2 AND lease_generation = $3
           AND state = 'running' FOR UPDATE`,
        [id, fence.owner, fence.generation],
        client,
      );
      if (!row) throw new LeaseLostError(fence);
      await client.query(
        "UPDATE scale_jobs SET state = $2, message = $3, reasons = $4, finished_at = $5, result = $6, lease_owner = NULL, lease_until = NULL WHERE id = $1",
        [
          id,
          end.state,
          end.message,
          JSON.stringify(end.reasons),
          now(),
          jobResult === undefined ? null : JSON.stringify(jobResult),
        ],
      );
      if (result !== undefined) await this.#patchCluster(client, row.cluster_id, { result, reasons: [] });
      await this.#notify(row.cluster_id, client);
    });
  }

  async openStream(
    profileId: number,
    owner: string,
    limit: number,
    ttlMs: number,
  ): Promise<{ id: number } | { held: number }> {
    return this.#tx(async (client) => {
      // The profile's row lock: two replicas opening its streams at once count one after the other.
      await client.query("SELECT id FROM profiles WHERE id = $1 FOR UPDATE", [profileId]);
      await client.query("DELETE FROM event_streams WHERE profile_id = $1 AND until < now()", [profileId]);
      const held = (await this.#row<{ n: number }>(
        "SELECT count(*)::int AS n FROM event_streams WHERE profile_id = $1",
        [profileId],
        client,
      )) ?? { n: 0 };
      if (held.n >= limit) return { held: held.n };
      const row = await this.#row<{ id: number }>(
        "INSERT INTO event_streams (profile_id, owner, until) VALUES ($1, $2, now() + $3 * interval '1 millisecond') RETURNING id",
        [profileId, owner, ttlMs],
        client,
      );
      return { id: (row as { id: number }).id };
    });
  }

  async renewStream(id: number, ttlMs: number): Promise<void> {
    await this.pool.query(
      "UPDATE event_streams SET until = now() + $2 * interval '1 millisecond' WHERE id = $1",
      [id, ttlMs],
    );
  }

  async closeStream(id: number): Promise<void> {
    await this.pool.query("DELETE FROM event_streams WHERE id = $1", [id]);
  }

  async purgeIdempotency(olderThan: string): Promise<number> {
    return (
      (await this.pool.query("DELETE FROM idempotency WHERE created_at < $1", [olderThan])).rowCount ?? 0
    );
  }

  // ------------------------------------------------------------ the fleet's poller

  async #leadPoll(key: string, owner: string, ttlMs: number, gapMs: number): Promise<boolean> {
    // A lease just taken over (released, or its holder died) may follow the last holder's call
    // closely: then this cycle uses that answer, and the next one calls.
    const row = await this.#row<{ owner: string; due: boolean }>(
      `INSERT INTO poll_leases (key, owner, until) VALUES ($1, $2, now() + $3 * interval '1 millisecond')
       ON CONFLICT (key) DO UPDATE SET owner = EXCLUDED.owner, until = EXCLUDED.until
         WHERE poll_leases.owner = EXCLUDED.owner OR poll_leases.until < now()
       RETURNING owner, (polled_at IS NULL OR polled_at < now() - $4 * interval '1 millisecond') AS due`,
      [key, owner, ttlMs, gapMs],
    );
    return row?.owner === owner && row.due;
  }

  async #publishPoll(key: string, owner: string, states: string): Promise<number> {
    const row = await this.#row<{ generation: number }>(
      "UPDATE poll_leases SET generation = generation + 1, states = $3, polled_at = now() WHERE key = $1 AND owner = $2 RETURNING generation",
      [key, owner, states],
    );
    return row?.generation ?? 0;
  }

  async #latestPoll(key: string): Promise<{ generation: number; states: string } | undefined> {
    const row = await this.#row<{ generation: number; states: string | null }>(
      "SELECT generation, states FROM poll_leases WHERE key = $1",
      [key],
    );
    return row?.states ? { generation: row.generation, states: row.states } : undefined;
  }

  async #releasePolls(owner: string, key?: string): Promise<void> {
    // The answer stays for the followers; only the lease ends.
    await this.pool.query(
      `UPDATE poll_leases SET until = now() - interval '1 second' WHERE owner = $1 ${key === undefined ? "" : "AND key = $2"}`,
      key === undefined ? [owner] : [owner, key],
    );
  }
}

interface ScaleRow extends Omit<ScaleJobRecord, "reasons" | "params" | "result"> {
  reasons: string;
  params: string | null;
  result: string | null;
}

function toScale(row: ScaleRow): ScaleJobRecord {
  return {
    ...row,
    reasons: JSON.parse(row.reasons) as string[],
    params: row.params ? (JSON.parse(row.params) as Record<string, unknown>) : null,
    result: row.result ? (JSON.parse(row.result) as unknown) : null,
  };
}
