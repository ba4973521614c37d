import {
  bareName,
  changeRecords,
  changeStatus,
  createPrivateZone,
  findClusterZones,
  findPublicZone,
  listRecords,
  madeFor,
  type Zone,
} from "../aws/dns.js";
import { awsFailure, isTransient } from "../aws/errors.js";
import { describeStack, type Stack, stackResources } from "../aws/stacks.js";
import { InterruptedError, OperationError } from "../errors.js";
import { removeDns } from "./dns_cleanup.js";
import { type ClusterFacts, vpcOutput } from "./facts.js";
import { type ClusterRef, type Doing, interrupted, timedOut } from "./hints.js";
import { type NamedNode, planNames } from "./names.js";
import { Aborted, Pace, pause } from "./pace.js";
import { publicName, writePublicName } from "./public_dns.js";
import type { Session } from "./session.js";
import type { DnsInfo, DnsRecord, NodeInfo } from "./types.js";

/**
 * The stack was deleted (a `destroy` ran) while create was finishing it. Create removed what it had
 * made meanwhile, so nothing of the cluster is left; the create fails saying so (no hints to resume).
 */
export class ClusterGoneError extends OperationError {
  constructor(message: string) {
    super(message);
    this.name = "ClusterGoneError";
  }
}

/**
 * node-<i>.<zone> for each node's private address and etcd.<zone> for the controllers, as a first
 * naming gives them (no records yet): see planNames for names that must stay stable.
 */
export function privateRecords(zone: string, nodes: NodeInfo[]): DnsRecord[] {
  return planNames(zone, nodes, []).records;
}

export { publicName } from "./public_dns.js";

/**
 * The seed's "customise the cluster" step: names the nodes in a private Route 53 zone associated
 * with the cluster's VPC, optionally under a public name, and waits until Route 53 has the changes
 * on all its servers. The zone is marked with the cluster's name, region and stack id so that
 * destroy finds it; a resumed create (`resume`) looks for the one it made before instead of making
 * a second.
 */
export async function customize(
  session: Session,
  facts: ClusterFacts,
  stack: Stack,
  nodes: NodeInfo[],
  wait: {
    deadline: number;
    timeout_minutes: number;
    ref: ClusterRef;
    public_zone?: Zone | null;
    resume: boolean;
    doing?: Doing;
  },
): Promise<DnsInfo & { changes: string[]; dns_changes: string[]; nodes: NamedNode[] }> {
  const r53 = session.clients.route53;
  try {
    const zone = await privateZone(session, facts, stack, wait.resume);
    // Names are stable: a resumed create, scale and sync keep the names the records already give.
    const existing = zone.fresh ? [] : await listRecords(r53, zone.id);
    const plan = planNames(zone.name, nodes, existing);
    const records = plan.records;
    const changes: { id: string; status: string }[] = [];
    if (plan.upserts.length > 0 || plan.deletes.length > 0) {
      changes.push(await changeRecords(r53, zone.id, plan.upserts, plan.deletes));
    }
    for (const line of plan.changes) session.emit("customize", line);
    const last = plan.nodes.at(-1)?.name.split(".")[0];
    session.emit(
      "customize",
      plan.nodes.length === 0
        ? `no nodes to name in ${zone.name}`
        : `named ${plan.nodes.length} nodes: node-1…${last}.${zone.name}${plan.nodes.some((n) => n.role !== "worker") ? `, etcd.${zone.name}` : ""}`,
    );

    const dns: DnsInfo = { private_zone_id: zone.id, private_zone: zone.name, records, public_name: null };
    if (facts.public_domain) {
      const publicZone = wait.public_zone ?? (await findPublicZone(r53, facts.public_domain));
      if (!publicZone)
        throw new OperationError(`no public Route 53 hosted zone named ${facts.public_domain}`);
      const name = publicName(facts.stack_name, publicZone.name);
      const addresses = plan.nodes.map((n) => n.public_ip).filter((ip): ip is string => Boolean(ip));
      if (addresses.length === 0) {
        session.emit("customize", `no node has a public address: ${name} not created`, { kind: "warning" });
      } else {
        const record: DnsRecord = { name, type: "A", values: addresses };
        // With its ownership record; a name another cluster owns is never overwritten.
        changes.push(await writePublicName(session, publicZone, facts, record));
        dns.records.push(record);
        dns.public_name = name;
        dns.public_zone_id = publicZone.id;
        session.emit("customize", `public name ${name} → ${addresses.join(", ")}`);
      }
    }
    await waitInSync(
      session,
      changes.filter((c) => c.status !== "INSYNC").map((c) => c.id),
      wait,
    );
    // Route 53 can be slow: a destroy may have run meanwhile, found no zone yet, and deleted the
    // stack. Then the zone just made would be left behind, and "ready" would be a lie.
    await unlessDeleted(session, facts);
    return { ...dns, changes: changes.map((c) => c.id), dns_changes: plan.changes, nodes: plan.nodes };
  } catch (error) {
    if (error instanceof ClusterGoneError) throw error;
    if (!(error instanceof InterruptedError)) {
      await unlessDeleted(session, facts).catch((gone: unknown) => {
        if (gone instanceof ClusterGoneError) throw gone;
      });
    }
    throw awsFailure("naming the nodes in Route 53", error);
  }
}

