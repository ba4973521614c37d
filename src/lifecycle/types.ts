/**
 * The shapes every face shares: the progress events a flow emits while it works and the result
 * objects it returns. The CLI renders them, the server stores them, the library returns them.
 */

export type Step = "validate" | "launch" | "formation" | "nodes" | "customize" | "destroy";

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
}

/** What a caller may pass to follow and steer a flow. */
export interface Hooks {
  onEvent?: (event: ProgressEvent) => void;
  /** Aborting stops waiting (not the work in AWS); the flow then rejects with InterruptedError. */
  signal?: AbortSignal;
}

export interface NodeInfo {
  instance_id: string;
  availability_zone: string;
  public_ip: string | null;
  private_ip: string | null;
  public_dns: string | null;
  private_dns: string | null;
}

export interface DnsRecord {
  name: string;
  type: "A";
  values: string[];
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
  image_id: string | null;
  discovery_url: string | null;
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
