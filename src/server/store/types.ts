import type { CreateOptions } from "../../options.js";

/**
 * What the server keeps: profiles (who may call it), clusters (what they created), the jobs that
 * create and destroy clusters, the progress events of those jobs, and idempotency answers.
 *
 * Every method returns a promise: the SQLite store (sqlite.ts, the embedded default) and the
 * PostgreSQL store (postgres.ts, for several server replicas on one database) implement the same
 * interface, and each method that changes more than one row is one transaction on both.
 */

export type ClusterStatus = "creating" | "online" | "failed" | "deleting" | "deleted";
export const clusterStatuses: readonly ClusterStatus[] = [
  "creating",
  "online",
  "failed",
  "deleting",
  "deleted",
];

export interface ProfileRecord {
  id: number;
  name: string;
  email: string;
  /** SHA-256 (hex) of the profile's bearer token; the token itself is never stored. */
  token_hash: string;
  /** AWS access key id, when the profile brings its own credentials. */
  aws_id: string | null;
  /** The AWS secret, encrypted (crypto.ts); never returned by any route. */
  aws_secret_sealed: string | null;
  aws_region: string | null;
  public_keys: string[] | null;
  /** The most live (not deleted) clusters the profile may have; set by the admin. */
  max_clusters: number;
  created_at: string;
  /** An IAM role the server assumes for the profile's AWS calls (instead of stored keys). */
  role_arn: string | null;
  /** The sts:ExternalId sent with every AssumeRole of the profile: generated once, stable. */
  external_id: string | null;
}

/** Profiles get this quota of live clusters unless the admin says otherwise. */
export const defaultMaxClusters = 10;

export type NewProfile = Omit<
  ProfileRecord,
  "id" | "created_at" | "max_clusters" | "role_arn" | "external_id"
> & {
  max_clusters?: number;
  role_arn?: string | null;
  external_id?: string | null;
};

/** How a profile reaches AWS (PATCH /profiles/{name}): a role, or keys (null: neither). */
export type ProfileAccess =
  | { role_arn: string; external_id: string }
  | { aws_id: string; aws_secret_sealed: string };

export interface ClusterRecord {
  id: number;
  profile_id: number;
  stack_name: string;
  region: string;
  /** Which AWS account the cluster lives in: "aws:" and the account id (see accounts.ts). */
  account: string;
  status: ClusterStatus;
  cluster_size: number;
  /** The validated create options the cluster was asked with. */
  options: CreateOptions;
  /**
   * The StackId that this cluster's own CreateStack returned (or that a stack tagged with its
   * create_token has): the only stack its jobs ever act on. null: it owns no stack.
   */
  stack_id: string | null;
  /** The ClientRequestToken of its CreateStack (tag pandacluster:create-token); null before v4. */
  create_token: string | null;
  /** The library's result object, once known. */
  result: unknown | null;
  reasons: string[];
  created_at: string;
  updated_at: string;
}

/**
 * A cluster as GET /clusters/{name} returns it, with `result` still as stored JSON text so that the
 * hot read path does not parse and re-serialise it.
 */
export interface ClusterView {
  stack_name: string;
  region: string;
  status: ClusterStatus;
  cluster_size: number;
  result_json: string | null;
  reasons_json: string;
  /** The reconciler's image warning (ImageWarning as JSON text), when it recorded one. */
  image_warning_json: string | null;
  created_at: string;
  updated_at: string;
}

export interface ClusterSummary {
  stack_name: string;
  region: string;
  status: ClusterStatus;
  cluster_size: number;
  created_at: string;
  stack_id: string | null;
  channel: string | null;
  arch: string | null;
  /** The reconciler's image warning (outdated, deprecated, gone: what and the command), if any. */
  image_warning: string | null;
}

export type JobKind = "create" | "destroy";

/**
 * Where a job is. A create goes launch → formation → finish; a destroy goes delete → deletion.
 * `done` is final. A job in any other phase is resumed from that phase when the server starts.
 */
export type JobPhase = "launch" | "formation" | "finish" | "delete" | "deletion" | "done";

export interface JobRecord {
  id: number;
  cluster_id: number;
  kind: JobKind;
  phase: JobPhase;
  /** Times the job's current phase was started (a phase started before a crash is started again). */
  attempts: number;
  /** When the job was started: the create's timeout counts from here. */
  created_at: string;
  updated_at: string;
  /** The server holding the job's lease (app.ts leaseOwner), if any. */
  lease_owner?: string | null;
  /**
   * Grows by one each time the job's lease passes to another holder (a claim by a server that did
   * not hold it): with the owner, the fence every write of the job carries (JobFence).
   */
  lease_generation?: number;
}

