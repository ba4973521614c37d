import type { ImageAdvice } from "./image_age.js";
import type { RollPlan } from "./roll.js";
/**
 * The shapes every face shares: the progress events a flow emits while it works and the result
 * objects it returns. The CLI renders them, the server stores them, the library returns them.
 */

import type { DnsRecord, NodeInfo } from "../aws/types.js";
import type { UserDataReport } from "../template/boot.js";
import type { SentUserData } from "../template/measure.js";

// Defined below both layers (aws/ reads and writes them); re-exported so that imports keep working.
export type { DnsRecord, NodeInfo };

export type Step = "validate" | "launch" | "formation" | "nodes" | "customize" | "destroy" | "roll";

/** One line of progress: a stack event, a step starting or ending, a wait that is taking long. */
export interface ProgressEvent {
  /** ISO 8601 time the event happened (the stack event's own time for stack events). */
  time: string;
  step: Step;
  message: string;
  /** For stack events: the logical resource id, its type, its status and the reason given. */
  resource?: string;
  resource_type?: string;
  status?: string;
  reason?: string;
  /** Seconds since the flow started. */
  elapsed?: number;
  /**
   * What the line is: a CloudFormation stack event, a step of ours starting or ending, a note
   * about a long wait (what is still in progress), or a warning (throttling, a retry).
   */
  kind?: "stack_event" | "step" | "waiting" | "warning";
}

/** What a caller may pass to follow and steer a flow. */
export interface Hooks {
  onEvent?: (event: ProgressEvent) => void;
  /** Aborting stops waiting (not the work in AWS); the flow then rejects with InterruptedError. */
  signal?: AbortSignal;
  /**
   * Told, as the flow goes on, what to say if the process is stopped at once (a second Ctrl-C)
   * rather than through the signal: from CreateStack on, what runs in AWS and the commands to resume
   * or remove it.
   */
  onInterruptNote?: (note: string) => void;
  /**
   * How fast to poll AWS while waiting: the first pause and the longest (defaults 2 s and 15 s).
   * Pauses grow while nothing happens, get a random jitter, and go back to the first when events arrive.
   */
  poll?: {
    initial_ms?: number;
    max_ms?: number;
    /** How long without any answer from AWS before a wait says so, and again as often (30 s). */
    silence_ms?: number;
  };
  /**
   * For a caller that retries by itself (the API server's jobs): once the stack exists, a failure
   * that is only AWS not answering (network, throttling, 5xx) is thrown instead of becoming a
   * failure result, so the caller can try again and ask AWS how the stack is.
   */
  throw_transient?: boolean;
  /**
   * Who owns a public DNS name another cluster holds, when the caller may know it (lifecycle/
   * public_dns.ts). Default: a stack the caller's AWS credentials can see. The API server names only
   * the caller's own clusters (profiles may share an AWS account).
   */
  owner_lookup?: (owner: {
    owner: string;
    region: string;
  }) => Promise<{ stack_name: string; region: string } | undefined>;
}

export interface DnsInfo {
  private_zone_id: string | null;
  private_zone: string | null;
  records: DnsRecord[];
  public_name: string | null;
  public_zone_id?: string | null;
}

export interface ClusterInfo {
  stack_name: string;
  stack_id: string | null;
  region: string;
  channel: string;
  arch: string;
  instance_type: string;
  cluster_size: number;
  /** Worker nodes asked for (the stack's Workers parameter; 0 for a stack without one). */
  workers: number;
  image_id: string | null;
  discovery_url: string | null;
  /** Who may reach the nodes' port 22 (the stack's AllowSSHFrom); null: SSH is closed. */
  ssh_from?: string | null;
  nodes: NodeInfo[];
  dns: DnsInfo | null;
}

/** The seed's success-or-failure object, composed of the create steps' data. */
export interface ClusterResult {
  status: "success" | "failure";
  message: string;
  cluster: ClusterInfo;
  details: {
    launch: unknown;
    formation: unknown;
    nodes: unknown;
    customize: unknown;
  };
  /** Why it failed: the failed stack events' reasons, or the error that stopped a step. */
  reasons: string[];
  /** Seconds each step took, and the total. */
  timings: Record<string, number>;
}

