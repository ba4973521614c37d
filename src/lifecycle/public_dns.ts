import { awsClients } from "../aws/clients.js";
import {
  bareName,
  deleteClaim,
  findPublicZone,
  type NameClaim,
  nameClaim,
  ownerId,
  type RecordOwner,
  writeOwned,
  type Zone,
} from "../aws/dns.js";
import { allStacks } from "../aws/stacks.js";
import type { Config } from "../config.js";
import { OperationError, UsageError } from "../errors.js";
import { shellQuote } from "../shell.js";
import { openSession, type Session } from "./session.js";
import type { DnsRecord, Hooks } from "./types.js";

/**
 * The public name of a cluster, <stack_name>.<domain>, and who owns it: every public record this
 * tool writes carries an ownership TXT record (aws/dns.ts), so a cluster of the same name in another
 * region, or another profile's, never overwrites or deletes it. Private records need no such mark:
 * they live in a private zone made for one stack (its StackId is in the zone's comment).
 */
export function publicName(stackName: string, domain: string): string {
  return `${stackName.toLowerCase()}.${bareName(domain)}`;
}

/**
 * Says who an owner is, or undefined when the caller may not know: by default the stacks the
 * caller's own AWS credentials can see in the owner's region (the owner id is a digest of a StackId);
 * the API server names only its caller's own clusters.
 */
export type OwnerLookup = (owner: RecordOwner) => Promise<{ stack_name: string; region: string } | undefined>;

function defaultLookup(session: Session): OwnerLookup {
  return async (owner) => {
    const clients =
      owner.region === session.region
        ? session.clients
        : awsClients(session.credentials, {
            region: owner.region,
            ...(session.profile ? { profile: session.profile } : {}),
          });
    const stacks = await allStacks(clients.cloudformation).catch(() => []);
    const found = stacks.find((s) => s.StackId && ownerId(s.StackId) === owner.owner);
    return found?.StackName ? { stack_name: found.StackName, region: owner.region } : undefined;
  };
}

function lookup(session: Session): OwnerLookup {
  return session.hooks.owner_lookup ?? defaultLookup(session);
}

/** Whose the claim is, in words the caller may read, and the owner when the caller may know it. */
async function ownerOf(
  session: Session,
  claim: NameClaim,
): Promise<{ words: string; known?: { stack_name: string; region: string } }> {
  if (!claim.owner) return { words: "a record this tool did not write (no pandacluster ownership record)" };
  const known = await lookup(session)(claim.owner).catch(() => undefined);
  return known
    ? { words: `cluster ${known.stack_name} in ${known.region}`, known }
    : { words: "another cluster" };
}

async function ownerWords(session: Session, claim: NameClaim): Promise<string> {
  return (await ownerOf(session, claim)).words;
}

/**
 * Before anything is created: the public name must be free. Taken by anyone (another cluster of
 * that name in another region, another profile, a record someone wrote by hand) → UsageError
 * (exit 2 / HTTP 400) naming the owner only when the caller may know it.
 */
export async function checkPublicNameFree(session: Session, zone: Zone, stackName: string): Promise<void> {
  const name = publicName(stackName, zone.name);
  const claim = await nameClaim(session.clients.route53, zone.id, name);
  if (!claim.a && !claim.txt) return;
  const { words: whose, known } = await ownerOf(session, claim);
  const remove = known
    ? `; remove that cluster first (pandacluster destroy -n ${shellQuote(known.stack_name)} -r ${shellQuote(known.region)}) or choose another name or public domain`
    : "; choose another name or public domain";
  throw new UsageError([
    { argument: "public_domain", message: `the public name ${name} is already taken by ${whose}${remove}` },
  ]);
}

/**
 * Writes the cluster's public record (and its ownership record): a name that is free or already the
 * stack's own. A name another cluster owns is never overwritten: an OperationError.
 */
export async function writePublicName(
  session: Session,
  zone: Zone,
  stack: { stack_name: string; stack_id: string },
  record: DnsRecord,
): Promise<{ id: string; status: string }> {
  const r53 = session.clients.route53;
  const claim = await nameClaim(r53, zone.id, record.name);
  const mine = claim.owner?.owner === ownerId(stack.stack_id);
  if (!mine && (claim.a || claim.txt)) {
    throw new OperationError(
      `the public name ${record.name} is ${await ownerWords(session, claim)}'s, not ${stack.stack_name}'s: not overwritten`,
    );
  }
  try {
    return await writeOwned(r53, zone.id, record, { stack_id: stack.stack_id, region: session.region }, mine);
  } catch (error) {
    // CREATE refused: another cluster wrote the name between our read and our write.
    if ((error as { name?: string }).name === "InvalidChangeBatch" && !mine) {
      const now = await nameClaim(r53, zone.id, record.name);
      throw new OperationError(
        `the public name ${record.name} was just taken by ${await ownerWords(session, now)}: not overwritten`,
      );
    }
    throw error;
  }
}

/**
 * Deletes the cluster's public record and its ownership record when they are the stack's; a name
 * another cluster owns (or that nobody marked) is left alone. Returns whether it deleted.
 */
export async function removePublicName(
  session: Session,
  zone: Zone,
  stack: { stack_name: string; stack_id: string | null },
  step: "destroy" | "customize",
): Promise<boolean> {
  const r53 = session.clients.route53;
  const name = publicName(stack.stack_name, zone.name);
  const claim = await nameClaim(r53, zone.id, name);
  if (!claim.a && !claim.txt) return false;
  if (!stack.stack_id || claim.owner?.owner !== ownerId(stack.stack_id)) {
    session.emit(step, `public name ${name} is ${await ownerWords(session, claim)}'s: left alone`, {
      kind: "warning",
    });
    return false;
  }
  await deleteClaim(r53, zone.id, claim);
  return true;
}

/** The public record of the stack, when the name is the stack's own. */
export async function ownPublicRecord(
  session: Session,
  zone: Zone,
  stack: { stack_name: string; stack_id: string },
): Promise<DnsRecord | undefined> {
  const claim = await nameClaim(session.clients.route53, zone.id, publicName(stack.stack_name, zone.name));
  if (!claim.a || claim.owner?.owner !== ownerId(stack.stack_id)) return undefined;
  return {
    name: claim.name,
    type: "A",
    values: (claim.a.ResourceRecords ?? []).map((r) => r.Value ?? ""),
    ...(claim.a.TTL !== undefined ? { ttl: claim.a.TTL } : {}),
  };
}

/**
 * The up-front check on its own, for the API server's POST /clusters: the public zone exists and the
 * cluster's public name in it is free. UsageError otherwise (naming the owner only through `hooks`).
 */
export async function checkPublicName(
  credentials: Config | undefined,
  target: { stack_name: string; region: string; public_domain: string },
  hooks: Hooks = {},
): Promise<void> {
  const session = await openSession(credentials, target, hooks);
  const zone = await findPublicZone(session.clients.route53, target.public_domain);
  if (!zone)
    throw new UsageError([
      {
        argument: "public_domain",
        message: `no public Route 53 hosted zone named ${target.public_domain} in this account`,
      },
    ]);
  await checkPublicNameFree(session, zone, target.stack_name);
}
