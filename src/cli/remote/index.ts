import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import type { CommandName } from "../../definitions.js";
import { envInt } from "../../env-numbers.js";
import { InterruptedError, OperationError, UsageError } from "../../errors.js";
import type { ClusterResult, DestroyResult, ListResult, SyncResult } from "../../lifecycle/types.js";
import { hasUserinfo, type UnitsInput, unitsFolder } from "../../options.js";
import { shellQuote } from "../../shell.js";
import { rememberClusters } from "../completion/cache.js";
import type { CliContext } from "../context.js";
import type { Progress } from "../render/progress.js";
import { showCluster, showDestroy, showList, showStatus, showSync } from "../render/results.js";
import { withProgress } from "../render/run.js";
import { Aborted, ApiError, Client, NetworkError } from "./client.js";
import { follow, type ServerCluster } from "./follow.js";

/**
 * The CLI as a client of a pandacluster API server (--server URL or PANDACLUSTER_SERVER, with
 * PANDACLUSTER_TOKEN): create, destroy, status, list and wait go through the API, follow the
 * server's job through its event stream (follow.ts), and print what the local mode prints, with
 * its exit codes. The HTTP client is client.ts; this file turns commands into calls and answers
 * into the local mode's output.
 */

/** The fields of a day-2 job (GET …/upgrade, …/scale) that wait reads. */
interface Day2JobView {
  id: string;
  state: "running" | "succeeded" | "failed";
}

interface ServerSummary {
  stack_name: string;
  region: string;
  status: string;
  cluster_size: number;
  created_at: string;
  stack_id: string | null;
  channel: string | null;
  arch: string | null;
  image_warning?: string | null;
}

/** Runs a command on the server named by options.server; returns the exit code. */
export async function runRemote(
  command: CommandName,
  options: Record<string, unknown>,
  context: CliContext,
): Promise<number> {
  const server = String(options.server ?? context.env.PANDACLUSTER_SERVER ?? "");
  if (hasUserinfo(server)) {
    // Checked here too for PANDACLUSTER_SERVER (the flag is checked with every URL argument); never echoed.
    throw new UsageError([
      {
        argument: "--server / PANDACLUSTER_SERVER",
        message:
          "a URL with a user name or password (user:password@host) is not taken: it would be shown in errors; give the server's URL alone and the token in PANDACLUSTER_TOKEN",
      },
    ]);
  }
  const token = context.env.PANDACLUSTER_TOKEN;
  if (!token) {
    throw new UsageError(
      `PANDACLUSTER_TOKEN is not set: the server at ${server} needs your profile's token (its admin creates it with POST /profiles)`,
    );
  }
  // Checked before any request: a value out of range is bad input (exit 2), never sent half-way.
  envInt(context.env, "PANDACLUSTER_REMOTE_POLL_MS");
  const client = new Client(server.endsWith("/") ? server : `${server}/`, token, context.signal);
  const remote = new Remote(client, context, server);
  try {
    switch (command) {
      case "create":
        return await remote.create(options);
      case "destroy":
        return await remote.destroy(options);
      case "status":
        return await remote.status(options);
      case "list":
        return await remote.list(options);
      case "wait":
        return await remote.wait(options);
      case "scale":
        return await (await import("./scale.js")).scaleRemote(client, context, server, options);
      case "upgrade":
        return await (await import("./upgrade.js")).upgradeRemote(client, context, server, options);
      case "sync":
        return await remote.sync(options);
      default:
        throw new UsageError(`${command} cannot be run through a server`);
    }
  } catch (error) {
    throw translate(error, server);
  }
}

/** API answers as the CLI's errors: bad input → exit 2, anything else that failed → exit 1. */
function translate(error: unknown, server: string): unknown {
  if (!(error instanceof ApiError)) return error;
  if (error.status === 400) {
    return new UsageError(error.messages.map((message) => ({ argument: "", message })));
  }
  if (error.status === 401) {
    return new OperationError(`the server at ${server} did not accept PANDACLUSTER_TOKEN`, error.messages);
  }
  const [first, ...rest] = error.messages;
  return new OperationError(first ?? `the server answered ${error.status} (${error.error})`, rest);
}

