import { randomUUID } from "node:crypto";
import {
  ChangeResourceRecordSetsCommand,
  CreateHostedZoneCommand,
  DeleteHostedZoneCommand,
  GetChangeCommand,
  type HostedZone,
  ListHostedZonesByNameCommand,
  ListHostedZonesCommand,
  ListResourceRecordSetsCommand,
  type ResourceRecordSet,
  type Route53Client,
  type RRType,
  type VPCRegion,
} from "@aws-sdk/client-route-53";
import type { DnsRecord } from "../lifecycle/types.js";

/** Seconds resolvers may cache a node's name: short, since nodes are replaced. */
const TTL = 60;

export interface Zone {
  id: string;
  name: string;
  private: boolean;
  comment: string;
}

/**
 * Written into the comment of the private zone create makes, so that destroy (and status) find it
 * again from the cluster's name and region alone, even after a crash lost everything else.
 */
export function zoneMarker(stackName: string, region: string): string {
  return `pandacluster:cluster=${stackName} pandacluster:region=${region}`;
}

/** Route 53 answers names with a final dot and ids with a /hostedzone/ prefix; we keep neither. */
export function bareName(name: string): string {
  return name.replace(/\.$/, "").toLowerCase();
}

function bareId(id: string): string {
  return id.replace(/^\/hostedzone\//, "");
}

function zoneOf(zone: HostedZone): Zone {
  return {
    id: bareId(zone.Id ?? ""),
    name: bareName(zone.Name ?? ""),
    private: zone.Config?.PrivateZone === true,
    comment: zone.Config?.Comment ?? "",
  };
}

/** The account's public hosted zone named `domain`, if there is one. */
export async function findPublicZone(r53: Route53Client, domain: string): Promise<Zone | undefined> {
  const answer = await r53.send(new ListHostedZonesByNameCommand({ DNSName: domain, MaxItems: 100 }));
  return (answer.HostedZones ?? [])
    .map(zoneOf)
    .find((zone) => zone.name === bareName(domain) && !zone.private);
}

/** Every zone marked as the given cluster's (normally one). */
export async function findClusterZones(
  r53: Route53Client,
  stackName: string,
  region: string,
): Promise<Zone[]> {
  const marker = zoneMarker(stackName, region);
  const zones: Zone[] = [];
  let marker_token: string | undefined;
  do {
    const page = await r53.send(new ListHostedZonesCommand({ Marker: marker_token }));
    for (const zone of (page.HostedZones ?? []).map(zoneOf)) {
      if (zone.comment.split(/[;,]/)[0]?.trim() === marker) zones.push(zone);
    }
    marker_token = page.IsTruncated ? page.NextMarker : undefined;
  } while (marker_token);
  return zones;
}

/** A private zone associated with the cluster's VPC, marked with the cluster's name and region. */
export async function createPrivateZone(
  r53: Route53Client,
  zone: { name: string; vpc_id: string; region: string; stack_name: string },
): Promise<Zone> {
  const answer = await r53.send(
    new CreateHostedZoneCommand({
      Name: zone.name,
      // Unique per request; Route 53 refuses a second zone with the same reference.
      CallerReference: `pandacluster-${randomUUID()}`,
      VPC: { VPCId: zone.vpc_id, VPCRegion: zone.region as VPCRegion },
      HostedZoneConfig: {
        PrivateZone: true,
        Comment: `${zoneMarker(zone.stack_name, zone.region)}; private names of the cluster's nodes`,
      },
    }),
  );
  if (!answer.HostedZone) throw new Error("Route 53 created a zone but did not describe it");
  return zoneOf(answer.HostedZone);
}

/** Creates or replaces A records in one change batch; returns the change's id to wait on. */
export async function upsertRecords(
  r53: Route53Client,
  zoneId: string,
  records: DnsRecord[],
): Promise<string> {
  const answer = await r53.send(
    new ChangeResourceRecordSetsCommand({
      HostedZoneId: zoneId,
      ChangeBatch: {
        Comment: "pandacluster: node names",
        Changes: records.map((record) => ({
          Action: "UPSERT",
          ResourceRecordSet: {
            Name: record.name,
            Type: record.type,
            TTL,
            ResourceRecords: record.values.map((value) => ({ Value: value })),
          },
        })),
      },
    }),
  );
  return answer.ChangeInfo?.Id ?? "";
}

/** "PENDING" until the change is on every Route 53 server, then "INSYNC". */
export async function changeStatus(r53: Route53Client, changeId: string): Promise<string> {
  if (!changeId) return "INSYNC";
  const answer = await r53.send(new GetChangeCommand({ Id: changeId }));
  return answer.ChangeInfo?.Status ?? "INSYNC";
}

/** The zone's A records (SOA and NS, which Route 53 manages, left out). */
export async function listRecords(r53: Route53Client, zoneId: string): Promise<DnsRecord[]> {
  return (await recordSets(r53, zoneId))
    .filter((set) => set.Type === "A")
    .map((set) => ({
      name: bareName(set.Name ?? ""),
      type: "A" as const,
      values: (set.ResourceRecords ?? []).map((r) => r.Value ?? ""),
    }));
}

async function recordSets(r53: Route53Client, zoneId: string): Promise<ResourceRecordSet[]> {
  const sets: ResourceRecordSet[] = [];
  let next: { name?: string; type?: string } = {};
  for (;;) {
    const page = await r53.send(
      new ListResourceRecordSetsCommand({
        HostedZoneId: zoneId,
        StartRecordName: next.name,
        StartRecordType: next.type as RRType | undefined,
      }),
    );
    sets.push(...(page.ResourceRecordSets ?? []));
    if (!page.IsTruncated || !page.NextRecordName) return sets;
    next = { name: page.NextRecordName, type: page.NextRecordType };
  }
}

/** Deletes the named records (exactly as they are now) in one batch; returns how many went. */
export async function deleteRecords(
  r53: Route53Client,
  zoneId: string,
  keep: (set: ResourceRecordSet) => boolean,
): Promise<number> {
  const doomed = (await recordSets(r53, zoneId)).filter((set) => !keep(set));
  if (doomed.length === 0) return 0;
  await r53.send(
    new ChangeResourceRecordSetsCommand({
      HostedZoneId: zoneId,
      ChangeBatch: {
        Comment: "pandacluster: destroy",
        Changes: doomed.map((set) => ({ Action: "DELETE", ResourceRecordSet: set })),
      },
    }),
  );
  return doomed.length;
}

/** A zone can only be deleted once it holds nothing but its own SOA and apex NS records. */
export async function deleteZone(r53: Route53Client, zone: Zone): Promise<void> {
  await deleteRecords(
    r53,
    zone.id,
    (set) => (set.Type === "SOA" || set.Type === "NS") && bareName(set.Name ?? "") === zone.name,
  );
  await r53.send(new DeleteHostedZoneCommand({ Id: zone.id }));
}
