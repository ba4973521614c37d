import { createHash } from "node:crypto";
import type { Config } from "../../src/config.js";
import type { ClusterResult } from "../../src/lifecycle/types.js";
import type { Engine, StackState } from "../../src/server/engine.js";

/**
 * A stand-in for the library, for tests of the server's own machinery (jobs, the poller, restarts,
 * auth, validation) that must count calls or control timing. It models stacks as CloudFormation
 * lists them: launch() adds a stack in CREATE_IN_PROGRESS that completes after `completeAfterPolls`
 * batched status calls; destroy() moves it to DELETE_IN_PROGRESS and then off the list.
 * The end-to-end tests use the real library against moto instead.
 */
export class FakeEngine implements Engine {
  readonly stacks = new Map<string, StackState & { region: string; polls: number; options: unknown }>();
  readonly calls: Record<string, number> = {};
  /** The stack name of every launch() call, in order (a refused or failed one too). */
  readonly launched: string[] = [];
  completeAfterPolls = 1;
  /** Makes launch() fail with this message. */
  failLaunch: string | undefined;
  /** Makes the stack fail (ROLLBACK_COMPLETE) instead of completing. */
  failStack: string | undefined;
  /** Delay of launch(), ms. */
  launchDelayMs = 0;
  /**
   * Makes the next N calls of a method fail as AWS not answering would (an SDK-like error with
   * code ECONNRESET, "socket hang up"): e.g. {finish: 2, destroy: 2}.
   */
  readonly unreachable: Record<string, number> = {};
  /** The account of the server's own credentials (STS, asked without keys). */
  serverAccount = "123456789012";
  /** Accounts by access key id; a key not listed gets an account of its own, derived from it. */
  readonly keyAccounts = new Map<string, string>();
  /** Makes accountId() throw this. */
  failAccount: Error | undefined;
  /** Delay of accountId(), ms. */
  accountDelayMs = 0;
  #next = 1;

