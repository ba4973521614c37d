/**
 * The VPC resolver stand-in of the etcd harness (helpers/flatcar/vpc-resolver.ts, single-flight.ts)
 * under load: when Route 53 (moto) answers slower than the nodes ask, queries for one name share the
 * calls instead of queueing one call each (which made a 5-member bootstrap time out beside another
 * test run: the SDK had thousands of calls queued, each answer came after its asker had given up),
 * and a changed record still reaches the askers soon after. Route 53 is slowed by a proxy that holds
 * every answer back (what a loaded machine does to moto); the calls are counted there.
 */
import assert from "node:assert/strict";
import { createSocket } from "node:dgram";
import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import {
  ChangeResourceRecordSetsCommand,
  CreateHostedZoneCommand,
  Route53Client,
} from "@aws-sdk/client-route-53";
import { freeLoopbackAddress } from "../helpers/etcd-harness.js";
import { startVpcResolver, type VpcResolver } from "../helpers/flatcar/vpc-resolver.js";
import { eventually } from "../helpers/harness.js";
import { type Moto, startMoto } from "../helpers/services.js";

const DOMAIN = "resolver.internal";
const DELAY_MS = 400;

/** A DNS query for an A record (RD set), as glibc's resolver sends it. */
function query(id: number, name: string): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id, 0);
  header[2] = 0x01;
  header.writeUInt16BE(1, 4);
  const labels = name
    .split(".")
    .map((label) => Buffer.concat([Buffer.from([label.length]), Buffer.from(label)]));
  return Buffer.concat([header, ...labels, Buffer.from([0, 0, 1, 0, 1])]);
}

/** The A records of an answer (rcode 0), or the rcode. */
function addresses(reply: Buffer): string[] | number {
  const rcode = (reply[3] as number) & 0x0f;
  if (rcode !== 0) return rcode;
  const count = reply.readUInt16BE(6);
  let offset = 12;
  while ((reply[offset] as number) !== 0) offset += (reply[offset] as number) + 1;
  offset += 5;
  const found: string[] = [];
  for (let i = 0; i < count; i++) {
    found.push([...reply.subarray(offset + 12, offset + 16)].join("."));
    offset += 16;
  }
  return found;
}

