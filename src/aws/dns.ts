import { createHash, randomUUID } from "node:crypto";
import type {
  HostedZone,
  ResourceRecordSet,
  Route53Client,
  RRType,
  VPCRegion,
} from "@aws-sdk/client-route-53";
import { sdk } from "./sdk.js";
import type { DnsRecord } from "./types.js";

/** Seconds resolvers may cache a node's name: short, since nodes are replaced. */
const TTL = 60;

export interface Zone {
  id: string;
  name: string;
  private: boolean;
  comment: string;
}

/** A zone create made for a cluster. */
export interface ClusterZone extends Zone {
  /** Made for this stack (its id is in the comment). */
  stack_id_tail: string | null;
}

/**
 * Written into the comment of the private zone create makes, so that destroy (and status) find it
 * again from the cluster's name and region alone, even after a crash lost everything else; the
 * stack's id tells a resumed create its own zone from one a former cluster of that name left.
 */
export function zoneMarker(stackName: string, region: string): string {
  return `pandacluster:cluster=${stackName} pandacluster:region=${region}`;
}

function stackMark(stackId: string): string {
  // The id's last part (a UUID) is unique enough and keeps the comment under Route 53's 256 characters.
  return `pandacluster:stack=${stackId.split("/").pop() ?? stackId}`;
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
  const { ListHostedZonesByNameCommand } = sdk.route53();
  const answer = await r53.send(new ListHostedZonesByNameCommand({ DNSName: domain, MaxItems: 100 }));
  return (answer.HostedZones ?? [])
    .map(zoneOf)
    .find((zone) => zone.name === bareName(domain) && !zone.private);
}

/** Every zone marked as the given cluster's (normally one; more if an earlier one was left over). */
export async function findClusterZones(
  r53: Route53Client,
  stackName: string,
  region: string,
): Promise<ClusterZone[]> {
  const { ListHostedZonesCommand } = sdk.route53();
  const marker = zoneMarker(stackName, region);
  const zones: ClusterZone[] = [];
  let marker_token: string | undefined;
  do {
    const page = await r53.send(new ListHostedZonesCommand({ Marker: marker_token }));
    for (const zone of (page.HostedZones ?? []).map(zoneOf)) {
      const words = zone.comment.split(/[\s;]+/);
      if (!zone.comment.startsWith(`${marker} `) && zone.comment !== marker) continue;
      const tail = words
        .find((w) => w.startsWith("pandacluster:stack="))
        ?.slice("pandacluster:stack=".length);
      zones.push({ ...zone, stack_id_tail: tail ?? null });
    }
    marker_token = page.IsTruncated ? page.NextMarker : undefined;
  } while (marker_token);
  return zones;
}

/** A private zone associated with the cluster's VPC, marked with the cluster's name and region. */
export async function createPrivateZone(
  r53: Route53Client,
  zone: { name: string; vpc_id: string; region: string; stack_name: string; stack_id: string },
): Promise<Zone> {
  const { CreateHostedZoneCommand } = sdk.route53();
  const answer = await r53.send(
    new CreateHostedZoneCommand({
      Name: zone.name,
      // Unique per request; Route 53 refuses a second zone with the same reference.
      CallerReference: `pandacluster-${randomUUID()}`,
      VPC: { VPCId: zone.vpc_id, VPCRegion: zone.region as VPCRegion },
      HostedZoneConfig: {
        PrivateZone: true,
        Comment: `${zoneMarker(zone.stack_name, zone.region)} ${stackMark(zone.stack_id)}`,
      },
    }),
  );
  if (!answer.HostedZone) throw new Error("Route 53 created a zone but did not describe it");
  return zoneOf(answer.HostedZone);
}

/** Whether a zone was made for this stack (by its id in the zone's comment). */
export function madeFor(zone: ClusterZone, stackId: string): boolean {
  return zone.stack_id_tail !== null && zone.stack_id_tail === stackId.split("/").pop();
}

