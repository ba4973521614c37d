import { deleteZone, findClusterZones, findPublicZone } from "../aws/dns.js";
import { publicName, removePublicName } from "./public_dns.js";
import type { Session } from "./session.js";

/**
 * Removes the DNS names create made: the private zones marked with the cluster's name and region
 * (records first, then the zone) and the public record <stack_name>.<domain> with its ownership
 * record, only when they are the stack's (`stackId`): another cluster's public name is left alone.
 * Returns what went.
 */
export async function removeDns(
  session: Session,
  stackName: string,
  publicDomain: string | null,
  step: "destroy" | "customize" = "destroy",
  stackId: string | null = null,
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
      if (await removePublicName(session, zone, { stack_name: stackName, stack_id: stackId }, step)) {
        removed.push(`public record ${name}`);
        session.emit(step, `deleted public record ${name}`);
      }
    }
  }
  return removed;
}
