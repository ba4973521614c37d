import type { Config } from "../config.js";
import type { ServeOptions } from "../options.js";
import { createServer, defaultDbPath, describeDb, type Server, type ServerOptions } from "./app.js";

export interface StartOptions extends ServeOptions {
  env?: NodeJS.ProcessEnv;
  config?: Config;
  /** Where the start-up notices go (listening address, a generated admin token). */
  stderr?: NodeJS.WritableStream;
  /** Aborting it shuts the server down, as SIGTERM does. */
  signal?: AbortSignal;
  /** Extra createServer options (tests and the bench). */
  server?: Omit<ServerOptions, "db" | "env" | "config">;
  /** Install SIGTERM/SIGINT handlers (default true). */
  handleSignals?: boolean;
}

export interface RunningServer {
  server: Server;
  url: string;
  /** Resolves once the server has shut down (after SIGTERM, SIGINT, the signal, or shutdown()). */
  closed: Promise<void>;
  shutdown(reason?: string): Promise<void>;
}

/**
 * `pandacluster serve`: builds the server, resumes unfinished jobs, listens (127.0.0.1 unless told
 * otherwise), and shuts down gracefully on SIGTERM or SIGINT: no new requests, in-flight requests
 * finish, jobs are put down in their stored phase (the next start resumes them), the store closes.
 */
export async function startServer(options: StartOptions): Promise<RunningServer> {
  const env = options.env ?? process.env;
  const stderr = options.stderr ?? process.stderr;
  const db = options.db ?? defaultDbPath(env);
  const server = await createServer({
    ...options.server,
    db,
    env,
    ...(options.config ? { config: options.config } : {}),
  });
  try {
    await server.app.listen({ host: options.host, port: options.port });
  } catch (error) {
    await server.close();
    throw error;
  }
  const address = server.app.server.address();
  const port = typeof address === "object" && address ? address.port : options.port;
  const host = options.host.includes(":") ? `[${options.host}]` : options.host;
  const url = `http://${host}:${port}`;

  if (server.generatedAdminToken) {
    stderr.write(
      `admin token (shown only now; keep it, or set PANDACLUSTER_ADMIN_TOKEN): ${server.generatedAdminToken}\n`,
    );
  }
  stderr.write(
    `pandacluster API server listening on ${url} (store ${describeDb(db)}; secret key from ${server.keyOrigin}); dashboard at ${url}/ui\n`,
  );

  let resolveClosed!: () => void;
  const closed = new Promise<void>((resolve) => {
    resolveClosed = resolve;
  });
  let shuttingDown: Promise<void> | undefined;
  const handlers: [NodeJS.Signals, () => void][] = [];
  const unhook: (() => void)[] = [];
  const shutdown = (reason = "shutdown requested"): Promise<void> => {
    shuttingDown ??= (async () => {
      server.app.log.info(
        { reason },
        "shutting down: unfinished jobs stay stored and resume on the next start",
      );
      for (const [signal, handler] of handlers) process.off(signal, handler);
      for (const undo of unhook) undo();
      try {
        await server.close();
      } finally {
        stderr.write(`pandacluster API server stopped (${reason})\n`);
        resolveClosed();
      }
    })();
    return shuttingDown;
  };
  if (options.handleSignals !== false) {
    for (const signal of ["SIGTERM", "SIGINT"] as const) {
      const handler = () => void shutdown(signal);
      handlers.push([signal, handler]);
      process.on(signal, handler);
    }
    // Last resort: an error nothing else handled (a store or AWS failure in a path that missed its
    // own handling) is logged, and the server keeps serving its other requests and jobs; Node's
    // default would end the process, and every job and open stream with it.
    const lastResort = (error: unknown) => {
      server.app.log.error(
        { error: error instanceof Error ? error.message : String(error) },
        "unhandled error (the server keeps running)",
      );
    };
    process.on("unhandledRejection", lastResort);
    process.on("uncaughtException", lastResort);
    unhook.push(() => {
      process.off("unhandledRejection", lastResort);
      process.off("uncaughtException", lastResort);
    });
  }
  if (options.signal) {
    if (options.signal.aborted) void shutdown("interrupted");
    else options.signal.addEventListener("abort", () => void shutdown("interrupted"), { once: true });
  }
  return { server, url, closed, shutdown };
}