/**
 * Throws ClusterGoneError, after removing the cluster's DNS names, when the stack is being deleted
 * or is gone; returns when it is still there.
 */
async function unlessDeleted(session: Session, facts: ClusterFacts): Promise<void> {
  const stack = await describeStack(session.clients.cloudformation, facts.stack_id);
  const status = stack?.StackStatus ?? "DELETE_COMPLETE";
  if (!status.startsWith("DELETE_")) return;
  const removed = await removeDns(
    session,
    facts.stack_name,
    facts.public_domain,
    "customize",
    facts.stack_id,
    true,
  );
  const cleaned =
    removed.length > 0 ? `; create removed what it had made meanwhile: ${removed.join(", ")}` : "";
  throw new ClusterGoneError(
    `the stack ${facts.stack_name} was deleted (${status}) while create was naming its nodes: a destroy ran meanwhile${cleaned}. Nothing of the cluster is left`,
  );
}

/** The cluster's private zone: the one a resumed create made before, else a new one. */
async function privateZone(
  session: Session,
  facts: ClusterFacts,
  stack: Stack,
  resume: boolean,
): Promise<Zone & { fresh: boolean }> {
  const r53 = session.clients.route53;
  const name = bareName(facts.private_domain);
  if (resume) {
    const zones = await findClusterZones(r53, facts.stack_name, session.region);
    const mine = zones.find((z) => z.name === name && madeFor(z, facts.stack_id));
    if (mine) {
      session.emit("customize", `private zone ${mine.name} (${mine.id}) already there`);
      return { ...mine, fresh: false };
    }
  }
  const vpc = vpcOutput(stack) ?? (await stackVpc(session, stack));
  if (!vpc)
    throw new OperationError(`stack ${facts.stack_name} has no VPC to attach the private zone ${name} to`);
  const zone = await createPrivateZone(r53, {
    name,
    vpc_id: vpc,
    region: session.region,
    stack_name: facts.stack_name,
    stack_id: facts.stack_id,
  });
  session.emit("customize", `created private zone ${zone.name} (${zone.id}) in ${vpc}`);
  return { ...zone, fresh: true };
}

async function stackVpc(session: Session, stack: Stack): Promise<string | undefined> {
  const vpcs = await stackResources(session.clients.cloudformation, stack.StackId ?? "", "AWS::EC2::VPC");
  return vpcs[0]?.PhysicalResourceId;
}

/** Route 53 changes are PENDING until every name server has them; then the names resolve. */
async function waitInSync(
  session: Session,
  changes: string[],
  wait: { deadline: number; timeout_minutes: number; ref: ClusterRef; doing?: Doing },
): Promise<void> {
  const doing = wait.doing ?? "created";
  const pace = new Pace(session.hooks.poll?.initial_ms, session.hooks.poll?.max_ms);
  let pending = changes.filter(Boolean);
  if (pending.length === 0) {
    session.emit("customize", "DNS names in sync");
    return;
  }
  let told = false;
  while (pending.length > 0) {
    if (session.hooks.signal?.aborted) throw interrupted(wait.ref, doing);
    const still: string[] = [];
    for (const id of pending) {
      try {
        if ((await changeStatus(session.clients.route53, id)) !== "INSYNC") still.push(id);
      } catch (error) {
        if (!isTransient(error)) throw error;
        still.push(id);
      }
    }
    pending = still;
    if (pending.length === 0) break;
    if (!told) {
      told = true;
      session.emit("customize", "waiting for Route 53 to publish the names", { kind: "waiting" });
    }
    const now = Date.now();
    if (now >= wait.deadline)
      throw timedOut(
        wait.ref,
        wait.timeout_minutes,
        `${doing === "updated" ? "UPDATE_COMPLETE" : "CREATE_COMPLETE"}, its DNS names still PENDING`,
        doing,
      );
    pace.slower();
    try {
      await pause(Math.min(pace.next(), wait.deadline - now), session.hooks.signal);
    } catch (error) {
      if (error instanceof Aborted) throw interrupted(wait.ref, doing);
      throw error;
    }
  }
  session.emit("customize", "DNS names in sync");
}
