/**
 * A stand-in for one EC2 instance's metadata service (IMDSv2), for running the controllers' node
 * script against moto: moto has no instance metadata service. It answers as AWS's does, from what
 * moto says about the instance at the time of each request (DescribeInstances):
 *
 *   PUT  /latest/api/token (X-aws-ec2-metadata-token-ttl-seconds) → a token; every GET needs it in
 *        X-aws-ec2-metadata-token, else 401 (IMDSv2 with HttpTokens required)
 *   GET  /latest/meta-data/instance-id | local-ipv4 | placement/availability-zone | placement/region
 *   GET  /latest/meta-data/tags/instance/<key>   the instance's tags (InstanceMetadataTags enabled):
 *        404 for a key it does not have
 *   GET  /latest/meta-data/iam/security-credentials/ → the role's name, and …/<role> → keys; 404
 *        when the instance has no instance profile, as AWS answers
 *
 * The credentials are moto's test keys (moto checks no signature); the role name is the instance
 * profile's last path part.
 */
import { randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { DescribeInstancesCommand, EC2Client, type Instance } from "@aws-sdk/client-ec2";
import { singleFlight } from "./single-flight.js";

export interface FakeImds {
  /** http://127.0.0.1:PORT: AWS_EC2_METADATA_SERVICE_ENDPOINT for the node script. */
  endpoint: string;
  /** Which instance it answers for (a replaced controller is a new instance). */
  instanceId: string;
  stop(): Promise<void>;
}

export async function startFakeImds(
  motoEndpoint: string,
  instanceId: string,
  region = "us-east-1",
): Promise<FakeImds> {
  const ec2 = new EC2Client({
    endpoint: motoEndpoint,
    region,
    credentials: { accessKeyId: "testing", secretAccessKey: "testing" },
  });
  const tokens = new Set<string>();
  const state = { instanceId };
  // Shared per instance for 250 ms: see single-flight.ts for the queue it prevents.
  const describeById = singleFlight(250, async (id: string): Promise<Instance | undefined> => {
    const answer = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }));
    return answer.Reservations?.[0]?.Instances?.[0];
  });
  const describe = () => describeById(state.instanceId);
  const server: Server = createServer((request, response) => {
    const send = (code: number, body = "") => {
      response.writeHead(code, { "content-type": "text/plain" });
      response.end(body);
    };
    const path = (request.url ?? "").split("?")[0] as string;
    if (request.method === "PUT" && path === "/latest/api/token") {
      if (!request.headers["x-aws-ec2-metadata-token-ttl-seconds"]) return send(400, "missing TTL");
      const token = randomUUID();
      tokens.add(token);
      return send(200, token);
    }
    if (request.method !== "GET") return send(405);
    if (!tokens.has(String(request.headers["x-aws-ec2-metadata-token"] ?? ""))) return send(401);
    describe()
      .then((instance) => {
        if (!instance) return send(404);
        const zone = instance.Placement?.AvailabilityZone ?? "";
        const tags = new Map((instance.Tags ?? []).map((t) => [t.Key ?? "", t.Value ?? ""]));
        const role = instance.IamInstanceProfile?.Arn?.split("/").pop();
        const simple: Record<string, string | undefined> = {
          "/latest/meta-data/instance-id": instance.InstanceId,
          "/latest/meta-data/local-ipv4": instance.PrivateIpAddress,
          "/latest/meta-data/placement/availability-zone": zone,
          "/latest/meta-data/placement/region": zone.replace(/[a-z]$/, ""),
          "/latest/meta-data/iam/security-credentials/": role,
        };
        if (path in simple) return simple[path] ? send(200, simple[path]) : send(404);
        if (path.startsWith("/latest/meta-data/tags/instance/")) {
          const value = tags.get(decodeURIComponent(path.slice("/latest/meta-data/tags/instance/".length)));
          return value === undefined ? send(404) : send(200, value);
        }
        if (role && path === `/latest/meta-data/iam/security-credentials/${role}`) {
          return send(
            200,
            JSON.stringify(
              {
                Code: "Success",
                Type: "AWS-HMAC",
                AccessKeyId: "testing",
                SecretAccessKey: "testing",
                Token: "testing-session-token",
                Expiration: new Date(Date.now() + 3_600_000).toISOString(),
              },
              null,
              2,
            ),
          );
        }
        return send(404);
      })
      .catch((error: unknown) => send(500, String(error)));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    get instanceId() {
      return state.instanceId;
    },
    set instanceId(id: string) {
      state.instanceId = id;
    },
    async stop() {
      ec2.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
