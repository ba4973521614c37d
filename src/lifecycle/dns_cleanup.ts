import { deleteZone, findClusterZones, findPublicZone, madeFor } from "../aws/dns.js";
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
  onlyTheStacks = false,
): Promise<string[]> {
  const r53 = session.clients.route53;
  const removed: string[] = [];
  const zones = await findClusterZones(r53, stackName, session.region);
  // A flow finishing a stack that was deleted meanwhile removes only the zones made for that very
  // stack: another stack of that name may stand in its place by now, with a zone of its own.
  for (const zone of onlyTheStacks && stackId ? zones.filter((z) => madeFor(z, stackId)) : zones) {
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