/** Sends `count` queries for `name` at once; resolves with every answer. */
function ask(
  resolver: VpcResolver,
  name: string,
  count: number,
  timeoutMs = 60_000,
): Promise<(string[] | number)[]> {
  return new Promise((resolve, reject) => {
    const socket = createSocket("udp4");
    const answers = new Map<number, string[] | number>();
    const timer = setTimeout(() => {
      socket.close();
      reject(new Error(`${answers.size} of ${count} answers for ${name} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on("message", (reply) => {
      answers.set(reply.readUInt16BE(0), addresses(reply));
      if (answers.size === count) {
        clearTimeout(timer);
        socket.close();
        resolve([...answers.values()]);
      }
    });
    for (let id = 1; id <= count; id++) socket.send(query(id, name), 53, resolver.address);
  });
}

describe("the VPC resolver stand-in, with Route 53 slower than the askers", () => {
  let moto: Moto;
  let slow: Server;
  let calls = 0;
  /** Route 53 answers read (not yet passed on: they are held DELAY_MS). */
  let read = 0;
  let resolver: VpcResolver;
  let zoneId: string;
  let route53: Route53Client;
  const setRecord = (ip: string, name = "etcd-1") =>
    route53.send(
      new ChangeResourceRecordSetsCommand({
        HostedZoneId: zoneId,
        ChangeBatch: {
          Changes: [
            {
              Action: "UPSERT",
              ResourceRecordSet: {
                Name: `${name}.${DOMAIN}`,
                Type: "A",
                TTL: 30,
                ResourceRecords: [{ Value: ip }],
              },
            },
          ],
        },
      }),
    );

  before(async () => {
    moto = await startMoto({ fixes: true });
    route53 = new Route53Client({
      endpoint: moto.endpoint,
      region: "us-east-1",
      credentials: { accessKeyId: "testing", secretAccessKey: "testing" },
    });
    const zone = await route53.send(
      new CreateHostedZoneCommand({ Name: DOMAIN, CallerReference: "resolver-test" }),
    );
    zoneId = (zone.HostedZone?.Id ?? "").replace(/^\/hostedzone\//, "");
    await setRecord("10.0.0.1");
    const target = new URL(moto.endpoint);
    // Route 53 reads the records at once and its answer arrives DELAY_MS later (what a loaded
    // machine does to moto): an answer can then be older than a change made meanwhile.
    slow = createServer((req, res) => {
      calls += 1;
      const chunks: Buffer[] = [];
      req.on("data", (chunk: Buffer) => chunks.push(chunk));
      req.on("end", () => {
        const forward = request(
          {
            host: target.hostname,
            port: target.port,
            method: req.method,
            path: req.url,
            headers: req.headers,
          },
          (answer) => {
            const body: Buffer[] = [];
            answer.on("data", (chunk: Buffer) => body.push(chunk));
            answer.on("end", () => {
              read += 1;
              setTimeout(() => {
                res.writeHead(answer.statusCode ?? 502, answer.headers);
                res.end(Buffer.concat(body));
              }, DELAY_MS);
            });
          },
        );
        forward.on("error", () => res.destroy());
        forward.end(Buffer.concat(chunks));
      });
    });
    await new Promise<void>((resolve) => slow.listen(0, "127.0.0.1", resolve));
    const address = await freeLoopbackAddress(new Set());
    resolver = await startVpcResolver(
      address,
      `http://127.0.0.1:${(slow.address() as AddressInfo).port}`,
      zoneId,
      DOMAIN,
    );
  });
  after(async () => {
    await resolver?.close();
    route53?.destroy();
    slow?.close();
    await moto?.stop();
  });

  it("200 queries at once for one name: every one answered, with at most two Route 53 calls", async () => {
    calls = 0;
    const answers = await ask(resolver, `etcd-1.${DOMAIN}`, 200);
    assert.equal(answers.length, 200);
    for (const answer of answers) assert.deepEqual(answer, ["10.0.0.1"]);
    // One call for the first query; every later one shares it (or its answer, for 300 ms).
    assert.ok(calls <= 2, `${calls} Route 53 calls for 200 queries of one name`);
  });

  it("a record change reaches the askers once the shared call has ended and 300 ms have passed", async () => {
    // A call is in flight (it read the old record); the record changes meanwhile. Queries share
    // that call and its answer for 300 ms (the records' TTL is 30 s: a real resolver may cache
    // longer); after that a query makes a call of its own and gets the new record.
    // A name no query asked yet (etcd-1's answer may still be shared from the test before).
    await setRecord("10.0.0.1", "etcd-2");
    const readBefore = read;
    const early = ask(resolver, `etcd-2.${DOMAIN}`, 1);
    // Route 53 has read the record for the early query (its answer is still held back).
    await eventually(
      async () => (read > readBefore ? true : undefined),
      30_000,
      "Route 53 to read the record",
    );
    await setRecord("10.0.0.2", "etcd-2");
    assert.deepEqual(await early, [["10.0.0.1"]], "the call in flight read the record before the change");
    await new Promise((resolve) => setTimeout(resolve, 400));
    assert.deepEqual(await ask(resolver, `etcd-2.${DOMAIN}`, 1), [["10.0.0.2"]]);
  });

  it("a name of the zone with no record is NXDOMAIN; a name outside the zone is refused", async () => {
    assert.deepEqual(await ask(resolver, `etcd-9.${DOMAIN}`, 1), [3]);
    assert.deepEqual(await ask(resolver, "example.com", 1), [5]);
  });
});