/**
 * What a running job proves its lease with on every write (job phase, completion, events, cluster
 * record): the owner and generation of the claim it runs under. A write whose fence no longer
 * matches the job's row (another server took the job, or it is done) changes nothing and throws
 * LeaseLostError, so a server that was paused or cut off past its lease cannot overwrite newer state.
 */
export interface JobFence {
  job_id: number;
  owner: string;
  generation: number;
}

/** A fenced write found the job's lease no longer its own: the job must stop at once. */
export class LeaseLostError extends Error {
  constructor(readonly fence: JobFence) {
    super(
      `job ${fence.job_id}: its lease (held by ${fence.owner}, generation ${fence.generation}) is no longer this server's`,
    );
    this.name = "LeaseLostError";
  }
}

/** A lease a server still holds after renewing: the job and the generation it holds it under. */
export interface HeldLease {
  id: number;
  lease_generation: number;
}

/** A progress event as stored: the lifecycle's ProgressEvent plus its sequence number. */
export interface StoredEvent {
  seq: number;
  [key: string]: unknown;
}

export interface IdempotentAnswer {
  request_hash: string;
  status_code: number;
  body: string;
  location: string | null;
}

export interface NewCluster {
  profile_id: number;
  stack_name: string;
  region: string;
  account: string;
  cluster_size: number;
  options: CreateOptions;
  /** The ClientRequestToken its create job's CreateStack will send. */
  create_token: string;
}

export type CreateClusterOutcome =
  | { kind: "created"; cluster: ClusterRecord; job: JobRecord }
  /** Same name active for this account and region. */
  | { kind: "conflict"; existing: ClusterRecord }
  /** The Idempotency-Key was seen before with this same request: its first answer. */
  | { kind: "replay"; answer: IdempotentAnswer }
  /** The Idempotency-Key was seen before with a different request. */
  | { kind: "key_reused" }
  /** The profile has `live` clusters that are not deleted, and may have at most `limit`. */
  | { kind: "quota"; limit: number; live: number };

/**
 * A scale of a cluster's workers (PATCH /clusters/{name}), stored like create and delete jobs: it
 * survives a restart (resumed by the server that takes its lease) and is seen by every replica.
 */
export interface ScaleJobRecord {
  id: number;
  cluster_id: number;
  /** Its public id ("scale-<uuid>", "upgrade-<uuid>"): the `job` of its events. */
  key: string;
  /**
   * Which day-2 job: a scale or an upgrade. They share one table and one runner (jobs/scale.ts):
   * one of them runs per cluster at a time, fleet-wide, leased and fenced the same way.
   */
  kind: Day2Kind;
  /** A scale's number of workers (null for an upgrade). */
  workers: number | null;
  /** The job's own validated arguments (an upgrade's image_id, min_healthy, timeout...). */
  params: Record<string, unknown> | null;
  /** What the job's library call answered, once it ended (an upgrade's result); null before. */
  result: unknown | null;
  state: "running" | "succeeded" | "failed";
  message: string | null;
  reasons: string[];
  started_at: string;
  finished_at: string | null;
  lease_owner: string | null;
  lease_generation: number;
}

/** The day-2 jobs of an online cluster. */
export type Day2Kind = "scale" | "upgrade";
/** A day-2 job of either kind (the same record: scale_jobs holds both). */
export type Day2JobRecord = ScaleJobRecord;

/** A day-2 job to start: its kind and arguments. */
export interface NewDay2Job {
  kind: Day2Kind;
  workers?: number | null;
  params?: Record<string, unknown> | null;
}

/** The image warning the reconciler last recorded for a cluster (what list and the dashboard show). */
export interface ImageWarning {
  /** The image and what is wrong with it: a new key is a new warning (an event), the same key is not. */
  key: string;
  warning: string;
  command: string | null;
  image_id: string;
  deprecated_at: string | null;
}

export type StartScaleOutcome =
  | { kind: "started"; job: ScaleJobRecord }
  /** A scale of this cluster is running already (on any replica). */
  | { kind: "busy"; job: ScaleJobRecord }
  /** Only an online cluster can be scaled. */
  | { kind: "not_online"; cluster: ClusterRecord };

export type StartDestroyOutcome =
  | { kind: "started"; cluster: ClusterRecord; job: JobRecord }
  /**
   * Already deleting or deleted: nothing new started. Also a failed cluster that owns no stack
   * (stack_id null): it is marked deleted at once, with no job.
   */
  | { kind: "unchanged"; cluster: ClusterRecord }
  /** Still being created: a delete would race the create. */
  | { kind: "busy"; cluster: ClusterRecord }
  /** Its workers are being scaled: a delete would race the update (409 until the scale ends). */
  | { kind: "scaling"; cluster: ClusterRecord };

export interface ClusterPatch {
  status?: ClusterStatus;
  stack_id?: string | null;
  result?: unknown;
  reasons?: string[];
}