class Remote {
  constructor(
    private readonly client: Client,
    private readonly context: CliContext,
    private readonly server: string,
  ) {}

  private hint(verb: "wait" | "destroy", name: string, region: string): string {
    return `pandacluster ${verb} -n ${shellQuote(name)} -r ${shellQuote(region)} --server ${shellQuote(this.server)}`;
  }

  private query(region: unknown, extra: Record<string, string> = {}): string {
    const params = new URLSearchParams(extra);
    if (typeof region === "string") params.set("region", region);
    const text = params.toString();
    return text ? `?${text}` : "";
  }

  async create(options: Record<string, unknown>): Promise<number> {
    for (const [name, flag] of [
      ["template_path", "--template-path"],
      ["profile", "--profile"],
    ] as const) {
      if (options[name] !== undefined) {
        throw new UsageError(
          `${flag} cannot be used with --server: it names something on this machine, and the cluster is created by the server`,
        );
      }
    }
    const body: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(options)) {
      if (["json", "output", "server"].includes(key) || value === undefined) continue;
      body[key] = key === "units" ? inlineUnits(value as UnitsInput) : value;
    }
    const started = Date.now();
    return withProgress(this.context, async (progress) => {
      // One key for this create: a retry after a dropped connection cannot create twice.
      const key = randomUUID();
      let answer:
        | { status: number; body: { stack_name: string; region: string; result?: ClusterResult } }
        | undefined;
      for (let attempt = 1; !answer; attempt++) {
        try {
          answer = await this.client.call("POST", "clusters", body, { "idempotency-key": key });
        } catch (error) {
          if (!(error instanceof NetworkError) || attempt >= 3) throw this.interrupt(error, undefined);
          await new Promise((r) => setTimeout(r, 500 * attempt));
        }
      }
      if (answer.status === 200 && answer.body.result) {
        progress.stop();
        return showCluster(this.context, answer.body.result, true);
      }
      const { stack_name, region } = answer.body;
      const cluster = await this.follow(stack_name, region, progress, "created");
      progress.stop();
      return this.showCreate(cluster, started);
    });
  }

  private showCreate(cluster: ServerCluster, started?: number): number {
    if (cluster.result) {
      // The server's result times its own steps; what this user waited is the whole create.
      const timings = { ...cluster.result.timings };
      if (started !== undefined) timings.total = (Date.now() - started) / 1000;
      return showCluster(this.context, { ...cluster.result, timings });
    }
    const [first, ...rest] = cluster.reasons;
    throw new OperationError(first ?? `creating ${cluster.stack_name} failed`, rest);
  }

  async destroy(options: Record<string, unknown>): Promise<number> {
    const name = String(options.stack_name);
    const started = Date.now();
    return withProgress(this.context, async (progress) => {
      const answer = await this.client.call<{ stack_name: string; region: string; status: string }>(
        "DELETE",
        `clusters/${encodeURIComponent(name)}${this.query(options.region)}`,
      );
      const { region } = answer.body;
      if (answer.body.status === "deleted") {
        progress.stop();
        return showDestroy(
          this.context,
          destroyResult(name, region, "success", `${name} was already deleted`, true),
        );
      }
      if (options.no_wait === true) {
        progress.stop();
        const message = `deleting ${name} in ${region}; follow it with: ${this.hint("wait", name, region)}`;
        return showDestroy(this.context, destroyResult(name, region, "success", message));
      }
      const cluster = await this.follow(name, region, progress, "deleted");
      progress.stop();
      return this.showDeletion(cluster, started);
    });
  }

  private showDeletion(cluster: ServerCluster, started?: number): number {
    const { stack_name: name, region } = cluster;
    const result =
      cluster.status === "deleted"
        ? destroyResult(name, region, "success", `cluster ${name} deleted from ${region}`)
        : destroyResult(
            name,
            region,
            "failure",
            `the stack ${name} could not be deleted; fix the cause below, then run: ${this.hint("destroy", name, region)}`,
            false,
            cluster.reasons,
          );
    if (started !== undefined) result.timings.total = (Date.now() - started) / 1000;
    return showDestroy(this.context, result);
  }

  /** POST /clusters/{name}/sync: the server syncs with the profile's credentials; printed as locally. */
  async sync(options: Record<string, unknown>): Promise<number> {
    const name = String(options.stack_name);
    const region = typeof options.region === "string" ? `?region=${encodeURIComponent(options.region)}` : "";
    const { body } = await this.client.call<SyncResult>(
      "POST",
      `clusters/${encodeURIComponent(name)}/sync${region}`,
      {},
    );
    return showSync(this.context, body);
  }

  async status(options: Record<string, unknown>): Promise<number> {
    const name = String(options.stack_name);
    return withProgress(this.context, async (progress) => {
      const { body } = await this.client.call<ServerCluster>(
        "GET",
        `clusters/${encodeURIComponent(name)}${this.query(options.region, { live: "true" })}`,
      );
      progress.stop();
      if (!body.live) throw new OperationError(body.live_error ?? `no status for ${name}`);
      return showStatus(this.context, body.live);
    });
  }

  async list(options: Record<string, unknown>): Promise<number> {
    return withProgress(this.context, async (progress) => {
      const { body } = await this.client.call<ServerSummary[]>(
        "GET",
        `clusters${this.query(options.region)}`,
      );
      progress.stop();
      const result: ListResult = {
        region: typeof options.region === "string" ? options.region : "all regions",
        clusters: body.map((c) => ({
          stack_name: c.stack_name,
          stack_id: c.stack_id ?? "",
          stack_status: c.status,
          created_at: c.created_at,
          cluster_size: c.cluster_size,
          channel: c.channel,
          arch: c.arch,
          image_id: null,
          // The server's reconciler's last look at the cluster's image (also an event, once).
          image_warning: c.image_warning ?? null,
        })),
      };
      const region = typeof options.region === "string" ? options.region : undefined;
      rememberClusters(body, region, this.context.env);
      return showList(this.context, result);
    });
  }

  async wait(options: Record<string, unknown>): Promise<number> {
    const name = String(options.stack_name);
    const started = Date.now();
    return withProgress(this.context, async (progress) => {
      const { body } = await this.client.call<ServerCluster>(
        "GET",
        `clusters/${encodeURIComponent(name)}${this.query(options.region)}`,
      );
      // An online cluster may have a scale or an upgrade running: wait follows it to its end.
      if (body.status === "online") {
        const day2 = await import("./upgrade.js");
        for (const kind of ["upgrade", "scale"] as const) {
          const latest = await this.client
            .call<Day2JobView>(
              "GET",
              `clusters/${encodeURIComponent(name)}/${kind}${this.query(body.region)}`,
            )
            .catch((error: unknown) => {
              if (error instanceof ApiError && error.status === 404) return undefined;
              throw error;
            });
          if (latest?.body.state !== "running") continue;
          const job = await day2.followJob(this.client, this.context, progress, {
            name,
            region: body.region,
            kind,
            id: latest.body.id,
            started,
            server: this.server,
          });
          progress.stop();
          if (kind === "upgrade") return day2.showUpgradeJob(this.context, job, started);
          if (job.state !== "succeeded")
            throw new OperationError(job.message ?? `scaling ${name} failed`, job.reasons);
          const { body: after } = await this.client.call<ServerCluster>(
            "GET",
            `clusters/${encodeURIComponent(name)}${this.query(body.region)}`,
          );
          return this.showCreate(after, started);
        }
      }
      const deleting =
        body.status === "deleting" ||
        body.status === "deleted" ||
        (body.status === "failed" && body.result?.status === "success");
      const cluster =
        body.status === "creating" || body.status === "deleting"
          ? await this.follow(
              name,
              body.region,
              progress,
              deleting ? "deleted" : "created",
              deleting ? undefined : body.created_at,
            )
          : body;
      progress.stop();
      return deleting ? this.showDeletion(cluster, started) : this.showCreate(cluster, started);
    });
  }

  /**
   * Prints the cluster's events as they come and returns the cluster once its job has ended.
   * Ctrl-C stops following (not the server's job) and says how to pick it up again.
   */
  private async follow(
    name: string,
    region: string,
    progress: Progress,
    doing: "created" | "deleted",
    since?: string,
  ): Promise<ServerCluster> {
    let started = since === undefined ? undefined : Date.parse(since);
    try {
      return await follow(this.client, name, region, {
        // A deletion shows its own events only, not the create's history that the cluster also
        // has; the server's closing line is left out: the result printed next says it.
        shown: (event) => (doing === "deleted") === (event.step === "destroy") && event.final !== true,
        onEvent: (event) => {
          started ??= Date.parse(event.time);
          const { seq: _seq, final: _final, ...progressEvent } = event;
          progress.onEvent({
            ...progressEvent,
            elapsed: Math.max(0, (Date.parse(event.time) - started) / 1000),
          });
        },
        pollMs: envInt(this.context.env, "PANDACLUSTER_REMOTE_POLL_MS") ?? 1000,
        signal: this.context.signal,
      });
    } catch (error) {
      throw this.interrupt(error, { name, region, doing });
    }
  }

  private interrupt(
    error: unknown,
    ref: { name: string; region: string; doing: "created" | "deleted" } | undefined,
  ): unknown {
    if (!(error instanceof Aborted) && !this.context.signal.aborted) return error;
    if (!ref)
      return new InterruptedError(
        "Interrupted. The server may have received the request: see pandacluster list --server.",
      );
    const lines = [
      `Interrupted. The cluster ${ref.name} is still being ${ref.doing} by the server at ${this.server}; stopping here does not stop it.`,
      `  to follow it and finish:  ${this.hint("wait", ref.name, ref.region)}`,
    ];
    if (ref.doing === "created")
      lines.push(`  to remove it:            ${this.hint("destroy", ref.name, ref.region)}`);
    return new InterruptedError(lines.join("\n"));
  }
}

