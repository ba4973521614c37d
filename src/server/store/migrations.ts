/**
 * The SQLite schema, as numbered migrations. A migration is never edited once released: a change is
 * a new entry. Each runs in its own transaction and is recorded in schema_migrations.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const migrations: Migration[] = [
  {
    version: 1,
    name: "profiles, clusters, jobs, events, idempotency",
    sql: `
      CREATE TABLE settings (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
      );
      CREATE TABLE profiles (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        email TEXT NOT NULL,
        token_hash TEXT NOT NULL UNIQUE,
        aws_id TEXT,
        aws_secret_sealed TEXT,
        aws_region TEXT,
        public_keys TEXT,
        created_at TEXT NOT NULL
      );
      CREATE TABLE clusters (
        id INTEGER PRIMARY KEY,
        profile_id INTEGER NOT NULL REFERENCES profiles(id),
        stack_name TEXT NOT NULL,
        region TEXT NOT NULL,
        account TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('creating', 'online', 'failed', 'deleting', 'deleted')),
        cluster_size INTEGER NOT NULL,
        options TEXT NOT NULL,
        stack_id TEXT,
        result TEXT,
        reasons TEXT NOT NULL DEFAULT '[]',
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      );
      -- One active cluster of a name per AWS account and region, as CloudFormation has it.
      CREATE UNIQUE INDEX clusters_active_name ON clusters (account, region, stack_name)
        WHERE status IN ('creating', 'online', 'deleting');
      CREATE INDEX clusters_by_owner ON clusters (profile_id, stack_name, region, id);
      CREATE TABLE jobs (
        id INTEGER PRIMARY KEY,
        cluster_id INTEGER NOT NULL REFERENCES clusters(id),
        kind TEXT NOT NULL CHECK (kind IN ('create', 'destroy')),
        phase TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 1,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      );
      CREATE INDEX jobs_unfinished ON jobs (id) WHERE phase <> 'done';
      CREATE TABLE events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        cluster_id INTEGER NOT NULL REFERENCES clusters(id),
        event TEXT NOT NULL
      );
      CREATE INDEX events_by_cluster ON events (cluster_id, seq);
      CREATE TABLE idempotency (
        profile_id INTEGER NOT NULL REFERENCES profiles(id),
        key TEXT NOT NULL,
        request_hash TEXT NOT NULL,
        status_code INTEGER NOT NULL,
        body TEXT NOT NULL,
        location TEXT,
        created_at TEXT NOT NULL,
        PRIMARY KEY (profile_id, key)
      );
      CREATE INDEX idempotency_age ON idempotency (created_at);
    `,
  },
  {
    version: 2,
    name: "list columns: channel, arch, superseded",
    sql: `
      ALTER TABLE clusters ADD COLUMN channel TEXT;
      ALTER TABLE clusters ADD COLUMN arch TEXT;
      -- 1 once a newer cluster of the same owner, name and region exists: lists skip it.
      ALTER TABLE clusters ADD COLUMN superseded INTEGER NOT NULL DEFAULT 0;
      UPDATE clusters SET channel = json_extract(options, '$.channel'), arch = json_extract(options, '$.arch');
      UPDATE clusters SET superseded = 1 WHERE id < (SELECT max(id) FROM clusters n
        WHERE n.profile_id = clusters.profile_id AND n.stack_name = clusters.stack_name AND n.region = clusters.region);
      CREATE INDEX clusters_listed ON clusters (profile_id, superseded, id);
    `,
  },
  {
    version: 3,
    name: "job leases (several servers on one store)",
    sql: `
      ALTER TABLE jobs ADD COLUMN lease_owner TEXT;
      ALTER TABLE jobs ADD COLUMN lease_until TEXT;
    `,
  },
  {
    version: 4,
    name: "create token: a cluster owns only the stack its own CreateStack made",
    sql: `
      -- The ClientRequestToken of the cluster's CreateStack, also on the stack as the tag
      -- pandacluster:create-token: a stack of the same name without it is someone else's.
      ALTER TABLE clusters ADD COLUMN create_token TEXT;
    `,
  },
  {
    version: 5,
    name: "profile quota of live clusters",
    sql: `
      ALTER TABLE profiles ADD COLUMN max_clusters INTEGER NOT NULL DEFAULT 10;
    `,
  },
  {
    version: 6,
    name: "job lease generation: every write of a job is fenced by its lease",
    sql: `
      -- Grows each time a job's lease passes to another server; a write carrying an older
      -- generation (a paused or cut-off server's) changes nothing (Store JobFence).
      ALTER TABLE jobs ADD COLUMN lease_generation INTEGER NOT NULL DEFAULT 0;
    `,
  },
  {
    version: 7,
    name: "scale jobs stored, leased and fenced like create and delete jobs",
    sql: `
      CREATE TABLE scale_jobs (
        id INTEGER PRIMARY KEY,
        cluster_id INTEGER NOT NULL REFERENCES clusters(id),
        key TEXT NOT NULL UNIQUE,
        workers INTEGER NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('running', 'succeeded', 'failed')),
        message TEXT,
        reasons TEXT NOT NULL DEFAULT '[]',
        started_at TEXT NOT NULL,
        finished_at TEXT,
        lease_owner TEXT,
        lease_until TEXT,
        lease_generation INTEGER NOT NULL DEFAULT 0
      );
      -- One running scale per cluster, whichever replica started it.
      CREATE UNIQUE INDEX scale_jobs_running ON scale_jobs (cluster_id) WHERE state = 'running';
      CREATE INDEX scale_jobs_by_cluster ON scale_jobs (cluster_id, id);
    `,
  },
  {
    version: 8,
    name: "event streams open across the fleet (per-profile limit)",
    sql: `
      -- One row per open Server-Sent Events stream, renewed while it is open; a row whose lease ran
      -- out (its replica died) no longer counts.
      CREATE TABLE event_streams (
        id INTEGER PRIMARY KEY,
        profile_id INTEGER NOT NULL,
        owner TEXT NOT NULL,
        until TEXT NOT NULL
      );
      CREATE INDEX event_streams_by_profile ON event_streams (profile_id, until);
    `,
  },
  {
    version: 9,
    name: "profile IAM role and its external id",
    sql: `
      -- A profile may name an IAM role the server assumes (STS AssumeRole) instead of holding keys;
      -- external_id is generated once for the profile and sent with every AssumeRole.
      ALTER TABLE profiles ADD COLUMN role_arn TEXT;
      ALTER TABLE profiles ADD COLUMN external_id TEXT;
    `,
  },
  {
    version: 10,
    name: "audit log of mutating requests",
    sql: `
      CREATE TABLE audit (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        source TEXT NOT NULL,
        method TEXT NOT NULL,
        route TEXT NOT NULL,
        target TEXT,
        status INTEGER NOT NULL,
        request_id TEXT NOT NULL
      );
      CREATE INDEX audit_by_actor ON audit (actor, id);
      CREATE INDEX audit_by_target ON audit (target, id);
      CREATE INDEX audit_by_time ON audit (at, id);
    `,
  },
  {
    version: 11,
    name: "day-2 jobs: scale and upgrade in one table; the image warning a cluster was told",
    sql: `
      -- scale_jobs holds every day-2 job (one running per cluster, whatever its kind): a kind, and
      -- the job's own arguments as JSON (an upgrade's image_id, min_healthy, ...); workers is the
      -- scale's and null for an upgrade. SQLite cannot drop a NOT NULL: the table is rebuilt.
      CREATE TABLE day2_jobs (
        id INTEGER PRIMARY KEY,
        cluster_id INTEGER NOT NULL REFERENCES clusters(id),
        key TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL DEFAULT 'scale' CHECK (kind IN ('scale', 'upgrade')),
        workers INTEGER,
        params TEXT,
        -- What the job's library call answered (an upgrade's result: plan, replaced, nodes).
        result TEXT,
        state TEXT NOT NULL CHECK (state IN ('running', 'succeeded', 'failed')),
        message TEXT,
        reasons TEXT NOT NULL DEFAULT '[]',
        started_at TEXT NOT NULL,
        finished_at TEXT,
        lease_owner TEXT,
        lease_until TEXT,
        lease_generation INTEGER NOT NULL DEFAULT 0
      );
      INSERT INTO day2_jobs (id, cluster_id, key, kind, workers, params, state, message, reasons,
          started_at, finished_at, lease_owner, lease_until, lease_generation)
        SELECT id, cluster_id, key, 'scale', workers, NULL, state, message, reasons,
          started_at, finished_at, lease_owner, lease_until, lease_generation FROM scale_jobs;
      DROP TABLE scale_jobs;
      ALTER TABLE day2_jobs RENAME TO scale_jobs;
      CREATE UNIQUE INDEX scale_jobs_running ON scale_jobs (cluster_id) WHERE state = 'running';
      CREATE INDEX scale_jobs_by_cluster ON scale_jobs (cluster_id, id);
      -- The reconciler's image warning (outdated, deprecated, gone) as last recorded, and its key
      -- (the image and what is wrong with it): a warning is an event once, whichever replica sees it.
      ALTER TABLE clusters ADD COLUMN image_warning TEXT;
      ALTER TABLE clusters ADD COLUMN image_warning_key TEXT;
    `,
  },
];
