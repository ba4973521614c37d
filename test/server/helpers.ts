import { Writable } from "node:stream";
import { createServer, type Server, type ServerOptions } from "../../src/server/app.js";
import { eventually } from "../helpers/harness.js";
import { flatcarAmisFixture, type Moto, startMoto } from "../helpers/services.js";

export const ADMIN_TOKEN = "test-admin-token-0123456789abcdef";
export const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };

/** Everything the server logged, as text (to check that no secret is in it). */
export class LogCapture extends Writable {
  text = "";
  override _write(chunk: Buffer, _encoding: string, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

export interface TestServer {
  server: Server;
  log: LogCapture;
  /**
   * Creates a profile with the admin token; returns its Authorization header. Its quota is 1,000
   * live clusters unless `extra` says otherwise (tests of many creates are not tests of quotas).
   */
  profile(name: string, extra?: Record<string, unknown>): Promise<{ authorization: string }>;
  /** GET /clusters/{name} until its status is `status`; returns the cluster. */
  clusterWhen(headers: Headers, name: string, status: string): Promise<ClusterAnswer>;
  /** The messages of GET /clusters/{name}/events, oldest first. */
  eventMessages(headers: Headers, name: string): Promise<string[]>;
  close(): Promise<void>;
}

type Headers = { authorization: string };
// biome-ignore lint/suspicious/noExplicitAny: a test reads whichever fields of the answer it checks
type ClusterAnswer = any;

export async function testServer(options: ServerOptions = {}): Promise<TestServer> {
  const log = new LogCapture();
  const server = await createServer({
    db: ":memory:",
    pollIntervalMs: 20,
    logStream: log,
    ...options,
    env: { PANDACLUSTER_ADMIN_TOKEN: ADMIN_TOKEN, ...options.env },
  });
  return {
    server,
    log,
    async profile(name, extra = {}) {
      const answer = await server.app.inject({
        method: "POST",
        url: "/profiles",
        headers: admin,
        payload: { name, email: `${name}@example.com`, max_clusters: 1000, ...extra },
      });
      if (answer.statusCode !== 201) throw new Error(`profile ${name}: ${answer.statusCode} ${answer.body}`);
      return { authorization: `Bearer ${answer.json<{ token: string }>().token}` };
    },
    clusterWhen(headers, name, status) {
      return eventually(
        async () => {
          const got = (await server.app.inject({ method: "GET", url: `/clusters/${name}`, headers })).json();
          return got.status === status ? got : undefined;
        },
        10_000,
        `${name} ${status}`,
      );
    },
    async eventMessages(headers, name) {
      const answer = await server.app.inject({ method: "GET", url: `/clusters/${name}/events`, headers });
      return answer.json<{ message: string }[]>().map((e) => e.message);
    },
    close: () => server.close(),
  };
}

/** Polls until check() returns a value, or fails naming `what` (written once, in the harness). */
export { eventually } from "../helpers/harness.js";

/** moto with the pandacluster_moto fixes (one request at a time among them) and Flatcar-like images. */
export async function startSerialMoto(): Promise<Moto> {
  return startMoto({ fixes: true, amisPath: flatcarAmisFixture() });
}
