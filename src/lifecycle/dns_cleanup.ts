import { bareName, deleteRecords, deleteZone, findClusterZones, findPublicZone } from "../aws/dns.js";
import { PLACEHOLDER_SET } from "../template/etcd/slots.js";
import { publicName } from "./customize.js";
import type { Session } from "./session.js";

/**
 * Removes the DNS names create made: the private zones marked with the cluster's name and region
 * (records first, then the zone) and the public record <stack_name>.<domain>. Returns what went.
 */
export async function removeDns(
  session: Session,
  stackName: string,
  publicDomain: string | null,
  step: "destroy" | "customize" = "destroy",
): Promise<string[]> {
  const r53 = session.clients.route53;
  const removed: string[] = [];
  for (const zone of await findClusterZones(r53, stackName, session.region)) {
    await deleteZone(r53, zone);
    removed.push(`private zone ${zone.name} (${zone.id})`);
    session.emit(step, `deleted private zone ${zone.name} (${zone.id})`);
  }
  if (publicDomain) {
    const zone = await findPublicZone(r53, publicDomain);
    if (zone) {
      const name = publicName(stackName, zone.name);
      const count = await deleteRecords(
        r53,
        zone.id,
        (set) => !(set.Type === "A" && bareName(set.Name ?? "") === name),
      );
      if (count > 0) {
        removed.push(`public record ${name}`);
        session.emit(step, `deleted public record ${name}`);
      }
    }
  }
  return removed;
}

/**
 * Empties the private zone the stack itself made (static controllers, etcd/slots.ts) of every record
 * CloudFormation did not make: the node-<i> and etcd names, each controller's own weighted etcd-<i>
 * record and the "formed" mark. CloudFormation then deletes its placeholder records and the zone
 * (it cannot delete a zone that holds records it does not know). Returns what went.
 */
export async function emptyStackZone(
  session: Session,
  zoneId: string,
  zoneName: string,
  step: "destroy" | "customize" = "destroy",
): Promise<string[]> {
  const count = await deleteRecords(
    session.clients.route53,
    zoneId,
    (set) =>
      ((set.Type === "SOA" || set.Type === "NS") && bareName(set.Name ?? "") === bareName(zoneName)) ||
      set.SetIdentifier === PLACEHOLDER_SET,
  );
  if (count === 0) return [];
  session.emit(
    step,
    `deleted ${count} records the nodes and create made in ${bareName(zoneName)} (${zoneId})`,
  );
  return [`${count} records in ${bareName(zoneName)} (${zoneId})`];
}
