/**
 * A stand-in for the VPC's DNS resolver (AmazonProvidedDNS): a DNS server on a free loopback address
 * (port 53, as resolv.conf knows no port) that answers A queries for names of the cluster's private
 * hosted zone from the records in moto's Route 53, as the VPC resolver answers from the zone: for a
 * weighted name, the records of non-zero weight (weight 0 only when every record has it); other
 * names of the zone are NXDOMAIN; AAAA and other types get an empty answer. Names outside the zone
 * are refused (the harness's nodes need no others).
 *
 * Node processes use it through a resolv.conf bind-mounted over /etc/resolv.conf in their namespace.
 */
import { createSocket, type Socket } from "node:dgram";
import { ListResourceRecordSetsCommand, Route53Client } from "@aws-sdk/client-route-53";
import { singleFlight } from "../single-flight.js";

export interface VpcResolver {
  address: string;
  /** resolv.conf's text for the nodes. */
  resolvConf: string;
  /** Queries answered, "name type rcode", newest last. */
  log: string[];
  close(): Promise<void>;
}

interface Question {
  name: string;
  type: number;
  end: number;
}

function readQuestion(msg: Buffer): Question {
  let offset = 12;
  const labels: string[] = [];
  for (;;) {
    const length = msg[offset] as number;
    offset += 1;
    if (length === 0) break;
    labels.push(msg.subarray(offset, offset + length).toString("ascii"));
    offset += length;
  }
  const type = msg.readUInt16BE(offset);
  return { name: `${labels.join(".").toLowerCase()}.`, type, end: offset + 4 };
}

function answer(query: Buffer, q: Question, rcode: number, addresses: string[]): Buffer {
  const header = Buffer.alloc(12);
  query.copy(header, 0, 0, 2); // id
  const rd = (query[2] as number) & 0x01;
  header[2] = 0x80 | 0x04 | rd; // QR, AA, RD as asked
  header[3] = 0x80 | rcode; // RA
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(addresses.length, 6);
  const question = query.subarray(12, q.end);
  const records = addresses.map((ip) => {
    const rr = Buffer.alloc(16);
    rr.writeUInt16BE(0xc00c, 0); // the question's name
    rr.writeUInt16BE(1, 2); // A
    rr.writeUInt16BE(1, 4); // IN
    rr.writeUInt32BE(30, 6);
    rr.writeUInt16BE(4, 10);
    ip.split(".").forEach((octet, i) => {
      rr[12 + i] = Number(octet);
    });
    return rr;
  });
  return Buffer.concat([header, question, ...records]);
}

export async function startVpcResolver(
  address: string,
  motoEndpoint: string,
  zoneId: string,
  domain: string,
): Promise<VpcResolver> {
  const route53 = new Route53Client({
    endpoint: motoEndpoint,
    region: "us-east-1",
    credentials: { accessKeyId: "testing", secretAccessKey: "testing" },
  });
  const zone = `${domain.replace(/\.$/, "").toLowerCase()}.`;
  const log: string[] = [];
  // The VPC resolver answers from the zone at once; this one asks moto. Shared per name for 300 ms
  // (the records' TTL is longer): see single-flight.ts for the queue it prevents.
  const lookup = singleFlight(300, async (name: string): Promise<string[] | undefined> => {
    const out = await route53.send(
      new ListResourceRecordSetsCommand({
        HostedZoneId: zoneId,
        StartRecordName: name,
        StartRecordType: "A",
      }),
    );
    const sets = (out.ResourceRecordSets ?? []).filter(
      (s) => `${(s.Name ?? "").replace(/\.$/, "").toLowerCase()}.` === name && s.Type === "A",
    );
    if (sets.length === 0) return undefined;
    const weighted = sets.filter((s) => (s.Weight ?? 1) > 0);
    const chosen = weighted.length > 0 ? weighted : sets;
    return chosen.flatMap((s) => (s.ResourceRecords ?? []).map((r) => r.Value as string));
  });
  const socket: Socket = createSocket("udp4");
  let closed = false;
  socket.on("message", (msg, remote) => {
    void (async () => {
      let q: Question;
      try {
        q = readQuestion(msg);
      } catch {
        return;
      }
      let reply: Buffer;
      if (!q.name.endsWith(`.${zone}`) && q.name !== zone) {
        reply = answer(msg, q, 5, []); // REFUSED
      } else {
        try {
          const found = await lookup(q.name);
          reply = found === undefined ? answer(msg, q, 3, []) : answer(msg, q, 0, q.type === 1 ? found : []);
        } catch {
          reply = answer(msg, q, 2, []); // SERVFAIL
        }
      }
      log.push(`${q.name} ${q.type} ${reply[3] as number & 0x0f}`);
      if (!closed) socket.send(reply, remote.port, remote.address);
    })();
  });
  await new Promise<void>((resolve, reject) => {
    socket.once("error", reject);
    socket.bind(53, address, () => resolve());
  });
  return {
    address,
    resolvConf: `nameserver ${address}\noptions timeout:1 attempts:3\n`,
    log,
    close: () =>
      new Promise((resolve) => {
        closed = true;
        route53.destroy();
        socket.close(() => resolve());
      }),
  };
}
