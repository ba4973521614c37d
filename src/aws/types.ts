/**
 * The shapes aws/ returns and lifecycle/ puts in its results: defined here, below both layers, and
 * re-exported by lifecycle/types.ts.
 */

export interface NodeInfo {
  instance_id: string;
  /** controller: an etcd member (fixed at bootstrap); worker: no etcd member (scale changes them). */
  role?: "controller" | "worker";
  availability_zone: string;
  public_ip: string | null;
  private_ip: string | null;
  public_dns: string | null;
  private_dns: string | null;
  /** A static controller's etcd slot (its tag pandacluster:slot). */
  slot?: number;
  /** What a static controller's etcd member says it is doing (its tag pandacluster:etcd-status). */
  etcd_status?: string | null;
}

export interface DnsRecord {
  name: string;
  type: "A";
  values: string[];
  /** As Route 53 lists it (records read back); records we write use 60 s. */
  ttl?: number;
}