/**
 * A job's lease: the server process holding it (unique per start) and until when. A job stored with
 * a lease is never free for another server, not even for the instant before its server claims it.
 */
export interface JobLease {
  owner: string;
  until: string;
}

export interface Store {
  /** Applies pending migrations; safe to call on every start. */
  migrate(): Promise<void>;
  /**
   * Throws when the store cannot serve: no answer, or (SQLite) its file deleted or replaced since
   * it was opened, which a process holding it open would not otherwise notice. GET /healthz.
   */
  health(): Promise<void>;
  close(): Promise<void>;

  getSetting(key: string): Promise<string | undefined>;
  /** Sets the value only when the key has none; returns the value that is now stored. */
  setSettingOnce(key: string, value: string): Promise<string>;

  createProfile(profile: NewProfile): Promise<ProfileRecord | "exists">;
  profileByTokenHash(tokenHash: string): Promise<ProfileRecord | undefined>;
  profileById(id: number): Promise<ProfileRecord | undefined>;
  listProfiles(): Promise<ProfileRecord[]>;
  /** Sets a profile's quota of live clusters; undefined when there is no such profile. */
  setProfileQuota(name: string, maxClusters: number): Promise<ProfileRecord | undefined>;
  /**
   * Switches a profile to a role (its keys are dropped; its external id is kept when it has one,
   * else set to the one given) or to keys (its role is dropped, the external id kept for a later
   * role); undefined when there is no such profile.
   */
  setProfileAccess(name: string, access: ProfileAccess): Promise<ProfileRecord | undefined>;
  /** Deletes a profile that owns no cluster that still exists. */
  deleteProfile(name: string): Promise<"deleted" | "missing" | "has_clusters">;

  /**
   * In one transaction: replay an Idempotency-Key's first answer; or refuse a name already active
   * (any status but deleted/failed) for this account and region; or refuse a profile at its quota
   * of live clusters (a failed cluster of the same name and region does not count: the new one
   * replaces it); or insert the cluster, its create job (leased to `lease` when given), the first
   * event and (with a key) the answer `answer(cluster)` for later replays.
   */
  createCluster(
    input: NewCluster,
    idempotency: { key: string; request_hash: string } | undefined,
    answer: (cluster: ClusterRecord) => Omit<IdempotentAnswer, "request_hash">,
    firstEvent: Record<string, unknown>,
    lease?: JobLease,
  ): Promise<CreateClusterOutcome>;
  /**
   * In one transaction: mark the cluster deleting and insert its destroy job (see
   * StartDestroyOutcome). With `lease`, the new job is born leased to that server (as in createCluster).
   */
  startDestroy(
    clusterId: number,
    firstEvent: Record<string, unknown>,
    lease?: JobLease,
  ): Promise<StartDestroyOutcome>;

  /** The profile's newest cluster of that name (in that region, when given). */
  clusterByName(profileId: number, stackName: string, region?: string): Promise<ClusterRecord | undefined>;
  /** As clusterByName, shaped for the response without parsing the stored result. */
  clusterViewByName(profileId: number, stackName: string, region?: string): Promise<ClusterView | undefined>;
  clusterById(id: number): Promise<ClusterRecord | undefined>;
  /** The profile's clusters, newest first: the newest record of each name and region, deleted ones only on request. */
  listClusters(profileId: number, region?: string, includeDeleted?: boolean): Promise<ClusterSummary[]>;
  /** With `fence` (a job's write), only while that job's lease is the fence's (else LeaseLostError). */
  updateCluster(id: number, patch: ClusterPatch, fence?: JobFence): Promise<void>;

  /** With `fence` (a job's event), only while that job's lease is the fence's (else LeaseLostError). */
  addEvent(clusterId: number, event: Record<string, unknown>, fence?: JobFence): Promise<void>;
  /** Oldest first; only those after `afterSeq` when given. */
  listEvents(clusterId: number, afterSeq?: number): Promise<StoredEvent[]>;

  /** Jobs not yet done, oldest first. */
  unfinishedJobs(): Promise<JobRecord[]>;
  /**
   * Leases for servers sharing one store: takes every unfinished job whose lease has run out (or
   * that `owner` already holds), or only `jobId`, until `until`; returns the jobs taken. A server
   * runs only jobs it holds, renews its leases while it runs, and releases them when it stops.
   */
  claimJobs(owner: string, until: string, jobId?: number): Promise<JobRecord[]>;
  /** Extends the owner's leases on unfinished jobs; returns the leases it still holds. */
  renewLeases(owner: string, until: string): Promise<HeldLease[]>;
  /** True when the fence still matches the job (its owner and generation, and it is not done). */
  holdsLease(fence: JobFence): Promise<boolean>;
  /** Gives the owner's leases up (a graceful stop): another server may take the jobs at once. */
  releaseLeases(owner: string): Promise<void>;
  /**
   * Moves a job to a phase (counting an attempt when the phase is entered again). With `fence`,
   * only while the lease is still the fence's (else LeaseLostError, nothing written).
   */
  setJobPhase(jobId: number, phase: JobPhase, fence?: JobFence): Promise<JobRecord>;
  /**
   * In one transaction: the job is done and its cluster gets its final state. With `fence`, only
   * while the lease is still the fence's (else LeaseLostError, nothing written).
   */
  completeJob(jobId: number, clusterId: number, patch: ClusterPatch, fence?: JobFence): Promise<void>;