/** Creates or replaces A records in one change batch; returns the change to wait on and its status. */
export async function upsertRecords(
  r53: Route53Client,
  zoneId: string,
  records: DnsRecord[],
): Promise<{ id: string; status: string }> {
  const { ChangeResourceRecordSetsCommand } = sdk.route53();
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
  return { id: answer.ChangeInfo?.Id ?? "", status: answer.ChangeInfo?.Status ?? "PENDING" };
}

/**
 * UPSERTs and DELETEs in one change batch (Route 53 applies a batch all or nothing). A DELETE must
 * name the record exactly as it is: values and the TTL we always write.
 */
export async function changeRecords(
  r53: Route53Client,
  zoneId: string,
  upserts: DnsRecord[],
  deletes: DnsRecord[],
): Promise<{ id: string; status: string }> {
  const { ChangeResourceRecordSetsCommand } = sdk.route53();
  const set = (record: DnsRecord) => ({
    Name: record.name,
    Type: record.type,
    TTL: record.ttl ?? TTL,
    ResourceRecords: record.values.map((value) => ({ Value: value })),
  });
  const answer = await r53.send(
    new ChangeResourceRecordSetsCommand({
      HostedZoneId: zoneId,
      ChangeBatch: {
        Comment: "pandacluster: node names",
        Changes: [
          ...deletes.map((record) => ({ Action: "DELETE" as const, ResourceRecordSet: set(record) })),
          ...upserts.map((record) => ({ Action: "UPSERT" as const, ResourceRecordSet: set(record) })),
        ],
      },
    }),
  );
  return { id: answer.ChangeInfo?.Id ?? "", status: answer.ChangeInfo?.Status ?? "PENDING" };
}

/** "PENDING" until the change is on every Route 53 server, then "INSYNC". */
export async function changeStatus(r53: Route53Client, changeId: string): Promise<string> {
  const { GetChangeCommand } = sdk.route53();
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
      ...(set.TTL !== undefined ? { ttl: set.TTL } : {}),
    }));
}

async function recordSets(r53: Route53Client, zoneId: string): Promise<ResourceRecordSet[]> {
  const { ListResourceRecordSetsCommand } = sdk.route53();
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
  const { ChangeResourceRecordSetsCommand } = sdk.route53();
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
  const { DeleteHostedZoneCommand } = sdk.route53();
  await deleteRecords(
    r53,
    zone.id,
    (set) => (set.Type === "SOA" || set.Type === "NS") && bareName(set.Name ?? "") === zone.name,
  );
  await r53.send(new DeleteHostedZoneCommand({ Id: zone.id }));
}

/**
 * Ownership of a public record, as external-dns marks its own: a TXT record of the same name beside
 * the A record, "heritage=pandacluster,pandacluster/owner=<id>,pandacluster/region=<region>". The
 * owner id is a digest of the owning stack's StackId, not the StackId itself: a public zone is read
 * by anyone, and a StackId names the AWS account. Whoever can see the stack can tell it is the owner
 * (ownerId of its StackId); nobody else learns more than "another cluster".
 */
export interface RecordOwner {
  owner: string;
  region: string;
}

const HERITAGE = "heritage=pandacluster";

/** The owner id written for a stack: the first 32 hex digits of SHA-256 of its StackId. */
export function ownerId(stackId: string): string {
  return createHash("sha256").update(stackId).digest("hex").slice(0, 32);
}

/** The TXT value (quoted, as Route 53 takes TXT values) marking a record as the stack's. */
export function ownershipValue(stackId: string, region: string): string {
  return `"${HERITAGE},pandacluster/owner=${ownerId(stackId)},pandacluster/region=${region}"`;
}