function destroyResult(
  name: string,
  region: string,
  status: DestroyResult["status"],
  message: string,
  alreadyGone = false,
  reasons: string[] = [],
): DestroyResult {
  return {
    status,
    message,
    stack_name: name,
    stack_id: null,
    region,
    already_gone: alreadyGone,
    removed: [],
    reasons,
    timings: {},
  };
}

/**
 * A units file read by the CLI names its unit files relative to itself; the server cannot read
 * them, so their text goes inline (content_text), placeholders and all.
 */
export function inlineUnits(input: UnitsInput): unknown {
  const base = unitsFolder(input);
  if (!Array.isArray(input.units) || !base) return input.units;
  const inline = (entry: unknown): unknown => {
    if (typeof entry !== "object" || entry === null || Array.isArray(entry)) return entry;
    const copy: Record<string, unknown> = { ...(entry as Record<string, unknown>) };
    if (typeof copy.content === "string" && copy.content_text === undefined) {
      const path = resolve(base, copy.content);
      try {
        copy.content_text = readFileSync(path, "utf8");
      } catch (error) {
        throw new UsageError([
          { argument: input.source, message: `cannot read ${path}: ${(error as Error).message}` },
        ]);
      }
      delete copy.content;
    }
    if (Array.isArray(copy.drop_ins)) copy.drop_ins = copy.drop_ins.map(inline);
    return copy;
  };
  return input.units.map(inline);
}