  /**
   * In one transaction: a scale job of `workers` for an online cluster with no scale running,
   * leased to `lease` (see StartScaleOutcome).
   */
  startScale(clusterId: number, key: string, workers: number, lease: JobLease): Promise<StartScaleOutcome>;
  /** In one transaction: a day-2 job (scale or upgrade) as startScale does, of any kind. */
  startDay2(clusterId: number, key: string, job: NewDay2Job, lease: JobLease): Promise<StartScaleOutcome>;
  /**
   * The cluster's newest day-2 job of that kind; of any kind without one (then `state === "running"`
   * says whether a scale or an upgrade runs on any replica).
   */
  latestScale(clusterId: number, kind?: Day2Kind): Promise<ScaleJobRecord | undefined>;
  /**
   * The reconciler's image warning: stores it on the cluster and, in the same transaction, adds
   * `event` only when its key differs from the one stored (null clears it); true when it was new.
   * Two replicas recording the same warning at once add one event.
   */
  recordImageWarning(
    clusterId: number,
    warning: ImageWarning | null,
    event: Record<string, unknown> | undefined,
  ): Promise<boolean>;
  /** The image warning last recorded for the cluster, if any. */
  imageWarning(clusterId: number): Promise<ImageWarning | null>;
  /**
   * Renews `owner`'s leases on running scale jobs and takes those whose lease ran out (the next
   * generation when the lease changes hands); returns every running scale `owner` now holds.
   */
  claimScales(owner: string, until: string): Promise<ScaleJobRecord[]>;
  /**
   * In one transaction, only while `owner` still holds the scale under `generation` (else
   * LeaseLostError): its end, and the cluster's new result when it succeeded.
   */
  finishScale(
    id: number,
    fence: JobFence,
    end: { state: "succeeded" | "failed"; message: string | null; reasons: string[] },
    result?: unknown,
    /** Kept on the job itself (GET /clusters/{name}/upgrade shows it). */
    jobResult?: unknown,
  ): Promise<void>;

  /**
   * Event streams open across the fleet (GET /clusters/{name}/events as SSE), so that a profile's
   * limit holds over every replica: in one transaction, counts the profile's streams whose lease
   * has not run out and, below `limit`, records a new one held until `ttlMs` from now; returns its
   * id, or how many the profile holds when it is at the limit.
   */
  openStream(
    profileId: number,
    owner: string,
    limit: number,
    ttlMs: number,
  ): Promise<{ id: number } | { held: number }>;
  /** Keeps an open stream counted for `ttlMs` more (a replica that dies stops renewing its own). */
  renewStream(id: number, ttlMs: number): Promise<void>;
  closeStream(id: number): Promise<void>;

  /** Forgets idempotency answers older than the given ISO time. */
  purgeIdempotency(olderThan: string): Promise<number>;

  /**
   * Calls `listener` with a cluster's id soon after an event is added to it or its state changes,
   * by any server on this store that can tell (PostgreSQL: every replica, through LISTEN/NOTIFY;
   * SQLite: this process). Returns the function that stops the calls. A call with 0 means any
   * cluster may have changed (the announcements were not heard for a while: look again).
   */
  onClusterChange(listener: (clusterId: number) => void): () => void;

  /** Present when replicas may share the store (PostgreSQL): what they coordinate through. */
  readonly fleet?: Fleet;
}

/**
 * The stack status poller of one AWS account and region, shared by every replica on the store:
 * one replica at a time holds the region's lease and polls; it leaves each answer (with a growing
 * generation number) for the others, which hand it to their own watchers.
 */
export interface Fleet {
  /**
   * Takes the group's lease, or keeps it when `owner` holds it, for `ttlMs`; true when `owner`
   * holds it and the group's last answer is older than `gapMs` (then `owner` polls now).
   */
  leadPoll(key: string, owner: string, ttlMs: number, gapMs: number): Promise<boolean>;
  /** The lease holder's answer (JSON text); returns its generation. */
  publishPoll(key: string, owner: string, states: string): Promise<number>;
  /** The newest answer for the group. */
  latestPoll(key: string): Promise<{ generation: number; states: string } | undefined>;
  /** Gives up `owner`'s lease on the group (all of them without a key): another replica polls. */
  releasePolls(owner: string, key?: string): Promise<void>;
}