/** The owner a TXT value names, or undefined when it is not a pandacluster ownership value. */
export function parseOwnership(value: string): RecordOwner | undefined {
  const fields = new Map(
    value
      .replace(/^"|"$/g, "")
      .split(",")
      .map((field) => {
        const at = field.indexOf("=");
        return [field.slice(0, at), field.slice(at + 1)] as const;
      }),
  );
  if (fields.get("heritage") !== "pandacluster") return undefined;
  const owner = fields.get("pandacluster/owner");
  const region = fields.get("pandacluster/region");
  return owner && region ? { owner, region } : undefined;
}

/** What a zone holds under one name: its A and TXT sets and, when the TXT says so, their owner. */
export interface NameClaim {
  name: string;
  a?: ResourceRecordSet;
  txt?: ResourceRecordSet;
  owner?: RecordOwner;
}

/** The A and TXT record sets of one name (one ListResourceRecordSets call starting at that name). */
export async function nameClaim(r53: Route53Client, zoneId: string, name: string): Promise<NameClaim> {
  const { ListResourceRecordSetsCommand } = sdk.route53();
  const wanted = bareName(name);
  const page = await r53.send(
    new ListResourceRecordSetsCommand({ HostedZoneId: zoneId, StartRecordName: wanted, MaxItems: 10 }),
  );
  const sets = (page.ResourceRecordSets ?? []).filter((set) => bareName(set.Name ?? "") === wanted);
  const a = sets.find((set) => set.Type === "A");
  const txt = sets.find((set) => set.Type === "TXT");
  const owner = (txt?.ResourceRecords ?? [])
    .map((r) => parseOwnership(r.Value ?? ""))
    .find((o): o is RecordOwner => o !== undefined);
  return { name: wanted, ...(a ? { a } : {}), ...(txt ? { txt } : {}), ...(owner ? { owner } : {}) };
}

/**
 * Writes the stack's public A record with its ownership TXT record, in one batch (all or nothing):
 * CREATE both when the name is free, so that a record another cluster wrote meanwhile makes the
 * batch fail rather than be overwritten; UPSERT when the claim read is already the stack's.
 */
export async function writeOwned(
  r53: Route53Client,
  zoneId: string,
  record: DnsRecord,
  owner: { stack_id: string; region: string },
  mine: boolean,
): Promise<{ id: string; status: string }> {
  const { ChangeResourceRecordSetsCommand } = sdk.route53();
  const action = mine ? ("UPSERT" as const) : ("CREATE" as const);
  const answer = await r53.send(
    new ChangeResourceRecordSetsCommand({
      HostedZoneId: zoneId,
      ChangeBatch: {
        Comment: "pandacluster: public name",
        Changes: [
          {
            Action: action,
            ResourceRecordSet: {
              Name: record.name,
              Type: "TXT",
              TTL,
              ResourceRecords: [{ Value: ownershipValue(owner.stack_id, owner.region) }],
            },
          },
          {
            Action: action,
            ResourceRecordSet: {
              Name: record.name,
              Type: "A",
              TTL,
              ResourceRecords: record.values.map((value) => ({ Value: value })),
            },
          },
        ],
      },
    }),
  );
  return { id: answer.ChangeInfo?.Id ?? "", status: answer.ChangeInfo?.Status ?? "PENDING" };
}

/** Deletes a claimed name's A and TXT sets exactly as they were read, in one batch. */
export async function deleteClaim(r53: Route53Client, zoneId: string, claim: NameClaim): Promise<void> {
  const { ChangeResourceRecordSetsCommand } = sdk.route53();
  const sets = [claim.a, claim.txt].filter((set): set is ResourceRecordSet => set !== undefined);
  if (sets.length === 0) return;
  await r53.send(
    new ChangeResourceRecordSetsCommand({
      HostedZoneId: zoneId,
      ChangeBatch: {
        Comment: "pandacluster: destroy",
        Changes: sets.map((set) => ({ Action: "DELETE", ResourceRecordSet: set })),
      },
    }),
  );
}