/** What `launch` returns as soon as CreateStack has answered: enough to `finish` later. */
export interface Launched {
  stack_id: string;
  stack_name: string;
  region: string;
  profile?: string;
  image_id: string;
  discovery_url: string;
  /** The CreateStack input, without the template body (summarised) or anything secret. */
  request: Record<string, unknown>;
  /** How the image, the discovery URL and the template were found; notices to show the user. */
  resolved: {
    image: { image_id: string; source: "option" | "describe_images" | "feed"; name?: string };
    /** none: static membership (the default), no discovery URL at all. */
    discovery: { url: string; source: "option" | "service" | "none"; service?: string };
    /** The availability zones the template spreads over (static controllers: the region's, at most 3). */
    zones?: number;
    /**
     * bytes: TemplateBody bytes; user_data: a built template's user data, as EC2 counts it;
     * user_data_sent: every launch template's user data measured with the parameter values
     * CreateStack sends (template/measure.ts), at the point of sending.
     */
    template: {
      source: "built" | "file";
      path?: string;
      bytes: number;
      user_data?: UserDataReport;
      user_data_sent?: SentUserData[];
    };
    key_pair: string;
    notices: string[];
  };
  timings: Record<string, number>;
}

export interface DestroyResult {
  status: "success" | "failure";
  message: string;
  stack_name: string;
  stack_id: string | null;
  region: string;
  /** The stack was already deleted (or never finished creating) before this destroy. */
  already_gone: boolean;
  /** What was removed besides the stack: the private zone, DNS records. */
  removed: string[];
  reasons: string[];
  timings: Record<string, number>;
}

export interface StatusResult {
  stack_name: string;
  stack_id: string;
  region: string;
  stack_status: string;
  status_reason: string | null;
  created_at: string | null;
  channel: string | null;
  arch: string | null;
  instance_type: string | null;
  cluster_size: number | null;
  workers: number;
  image_id: string | null;
  discovery_url: string | null;
  /** How current the image is, and what to do when it is not (null when it could not be read). */
  image: ImageAdvice | null;
  nodes: NodeInfo[];
  dns: DnsInfo | null;
  outputs: Record<string, string>;
  reasons: string[];
  /**
   * Static controllers, one per slot: its group, zone, instance and address, what its etcd member
   * says (its instance tag), and whether its group took the member's "healthy" signal at creation
   * (the group's resource status: CREATE_COMPLETE only once signalled). Empty in the discovery mode.
   */
  slots?: SlotStatus[];
}

export interface SlotStatus {
  slot: number;
  group: string;
  resource_status: string | null;
  signalled: boolean;
  instance_id: string | null;
  availability_zone: string | null;
  private_ip: string | null;
  etcd_status: string | null;
}

/** What `sync` found and changed in a cluster's private zone. */
export interface SyncResult {
  status: "success" | "failure";
  message: string;
  stack_name: string;
  region: string;
  private_zone: string | null;
  private_zone_id: string | null;
  /** One line per record created, changed or deleted; empty when the names were right. */
  changes: string[];
  nodes: NodeInfo[];
  records: DnsRecord[];
  reasons: string[];
  timings: Record<string, number>;
}

export interface ClusterSummary {
  stack_name: string;
  stack_id: string;
  stack_status: string;
  created_at: string | null;
  cluster_size: number | null;
  channel: string | null;
  arch: string | null;
  image_id: string | null;
  /** Set when the image is outdated, deprecated or gone: what and the command to run. */
  image_warning: string | null;
}

export interface ListResult {
  region: string;
  clusters: ClusterSummary[];
}

/** One stack's status as the region-wide batch read (stackStatuses) sees it. */
export interface StackStatusEntry {
  stack_id: string;
  stack_name: string;
  status: string;
  reason?: string;
  /** The pandacluster:create-token tag: the ClientRequestToken of the CreateStack that made it. */
  create_token?: string;
}

/** Where a cluster is, for `finish` to pick it up (from `launch`, or from a store after a crash). */
export interface StackRef {
  stack_name: string;
  region?: string;
  stack_id?: string;
  profile?: string;
}

/** One instance an upgrade replaced, and by which. */
export interface RollStep {
  role: "controller" | "worker";
  replaced: string;
  /** The instance that took its place (null when it could not be told apart). */
  by: string | null;
  image_from: string | null;
  image_to: string;
  /** A controller's etcd move, when the upgrade moved etcd. */
  etcd_from?: string | null;
  etcd_to?: string;
  seconds: number;
}

/** What `upgrade` did, or (dry run) would do. */
export interface UpgradeResult {
  status: "success" | "failure" | "planned";
  message: string;
  stack_name: string;
  stack_id: string;
  region: string;
  image_from: string | null;
  image_to: string;
  image_name: string | null;
  /**
   * The controllers' etcd version before and after (the stack's EtcdVersion parameter); both null for
   * a stack whose template has no EtcdVersion (made before it, or with the version written in).
   */
  etcd_from?: string | null;
  etcd_to?: string | null;
  /** UpdateStack: sent (with its token), not needed (the stack names the image already), or planned. */
  stack_update: { needed: boolean; token: string | null; answer: "changed" | "unchanged" | null };
  plan: RollPlan;
  replaced: RollStep[];
  nodes: NodeInfo[];
  reasons: string[];
  timings: Record<string, number>;
}
