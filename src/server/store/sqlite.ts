import { closeSync, mkdirSync, openSync, type Stats, statSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import { OperationError, UsageError } from "../../errors.js";
import { migrations } from "./migrations.js";
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
 * The store holds the admin token's digest, every profile's token digest and sealed AWS secrets:
 * whoever can write it can make themselves admin. Like ssh with its keys, refuse a file others may
 * write or that belongs to someone else (bad set-up: exit 2), naming the fix.
 */
function checkOwnership(path: string, stats: Stats): void {
  const uid = process.getuid?.();
  if (uid !== undefined && stats.uid !== uid) {
    throw new UsageError(
      `the store ${path} belongs to user id ${stats.uid}, not to this server's user (${uid}): ` +
        "whoever owns it can give themselves the admin token; use a store of your own (--db) or chown it",
    );
  }
  const writable = stats.mode & 0o022;
  if (writable) {
    const who = writable & 0o020 ? (writable & 0o002 ? "its group and everyone" : "its group") : "everyone";
    throw new UsageError(
      `the store ${path} is writable by ${who} (mode ${(stats.mode & 0o777).toString(8)}): ` +
        `whoever can write it can give themselves the admin token; run chmod 600 ${path}`,
    );
  }
}

/** A store file SQLite cannot use (corrupt, not a database, unreadable): the error names the file. */
function unusable(path: string, error: unknown): Error {
  if (error instanceof UsageError || error instanceof OperationError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new OperationError(`the store ${path} cannot be used: ${message}`, [], { cause: error });
}

/**
 * The Store on one SQLite file through better-sqlite3: WAL journal (readers never wait for the
 * writer, and a killed process loses no committed transaction), foreign keys on, and numbered
 * migrations. better-sqlite3 is synchronous; each method is one statement or one transaction.
 */
export class SqliteStore implements Store {
  readonly db: Database.Database;
  private readonly statements = new Map<string, Database.Statement>();
  /** In-process change listeners (onClusterChange): one file, one server process. */
  private readonly listeners = new Set<(clusterId: number) => void>();
  /** Changes made inside the running transaction, announced after it commits. */
  private pending = new Set<number>();
  /** The file as opened: /healthz fails once the path no longer leads to it (deleted, replaced). */
  private readonly opened: Stats | undefined;

  constructor(readonly path: string) {
    if (path !== ":memory:") {
      mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      // Token digests and sealed secrets: readable by the server's user only (SQLite gives its
      // -wal and -shm files the database file's mode).
      closeSync(openSync(path, "a", 0o600));
      this.opened = statSync(path);
      checkOwnership(path, this.opened);
    }
    try {
      this.db = new Database(path);
      this.db.pragma("journal_mode = WAL");
      this.db.pragma("synchronous = NORMAL");
      this.db.pragma("foreign_keys = ON");
      this.db.pragma("busy_timeout = 5000");
    } catch (error) {
      throw unusable(path, error);
    }
  }

  async health(): Promise<void> {
    this.stmt("SELECT 1").get();
    if (!this.opened) return;
    let now: Stats;
    try {
      now = statSync(this.path);
    } catch {
      throw new Error(`the store file ${this.path} was deleted`);
    }
    if (now.ino !== this.opened.ino || now.dev !== this.opened.dev) {
      throw new Error(`the store file ${this.path} was replaced by another file`);
    }
  }

  private stmt(sql: string): Database.Statement {
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  /** Applies the migrations the file has not seen yet; returns the schema version. */
  migrateSync(): number {
    this.db.exec(
      "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)",
    );
    const done = new Set(
      (this.db.prepare("SELECT version FROM schema_migrations").all() as { version: number }[]).map(
        (r) => r.version,
      ),
    );
    for (const migration of migrations) {
      if (done.has(migration.version)) continue;
      this.db.transaction(() => {
        this.db.exec(migration.sql);
        this.db
          .prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)")
          .run(migration.version, migration.name, now());
      })();
    }
    const latest = Math.max(0, ...migrations.map((m) => m.version));
    const known = Math.max(0, ...done);
    if (known > latest) {
      throw new Error(
        `the database has schema version ${known}, newer than this pandacluster knows (${latest})`,
      );
    }
    return latest;
  }

  async migrate(): Promise<void> {
    try {
      this.migrateSync();
    } catch (error) {
      throw unusable(this.path, error);
    }
  }

  async close(): Promise<void> {
    this.listeners.clear();
    if (this.db.open) this.db.close();
  }

  onClusterChange(listener: (clusterId: number) => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /**
   * Announces a change after the statement or transaction that made it (better-sqlite3 runs them
   * synchronously, so a microtask comes after the commit; a rolled-back change is announced too,
   * which costs a listener one needless read).
   */
  private changed(clusterId: number): void {
    this.pending.add(clusterId);
    queueMicrotask(() => this.announce());
  }

  private announce(): void {
    if (this.pending.size === 0) return;
    const ids = [...this.pending];
    this.pending = new Set();
    for (const id of ids) for (const listener of this.listeners) listener(id);
  }

  async getSetting(key: string): Promise<string | undefined> {
    const row = this.stmt("SELECT value FROM settings WHERE key = ?").get(key) as
      | { value: string }
      | undefined;
    return row?.value;
  }

  async setSettingOnce(key: string, value: string): Promise<string> {
    this.stmt("INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING").run(key, value);
    return (await this.getSetting(key)) as string;
  }

  async createProfile(profile: NewProfile): Promise<ProfileRecord | "exists"> {
    try {
      const info = this.stmt(
        `INSERT INTO profiles (name, email, token_hash, aws_id, aws_secret_sealed, aws_region, public_keys, max_clusters, created_at, role_arn, external_id)
         VALUES (@name, @email, @token_hash, @aws_id, @aws_secret_sealed, @aws_region, @public_keys, @max_clusters, @created_at, @role_arn, @external_id)`,
      ).run({
        ...profile,
        role_arn: profile.role_arn ?? null,
        external_id: profile.external_id ?? null,
        public_keys: profile.public_keys ? JSON.stringify(profile.public_keys) : null,
        max_clusters: profile.max_clusters ?? defaultMaxClusters,
        created_at: now(),
      });
      return (await this.profileById(Number(info.lastInsertRowid))) as ProfileRecord;
    } catch (error) {
      if ((error as { code?: string }).code === "SQLITE_CONSTRAINT_UNIQUE") return "exists";
      throw error;
    }
  }

  async profileByTokenHash(tokenHash: string): Promise<ProfileRecord | undefined> {
    return toProfile(this.stmt("SELECT * FROM profiles WHERE token_hash = ?").get(tokenHash) as ProfileRow);
  }

  async profileById(id: number): Promise<ProfileRecord | undefined> {
    return toProfile(this.stmt("SELECT * FROM profiles WHERE id = ?").get(id) as ProfileRow);
  }

  async listProfiles(): Promise<ProfileRecord[]> {
    return (this.stmt("SELECT * FROM profiles ORDER BY id").all() as ProfileRow[]).map(
      (row) => toProfile(row) as ProfileRecord,
    );
  }

  async setProfileQuota(name: string, maxClusters: number): Promise<ProfileRecord | undefined> {
    this.stmt("UPDATE profiles SET max_clusters = ? WHERE name = ?").run(maxClusters, name);
    return toProfile(this.stmt("SELECT * FROM profiles WHERE name = ?").get(name) as ProfileRow | undefined);
  }

  async setProfileAccess(name: string, access: ProfileAccess): Promise<ProfileRecord | undefined> {
    if ("role_arn" in access) {
      this.stmt(
        "UPDATE profiles SET role_arn = ?, external_id = coalesce(external_id, ?), aws_id = NULL, aws_secret_sealed = NULL WHERE name = ?",
      ).run(access.role_arn, access.external_id, name);
    } else {
      this.stmt("UPDATE profiles SET role_arn = NULL, aws_id = ?, aws_secret_sealed = ? WHERE name = ?").run(
        access.aws_id,
        access.aws_secret_sealed,
        name,
      );
    }
    return toProfile(this.stmt("SELECT * FROM profiles WHERE name = ?").get(name) as ProfileRow | undefined);
  }

  async deleteProfile(name: string): Promise<"deleted" | "missing" | "has_clusters"> {
    return this.db.transaction((): "deleted" | "missing" | "has_clusters" => {
      const profile = this.stmt("SELECT id FROM profiles WHERE name = ?").get(name) as
        | { id: number }
        | undefined;
      if (!profile) return "missing";
      const live = this.stmt(
        "SELECT count(*) AS n FROM clusters WHERE profile_id = ? AND status <> 'deleted'",
      ).get(profile.id) as { n: number };
      if (live.n > 0) return "has_clusters";
      for (const sql of [
        "DELETE FROM events WHERE cluster_id IN (SELECT id FROM clusters WHERE profile_id = ?)",
        "DELETE FROM jobs WHERE cluster_id IN (SELECT id FROM clusters WHERE profile_id = ?)",
        "DELETE FROM scale_jobs WHERE cluster_id IN (SELECT id FROM clusters WHERE profile_id = ?)",
        "DELETE FROM clusters WHERE profile_id = ?",
        "DELETE FROM idempotency WHERE profile_id = ?",
        "DELETE FROM profiles WHERE id = ?",
      ]) {
        this.stmt(sql).run(profile.id);
      }
      return "deleted";
    })();
  }

  async createCluster(
    input: NewCluster,
    idempotency: { key: string; request_hash: string } | undefined,
    answer: (cluster: ClusterRecord) => Omit<IdempotentAnswer, "request_hash">,
    firstEvent: Record<string, unknown>,
    lease?: JobLease,
  ): Promise<CreateClusterOutcome> {
    return this.db.transaction((): CreateClusterOutcome => {
      if (idempotency) {
        const seen = this.stmt(
          "SELECT request_hash, status_code, body, location FROM idempotency WHERE profile_id = ? AND key = ?",
        ).get(input.profile_id, idempotency.key) as IdempotentAnswer | undefined;
        if (seen) {
          return seen.request_hash === idempotency.request_hash
            ? { kind: "replay", answer: seen }
            : { kind: "key_reused" };
        }
      }
      const existing = toCluster(
        this.stmt(
          `SELECT * FROM clusters WHERE account = ? AND region = ? AND stack_name = ?
             AND status IN ('creating', 'online', 'deleting')`,
        ).get(input.account, input.region, input.stack_name) as ClusterRow | undefined,
      );
      if (existing) return { kind: "conflict", existing };
      const quota = this.stmt(
        `SELECT p.max_clusters AS "limit", (SELECT count(*) FROM clusters c WHERE c.profile_id = p.id
           AND c.superseded = 0 AND c.status <> 'deleted' AND NOT (c.stack_name = ? AND c.region = ?)) AS live
         FROM profiles p WHERE p.id = ?`,
      ).get(input.stack_name, input.region, input.profile_id) as { limit: number; live: number } | undefined;
      if (quota && quota.live >= quota.limit) return { kind: "quota", ...quota };
      const at = now();
      this.stmt(
        "UPDATE clusters SET superseded = 1 WHERE profile_id = ? AND stack_name = ? AND region = ? AND superseded = 0",
      ).run(input.profile_id, input.stack_name, input.region);
      const info = this.stmt(
        `INSERT INTO clusters (profile_id, stack_name, region, account, status, cluster_size, options, channel, arch,
           create_token, created_at, updated_at)
         VALUES (?, ?, ?, ?, 'creating', ?, ?, ?, ?, ?, ?, ?)`,
      ).run(
        input.profile_id,
        input.stack_name,
        input.region,
        input.account,
        input.cluster_size,
        JSON.stringify(input.options),
        input.options.channel ?? null,
        input.options.arch ?? null,
        input.create_token,
        at,
        at,
      );
      const clusterId = Number(info.lastInsertRowid);
      const job = this.insertJob(clusterId, "create", "launch", at, lease);
      this.insertEvent(clusterId, firstEvent);
      const cluster = toCluster(
        this.stmt("SELECT * FROM clusters WHERE id = ?").get(clusterId) as ClusterRow,
      );
      if (!cluster) throw new Error("cluster vanished inside its own transaction");
      if (idempotency) {
        const reply = answer(cluster);
        this.stmt(
          `INSERT INTO idempotency (profile_id, key, request_hash, status_code, body, location, created_at)
           VALUES (?, ?, ?, ?, ?, ?, ?)`,
        ).run(
          input.profile_id,
          idempotency.key,
          idempotency.request_hash,
          reply.status_code,
          reply.body,
          reply.location,
          at,
        );
      }
      return { kind: "created", cluster, job };
    })();
  }

  async startDestroy(
    clusterId: number,
    firstEvent: Record<string, unknown>,
    lease?: JobLease,
  ): Promise<StartDestroyOutcome> {
    return this.db.transaction((): StartDestroyOutcome => {
      const cluster = toCluster(
        this.stmt("SELECT * FROM clusters WHERE id = ?").get(clusterId) as ClusterRow,
      );
      if (!cluster) throw new Error(`no cluster ${clusterId}`);
      if (cluster.status === "deleting" || cluster.status === "deleted")
        return { kind: "unchanged", cluster };
      if (cluster.status === "creating") return { kind: "busy", cluster };
      if (this.stmt("SELECT 1 FROM scale_jobs WHERE cluster_id = ? AND state = 'running'").get(clusterId))
        return { kind: "scaling", cluster };
      if (cluster.status === "failed" && !cluster.stack_id) {
        // Its create made no stack: nothing in AWS to delete, no job, and never a 409 because a
        // newer cluster has taken the name since.
        this.stmt("UPDATE clusters SET status = 'deleted', updated_at = ? WHERE id = ?").run(
          now(),
          clusterId,
        );
        this.insertEvent(clusterId, firstEvent);
        this.insertEvent(clusterId, {
          time: now(),
          step: "destroy",
          message: "cluster deleted (its create made no stack, so nothing in AWS was touched)",
          final: true,
        });
        return { kind: "unchanged", cluster: { ...cluster, status: "deleted" } };
      }
      try {
        this.stmt("UPDATE clusters SET status = 'deleting', updated_at = ? WHERE id = ?").run(
          now(),
          clusterId,
        );
      } catch (error) {
        // A failed cluster whose name a newer cluster took again: that one is the name's owner now.
        if ((error as { code?: string }).code === "SQLITE_CONSTRAINT_UNIQUE")
          return { kind: "busy", cluster };
        throw error;
      }
      const job = this.insertJob(clusterId, "destroy", "delete", now(), lease);
      this.insertEvent(clusterId, firstEvent);
      return { kind: "started", cluster: { ...cluster, status: "deleting" }, job };
    })();
  }

  private insertJob(
    clusterId: number,
    kind: "create" | "destroy",
    phase: JobPhase,
    at: string,
    lease?: JobLease,
  ): JobRecord {
    const info = this.stmt(
      `INSERT INTO jobs (cluster_id, kind, phase, attempts, created_at, updated_at, lease_owner, lease_until,
         lease_generation)
       VALUES (?, ?, ?, 1, ?, ?, ?, ?, ?)`,
    ).run(clusterId, kind, phase, at, at, lease?.owner ?? null, lease?.until ?? null, lease ? 1 : 0);
    return this.stmt("SELECT * FROM jobs WHERE id = ?").get(Number(info.lastInsertRowid)) as JobRecord;
  }

  private insertEvent(clusterId: number, event: Record<string, unknown>): void {
    this.stmt("INSERT INTO events (cluster_id, event) VALUES (?, ?)").run(clusterId, JSON.stringify(event));
    this.changed(clusterId);
  }

  async clusterByName(
    profileId: number,
    stackName: string,
    region?: string,
  ): Promise<ClusterRecord | undefined> {
    const row =
      region === undefined
        ? this.stmt(`SELECT * FROM clusters WHERE profile_id = ? AND stack_name = ? ${newestFirst}`).get(
            profileId,
            stackName,
          )
        : this.stmt(
            `SELECT * FROM clusters WHERE profile_id = ? AND stack_name = ? AND region = ? ${newestFirst}`,
          ).get(profileId, stackName, region);
    return toCluster(row as ClusterRow | undefined);
  }

  async clusterViewByName(
    profileId: number,
    stackName: string,
    region?: string,
  ): Promise<ClusterView | undefined> {
    const columns =
      "stack_name, region, status, cluster_size, result, reasons, image_warning, created_at, updated_at";
    const row = (
      region === undefined
        ? this.stmt(
            `SELECT ${columns} FROM clusters WHERE profile_id = ? AND stack_name = ? ${newestFirst}`,
          ).get(profileId, stackName)
        : this.stmt(
            `SELECT ${columns} FROM clusters WHERE profile_id = ? AND stack_name = ? AND region = ? ${newestFirst}`,
          ).get(profileId, stackName, region)
    ) as ViewRow | undefined;
    if (!row) return undefined;
    const { result, reasons, image_warning, ...rest } = row;
    return { ...rest, result_json: result, reasons_json: reasons, image_warning_json: image_warning };
  }

  async clusterById(id: number): Promise<ClusterRecord | undefined> {
    return toCluster(this.stmt("SELECT * FROM clusters WHERE id = ?").get(id) as ClusterRow | undefined);
  }

  async listClusters(profileId: number, region?: string, includeDeleted = false): Promise<ClusterSummary[]> {
    const sql = `SELECT stack_name, region, status, cluster_size, created_at, stack_id, channel, arch,
      json_extract(image_warning, '$.warning') AS image_warning FROM clusters
      WHERE profile_id = @profile_id AND superseded = 0 ${region === undefined ? "" : "AND region = @region"}
        ${includeDeleted ? "" : "AND status <> 'deleted'"}
      ORDER BY id DESC`;
    const params: Record<string, unknown> = { profile_id: profileId };
    if (region !== undefined) params.region = region;
    return this.stmt(sql).all(params) as ClusterSummary[];
  }

  async updateCluster(id: number, patch: ClusterPatch, fence?: JobFence): Promise<void> {
    if (!fence) return this.patchCluster(id, patch);
    this.fenced(fence, () => this.patchCluster(id, patch));
  }

  /**
   * Runs `write` in one IMMEDIATE transaction (the write lock taken first, so no other connection
   * to the file can move the lease between the check and the write) only while the fence's job
   * still has that owner and generation and is not done; else LeaseLostError, nothing written.
   */
  private fenced<T>(fence: JobFence, write: () => T): T {
    return this.db
      .transaction((): T => {
        if (!this.leaseMatches(fence)) throw new LeaseLostError(fence);
        return write();
      })
      .immediate();
  }

  private leaseMatches(fence: JobFence): boolean {
    return (
      this.stmt(
        "SELECT 1 FROM jobs WHERE id = ? AND lease_owner = ? AND lease_generation = ? AND phase <> 'done'",
      ).get(fence.job_id, fence.owner, fence.generation) !== undefined
    );
  }

  async holdsLease(fence: JobFence): Promise<boolean> {
    return this.leaseMatches(fence);
  }

  private patchCluster(id: number, patch: ClusterPatch): void {
    const sets: string[] = ["updated_at = @updated_at"];
    const params: Record<string, unknown> = { id, updated_at: now() };
    if (patch.status !== undefined) {
      sets.push("status = @status");
      params.status = patch.status satisfies ClusterStatus;
    }
    if (patch.stack_id !== undefined) {
      sets.push("stack_id = @stack_id");
      params.stack_id = patch.stack_id;
    }
    if (patch.result !== undefined) {
      sets.push("result = @result");
      params.result = JSON.stringify(patch.result);
    }
    if (patch.reasons !== undefined) {
      sets.push("reasons = @reasons");
      params.reasons = JSON.stringify(patch.reasons);
    }
    this.stmt(`UPDATE clusters SET ${sets.join(", ")} WHERE id = @id`).run(params);
    if (patch.status !== undefined) this.changed(id);
  }

  async addEvent(clusterId: number, event: Record<string, unknown>, fence?: JobFence): Promise<void> {
    if (!fence) return this.insertEvent(clusterId, event);
    this.fenced(fence, () => this.insertEvent(clusterId, event));
  }

  async listEvents(clusterId: number, afterSeq = 0): Promise<StoredEvent[]> {
    const rows = this.stmt("SELECT seq, event FROM events WHERE cluster_id = ? AND seq > ? ORDER BY seq").all(
      clusterId,
      afterSeq,
    ) as { seq: number; event: string }[];
    return rows.map((row) => ({ seq: row.seq, ...(JSON.parse(row.event) as Record<string, unknown>) }));
  }

  async unfinishedJobs(): Promise<JobRecord[]> {
    return this.stmt("SELECT * FROM jobs WHERE phase <> 'done' ORDER BY id").all() as JobRecord[];
  }

  async claimJobs(owner: string, until: string, jobId?: number): Promise<JobRecord[]> {
    const at = now();
    return this.db.transaction(() => {
      const free = `phase <> 'done' AND (lease_owner IS NULL OR lease_owner = @owner OR lease_until < @at)`;
      const where = jobId === undefined ? free : `id = @id AND ${free}`;
      const params = { owner, until, at, id: jobId ?? null };
      const ids = (
        this.stmt(`SELECT id FROM jobs WHERE ${where} ORDER BY id`).all(params) as { id: number }[]
      ).map((row) => row.id);
      // A lease passing to another holder gets the next generation: the last holder's fence no
      // longer matches. Its own holder taking it again keeps it (its running job stays valid).
      const take = this.stmt(
        `UPDATE jobs SET lease_generation = CASE WHEN lease_owner IS @owner THEN lease_generation ELSE lease_generation + 1 END,
           lease_owner = @owner, lease_until = @until WHERE id = @id`,
      );
      for (const id of ids) take.run({ owner, until, id });
      return ids.map((id) => this.stmt("SELECT * FROM jobs WHERE id = ?").get(id) as JobRecord);
    })();
  }

  async renewLeases(owner: string, until: string): Promise<HeldLease[]> {
    return this.stmt(
      "UPDATE jobs SET lease_until = ? WHERE lease_owner = ? AND phase <> 'done' RETURNING id, lease_generation",
    ).all(until, owner) as HeldLease[];
  }

  async releaseLeases(owner: string): Promise<void> {
    this.stmt("UPDATE jobs SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = ?").run(owner);
  }

  async setJobPhase(jobId: number, phase: JobPhase, fence?: JobFence): Promise<JobRecord> {
    const write = () => {
      this.stmt(
        `UPDATE jobs SET attempts = CASE WHEN phase = @phase THEN attempts + 1 ELSE 1 END,
           phase = @phase, updated_at = @at WHERE id = @id`,
      ).run({ id: jobId, phase, at: now() });
      return this.stmt("SELECT * FROM jobs WHERE id = ?").get(jobId) as JobRecord;
    };
    return fence ? this.fenced({ ...fence, job_id: jobId }, write) : write();
  }

  async completeJob(jobId: number, clusterId: number, patch: ClusterPatch, fence?: JobFence): Promise<void> {
    const write = () => {
      this.stmt("UPDATE jobs SET phase = 'done', updated_at = ? WHERE id = ?").run(now(), jobId);
      this.patchCluster(clusterId, patch);
      this.changed(clusterId);
    };
    if (fence) this.fenced({ ...fence, job_id: jobId }, write);
    else this.db.transaction(write)();
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
    return this.db
      .transaction((): StartScaleOutcome => {
        const cluster = toCluster(
          this.stmt("SELECT * FROM clusters WHERE id = ?").get(clusterId) as ClusterRow,
        );
        if (!cluster) throw new Error(`no cluster ${clusterId}`);
        const running = this.stmt("SELECT * FROM scale_jobs WHERE cluster_id = ? AND state = 'running'").get(
          clusterId,
        ) as ScaleRow | undefined;
        if (running) return { kind: "busy", job: toScale(running) };
        if (cluster.status !== "online") return { kind: "not_online", cluster };
        const info = this.stmt(
          `INSERT INTO scale_jobs (cluster_id, key, kind, workers, params, state, started_at, lease_owner, lease_until, lease_generation)
           VALUES (?, ?, ?, ?, ?, 'running', ?, ?, ?, 1)`,
        ).run(
          clusterId,
          key,
          job.kind,
          job.workers ?? null,
          job.params ? JSON.stringify(job.params) : null,
          now(),
          lease.owner,
          lease.until,
        );
        return {
          kind: "started",
          job: toScale(
            this.stmt("SELECT * FROM scale_jobs WHERE id = ?").get(Number(info.lastInsertRowid)) as ScaleRow,
          ),
        };
      })
      .immediate();
  }

  async latestScale(clusterId: number, kind?: Day2Kind): Promise<ScaleJobRecord | undefined> {
    const row = (
      kind
        ? this.stmt(
            "SELECT * FROM scale_jobs WHERE cluster_id = ? AND kind = ? ORDER BY id DESC LIMIT 1",
          ).get(clusterId, kind)
        : this.stmt("SELECT * FROM scale_jobs WHERE cluster_id = ? ORDER BY id DESC LIMIT 1").get(clusterId)
    ) as ScaleRow | undefined;
    return row ? toScale(row) : undefined;
  }

  async recordImageWarning(
    clusterId: number,
    warning: ImageWarning | null,
    event: Record<string, unknown> | undefined,
  ): Promise<boolean> {
    return this.db
      .transaction((): boolean => {
        const changed = this.stmt(
          "UPDATE clusters SET image_warning = ?, image_warning_key = ? WHERE id = ? AND image_warning_key IS NOT ?",
        ).run(
          warning ? JSON.stringify(warning) : null,
          warning?.key ?? null,
          clusterId,
          warning?.key ?? null,
        );
        if (changed.changes === 0) return false;
        if (event) this.insertEvent(clusterId, event);
        this.changed(clusterId);
        return true;
      })
      .immediate();
  }

  async imageWarning(clusterId: number): Promise<ImageWarning | null> {
    const row = this.stmt("SELECT image_warning FROM clusters WHERE id = ?").get(clusterId) as
      | { image_warning: string | null }
      | undefined;
    return row?.image_warning ? (JSON.parse(row.image_warning) as ImageWarning) : null;
  }

  async claimScales(owner: string, until: string): Promise<ScaleJobRecord[]> {
    const at = now();
    return this.db
      .transaction(() =>
        (
          this.stmt(
            `UPDATE scale_jobs SET
               lease_generation = CASE WHEN lease_owner IS @owner THEN lease_generation ELSE lease_generation + 1 END,
               lease_owner = @owner, lease_until = @until
             WHERE state = 'running' AND (lease_owner IS @owner OR lease_owner IS NULL OR lease_until < @at)
             RETURNING *`,
          ).all({ owner, until, at }) as ScaleRow[]
        )
          .map(toScale)
          .sort((a, b) => a.id - b.id),
      )
      .immediate();
  }

  async finishScale(
    id: number,
    fence: JobFence,
    end: { state: "succeeded" | "failed"; message: string | null; reasons: string[] },
    result?: unknown,
    jobResult?: unknown,
  ): Promise<void> {
    this.db
      .transaction(() => {
        const row = this.stmt(
          "SELECT cluster_id FROM scale_jobs WHERE id = ? AND lease_owner = ? AND lease_generation = ? AND state = 'running'",
        ).get(id, fence.owner, fence.generation) as { cluster_id: number } | undefined;
        if (!row) throw new LeaseLostError(fence);
        this.stmt(
          "UPDATE scale_jobs SET state = ?, message = ?, reasons = ?, finished_at = ?, result = ?, lease_owner = NULL, lease_until = NULL WHERE id = ?",
        ).run(
          end.state,
          end.message,
          JSON.stringify(end.reasons),
          now(),
          jobResult === undefined ? null : JSON.stringify(jobResult),
          id,
        );
        if (result !== undefined) this.patchCluster(row.cluster_id, { result, reasons: [] });
        this.changed(row.cluster_id);
      })
      .immediate();
  }

  async openStream(
    profileId: number,
    owner: string,
    limit: number,
    ttlMs: number,
  ): Promise<{ id: number } | { held: number }> {
    const at = now();
    return this.db
      .transaction((): { id: number } | { held: number } => {
        this.stmt("DELETE FROM event_streams WHERE until < ?").run(at);
        const { n } = this.stmt("SELECT count(*) AS n FROM event_streams WHERE profile_id = ?").get(
          profileId,
        ) as {
          n: number;
        };
        if (n >= limit) return { held: n };
        const until = new Date(Date.now() + ttlMs).toISOString();
        const info = this.stmt("INSERT INTO event_streams (profile_id, owner, until) VALUES (?, ?, ?)").run(
          profileId,
          owner,
          until,
        );
        return { id: Number(info.lastInsertRowid) };
      })
      .immediate();
  }

  async renewStream(id: number, ttlMs: number): Promise<void> {
    this.stmt("UPDATE event_streams SET until = ? WHERE id = ?").run(
      new Date(Date.now() + ttlMs).toISOString(),
      id,
    );
  }

  async closeStream(id: number): Promise<void> {
    this.stmt("DELETE FROM event_streams WHERE id = ?").run(id);
  }

  async purgeIdempotency(olderThan: string): Promise<number> {
    return this.stmt("DELETE FROM idempotency WHERE created_at < ?").run(olderThan).changes;
  }
}

interface ScaleRow extends Omit<ScaleJobRecord, "reasons" | "params" | "result"> {
  reasons: string;
  params: string | null;
  result: string | null;
  lease_until?: string | null;
}

function toScale(row: ScaleRow): ScaleJobRecord {
  const { lease_until: _until, ...rest } = row;
  return {
    ...rest,
    reasons: JSON.parse(row.reasons) as string[],
    params: row.params ? (JSON.parse(row.params) as Record<string, unknown>) : null,
    result: row.result ? (JSON.parse(row.result) as unknown) : null,
  };
}