  #count(name: string): void {
    this.calls[name] = (this.calls[name] ?? 0) + 1;
    if ((this.unreachable[name] ?? 0) > 0) {
      this.unreachable[name] = (this.unreachable[name] ?? 0) - 1;
      throw Object.assign(new Error("socket hang up"), { code: "ECONNRESET" });
    }
  }

  async create(
    _credentials: unknown,
    options: { stack_name: string; region?: string },
  ): Promise<ClusterResult> {
    this.#count("create");
    const result = await this.finish(undefined, {
      stack_name: options.stack_name,
      region: options.region ?? "us-east-1",
    });
    return { ...result, status: "success", message: "dry run: nothing created", reasons: [] };
  }

  async launch(
    _credentials: unknown,
    options: { stack_name: string; region?: string; client_token?: string },
  ) {
    this.launched.push(options.stack_name);
    this.#count("launch");
    if (this.launchDelayMs) await new Promise((r) => setTimeout(r, this.launchDelayMs));
    if (this.failLaunch) throw new Error(this.failLaunch);
    for (const stack of this.stacks.values()) {
      if (stack.stack_name === options.stack_name && stack.region === options.region) {
        throw new Error(`a stack named ${options.stack_name} already exists`);
      }
    }
    const region = options.region ?? "us-east-1";
    const stack_id = `arn:aws:cloudformation:${region}:123456789012:stack/${options.stack_name}/${this.#next++}`;
    this.stacks.set(stack_id, {
      stack_id,
      stack_name: options.stack_name,
      status: "CREATE_IN_PROGRESS",
      region,
      polls: 0,
      options,
      ...(options.client_token ? { create_token: options.client_token } : {}),
    });
    return { stack_id, stack_name: options.stack_name, region };
  }

  async finish(
    _credentials: unknown,
    ref: { stack_name: string; region?: string; stack_id?: string },
  ): Promise<ClusterResult> {
    this.#count("finish");
    const stack = ref.stack_id ? this.stacks.get(ref.stack_id) : undefined;
    const ok = stack?.status === "CREATE_COMPLETE";
    return {
      status: ok ? "success" : "failure",
      message: ok ? "cluster is ready" : `stack ${stack?.status ?? "gone"}`,
      cluster: {
        stack_name: ref.stack_name,
        stack_id: ref.stack_id ?? null,
        region: ref.region ?? "us-east-1",
        workers: 0,
        channel: "stable",
        arch: "amd64",
        instance_type: "t3.small",
        cluster_size: 3,
        image_id: "ami-0123456789abcdef0",
        discovery_url: "http://127.0.0.1/abc",
        nodes: [],
        dns: null,
      },
      details: { launch: null, formation: null, nodes: null, customize: null },
      reasons: ok ? [] : [stack?.reason ?? "the stack is gone"],
      timings: {},
    };
  }

  async destroy(_credentials: unknown, options: { stack_name: string; region?: string; stack_id?: string }) {
    this.#count("destroy");
    for (const stack of this.stacks.values()) {
      const match = options.stack_id
        ? stack.stack_id === options.stack_id
        : stack.stack_name === options.stack_name && stack.region === options.region;
      if (match) {
        stack.status = "DELETE_IN_PROGRESS";
        stack.polls = 0;
        return { status: "success" as const, message: "deleting" };
      }
    }
    throw new Error(`no cluster named ${options.stack_name}`);
  }

  async status() {
    this.#count("status");
    return { status: "success" };
  }

  async list() {
    this.#count("list");
    return { clusters: [] };
  }

  async wait() {
    this.#count("wait");
    return { status: "success" };
  }

  async stackStatuses(_credentials: unknown, region: string): Promise<Map<string, StackState>> {
    this.#count("stackStatuses");
    const out = new Map<string, StackState>();
    for (const [id, stack] of this.stacks) {
      if (stack.region !== region) continue;
      stack.polls += 1;
      if (stack.status === "CREATE_IN_PROGRESS" && stack.polls >= this.completeAfterPolls) {
        stack.status = this.failStack ? "ROLLBACK_COMPLETE" : "CREATE_COMPLETE";
        if (this.failStack) stack.reason = this.failStack;
      }
      if (stack.status === "DELETE_IN_PROGRESS" && stack.polls >= this.completeAfterPolls) {
        this.stacks.delete(id);
        continue;
      }
      out.set(id, {
        stack_id: id,
        stack_name: stack.stack_name,
        status: stack.status,
        ...(stack.reason ? { reason: stack.reason } : {}),
        ...(stack.create_token ? { create_token: stack.create_token } : {}),
      });
    }
    return out;
  }

  async resolveRegion(credentials: Config | undefined, options: { region?: string }): Promise<string> {
    this.#count("resolveRegion");
    return options.region ?? credentials?.aws?.region ?? "us-east-1";
  }

  async accountId(credentials: Config | undefined): Promise<string> {
    this.#count("accountId");
    if (this.accountDelayMs) await new Promise((r) => setTimeout(r, this.accountDelayMs));
    if (this.failAccount) throw this.failAccount;
    const key = credentials?.aws?.secret ? credentials.aws.id : undefined;
    if (!key) return this.serverAccount;
    const derived = String(Number.parseInt(createHash("sha256").update(key).digest("hex").slice(0, 10), 16));
    return this.keyAccounts.get(key) ?? derived.padStart(12, "0").slice(-12);
  }

  async build_template(): ReturnType<Engine["build_template"]> {
    this.#count("build_template");
    const template = {
      AWSTemplateFormatVersion: "2010-09-09",
      Description: "fake",
      Parameters: {},
      Resources: {},
      Outputs: {},
    };
    return { template, bytes: 40, image_map: {}, body: "{}", notices: [] } as unknown as Awaited<
      ReturnType<Engine["build_template"]>
    >;
  }
}
