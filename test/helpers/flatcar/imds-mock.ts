/**
 * A mock of the EC2 instance metadata service (IMDSv2) for one harness node: moto has no metadata
 * endpoint a process can reach, so this loopback HTTP server stands for what a real instance's
 * 169.254.169.254 answers, with the same rules the launch template asks for (HttpTokens: required):
 *
 * - PUT /latest/api/token with X-aws-ec2-metadata-token-ttl-seconds (1–21600) returns a token;
 *   a PUT without the header is 400, a GET without a valid token is 401 (AWS's IMDSv2 behaviour).
 * - GET /latest/meta-data/{instance-id, local-ipv4, public-ipv4, local-hostname,
 *   placement/availability-zone, placement/region, iam/security-credentials/[role],
 *   tags/instance/[key]} and /latest/dynamic/instance-identity/document.
 *
 * Node processes reach it through AWS_EC2_METADATA_SERVICE_ENDPOINT (the SDKs' and the AWS CLI's
 * standard override); the node's own scripts are expected to honour it too when they curl IMDS.
 */
import { randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface InstanceFacts {
  instanceId: string;
  privateIp: string;
  publicIp?: string;
  availabilityZone: string;
  region: string;
  /** Instance tags (served under tags/instance/ as with InstanceMetadataTags: enabled). */
  tags: Record<string, string>;
  /** The instance profile's role and the credentials IMDS hands out for it. */
  role?: { name: string; accessKeyId: string; secretAccessKey: string; token: string };
}

export interface ImdsMock {
  /** http://127.0.0.1:PORT/ — the value of AWS_EC2_METADATA_SERVICE_ENDPOINT. */
  endpoint: string;
  facts: InstanceFacts;
  /** Requests served, "METHOD path status", for tests that check the node used IMDSv2. */
  log: string[];
  close(): Promise<void>;
}

export async function startImdsMock(facts: InstanceFacts): Promise<ImdsMock> {
  const tokens = new Map<string, number>();
  const log: string[] = [];
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0] as string;
    const answer = (status: number, body: string, type = "text/plain") => {
      log.push(`${req.method} ${path} ${status}`);
      res.writeHead(status, { "content-type": type });
      res.end(body);
    };
    if (req.method === "PUT" && path === "/latest/api/token") {
      const ttl = Number(req.headers["x-aws-ec2-metadata-token-ttl-seconds"]);
      if (!Number.isInteger(ttl) || ttl < 1 || ttl > 21_600) return answer(400, "");
      const token = randomBytes(24).toString("base64url");
      tokens.set(token, Date.now() + ttl * 1000);
      return answer(200, token);
    }
    const token = req.headers["x-aws-ec2-metadata-token"];
    const expires = typeof token === "string" ? tokens.get(token) : undefined;
    if (expires === undefined || expires < Date.now()) return answer(401, "");
    if (req.method !== "GET") return answer(405, "");
    const body = metadata(facts, path);
    if (body === undefined) return answer(404, "");
    return answer(200, body.text, body.type);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}/`,
    facts,
    log,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function metadata(facts: InstanceFacts, path: string): { text: string; type?: string } | undefined {
  const m = "/latest/meta-data/";
  const plain: Record<string, string | undefined> = {
    [`${m}instance-id`]: facts.instanceId,
    [`${m}local-ipv4`]: facts.privateIp,
    [`${m}public-ipv4`]: facts.publicIp,
    [`${m}local-hostname`]: `ip-${facts.privateIp.replaceAll(".", "-")}.ec2.internal`,
    [`${m}placement/availability-zone`]: facts.availabilityZone,
    [`${m}placement/region`]: facts.region,
    [`${m}tags/instance`]: Object.keys(facts.tags).join("\n"),
    [`${m}iam/security-credentials/`]: facts.role?.name,
  };
  if (Object.hasOwn(plain, path)) {
    const text = plain[path];
    return text === undefined ? undefined : { text };
  }
  if (path.startsWith(`${m}tags/instance/`)) {
    const key = decodeURIComponent(path.slice(`${m}tags/instance/`.length));
    const value = facts.tags[key];
    return value === undefined ? undefined : { text: value };
  }
  if (facts.role && path === `${m}iam/security-credentials/${facts.role.name}`) {
    const r = facts.role;
    const expiration = new Date(Date.now() + 6 * 3600_000).toISOString().replace(/\.\d+Z$/, "Z");
    return {
      type: "application/json",
      text: JSON.stringify({
        Code: "Success",
        LastUpdated: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
        Type: "AWS-HMAC",
        AccessKeyId: r.accessKeyId,
        SecretAccessKey: r.secretAccessKey,
        Token: r.token,
        Expiration: expiration,
      }),
    };
  }
  if (path === "/latest/dynamic/instance-identity/document") {
    return {
      type: "application/json",
      text: JSON.stringify({
        instanceId: facts.instanceId,
        privateIp: facts.privateIp,
        availabilityZone: facts.availabilityZone,
        region: facts.region,
      }),
    };
  }
  return undefined;
}
