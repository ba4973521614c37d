import { createHash, randomUUID } from "node:crypto";
import type { FastifyInstance } from "fastify";
import { ownerId } from "../../aws/dns.js";
import { AccountLookupError } from "../../aws/identity.js";
import type { Config } from "../../config.js";
import { UsageError } from "../../errors.js";
import { DeadlineReached, within } from "../../lifecycle/pace.js";
import { checkCreateTemplate } from "../../lifecycle/template.js";
import type { CreateOptions } from "../../options.js";
import { callerProfile } from "../auth.js";
import { HttpError, normaliseService } from "../http.js";
import { clusterSummarySchema, validateBody, validateQueryValue } from "../schemas.js";
import type { ClusterRecord, ClusterView } from "../store/types.js";
import type { ServerParts } from "./types.js";

interface NameParams {
  stack_name: string;
}
interface RegionQuery {
  region?: string;
}

const idempotencyKeyPattern = /^[\x21-\x7e]{1,255}$/;

/** JSON text of a value with its object keys sorted: the same request hashes the same. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

const location = (name: string) => `/clusters/${encodeURIComponent(name)}`;

/** The stored cluster as JSON text, without parsing its stored result (the hot read path). */
function viewJson(view: ClusterView): string {
  return (
    `{"stack_name":${JSON.stringify(view.stack_name)},"region":${JSON.stringify(view.region)},` +
    `"status":"${view.status}","cluster_size":${view.cluster_size},"result":${view.result_json ?? "null"},` +
    `"reasons":${view.reasons_json},"image_warning":${view.image_warning_json ?? "null"},` +
    `"created_at":"${view.created_at}","updated_at":"${view.updated_at}"}`
  );
}

function notFound(name: string): HttpError {
  return new HttpError(404, "not found", [`no cluster named ${name}`]);
}

/**
 * STS could not say which AWS account the caller's credentials belong to, so the one-name-per-
 * account rule cannot be checked: the request is refused (see Accounts.accountOf for why not a
 * fallback). 503 with Retry-After when it may work soon (throttled, unreachable, 5xx), else 502.
 */
function accountUnknown(error: AccountLookupError): HttpError {
  return new HttpError(
    error.transient ? 503 : 502,
    "AWS account unknown",
    [
      error.message,
      "nothing was created: the server must know the AWS account to keep cluster names unique in it",
    ],
    error.transient ? { "retry-after": "10" } : {},
  );
}

function flag(raw: unknown, name: string): boolean {
  if (raw === undefined || raw === "false" || raw === "0") return false;
  if (raw === "" || raw === "true" || raw === "1") return true;
  throw new HttpError(400, "invalid request", [
    `${name}: must be true or false (got ${JSON.stringify(raw)})`,
  ]);
}

/**
 * Up front: <stack_name>.<public_domain> must be free, or the caller's own cluster of that name and
 * region (a replayed or conflicting create, which the store answers). Another cluster's name is a 400
 * that names the owner only when it is one of the caller's clusters (profiles may share an account).
 * AWS not answering is left to the job, whose launch checks again.
 */
async function publicNameFree(
  parts: ServerParts,
  profileId: number,
  credentials: Config | undefined,
  target: { stack_name: string; region: string; public_domain: string },
): Promise<void> {
  const mine = (await parts.store.listClusters(profileId, undefined, true)).filter((c) => c.stack_id);
  const owner_lookup = async (owner: { owner: string; region: string }) => {
    const found = mine.find(
      (c) => c.region === owner.region && ownerId(c.stack_id as string) === owner.owner,
    );
    return found ? { stack_name: found.stack_name, region: found.region } : undefined;
  };
  try {
    await parts.engine.checkPublicName?.(credentials, target, { owner_lookup });
  } catch (error) {
    if (!(error instanceof UsageError)) return;
    const again = mine.some(
      (c) => c.stack_name === target.stack_name && c.region === target.region && c.status !== "deleted",
    );
    if (again) return;
    throw new HttpError(
      400,
      "invalid request",
      error.problems.map((p) => `${p.argument}: ${p.message}`),
    );
  }
}

export function clusterRoutes(app: FastifyInstance, parts: ServerParts): void {
  const { store, engine, accounts, runner } = parts;

  app.post("/clusters", { config: { access: "profile" } }, async (request, reply) => {
    const profile = callerProfile(request);
    const options: CreateOptions = validateBody("create", request.body);
    if (
      options.discovery_service &&
      !parts.discoveryServices.has(normaliseService(options.discovery_service))
    ) {
      throw new HttpError(400, "invalid request", [
        `discovery_service: ${options.discovery_service} is not a discovery service this server calls (it calls ${[...parts.discoveryServices].join(", ")}); its admin can allow more with PANDACLUSTER_DISCOVERY_SERVICES, or give a ready discovery_url`,
      ]);
    }
    const credentials = accounts.credentialsFor(profile);
    // The template is built now, offline (units, placeholders, boot format, user-data limit): bad
    // input is a 400, not a job failing later while it holds the name.
    await checkCreateTemplate(options, credentials);

    if (options.dry_run) {
      const result = await engine.create(credentials, options, {});
      return reply.code(200).send({ dry_run: true, result });
    }

    const rawKey = request.headers["idempotency-key"];
    if (rawKey !== undefined && (typeof rawKey !== "string" || !idempotencyKeyPattern.test(rawKey))) {
      throw new HttpError(400, "invalid request", [
        "Idempotency-Key: must be 1 to 255 visible ASCII characters",
      ]);
    }
    const idempotency =
      typeof rawKey === "string"
        ? { key: rawKey, request_hash: createHash("sha256").update(canonical(request.body)).digest("hex") }
        : undefined;

    let region: string;
    try {
      region = await engine.resolveRegion(credentials, options.region ? { region: options.region } : {});
    } catch (error) {
      if (error instanceof UsageError) {
        throw new HttpError(
          400,
          "invalid request",
          error.problems.map((p) => `region: ${p.message}`),
        );
      }
      throw new HttpError(400, "invalid request", [`region: ${(error as Error).message}`]);
    }

    let account: string;
    try {
      account = await accounts.accountOf(profile, region);
    } catch (error) {
      if (!(error instanceof AccountLookupError)) throw error;
      request.log.warn(
        { profile: profile.name, transient: error.transient, error: error.message },
        "create refused: the AWS account of the profile's credentials is unknown",
      );
      throw accountUnknown(error);
    }

    if (options.public_domain && engine.checkPublicName) {
      await publicNameFree(parts, profile.id, credentials, {
        stack_name: options.stack_name,
        region,
        public_domain: options.public_domain,
      });
    }

    const answer = (cluster: ClusterRecord) => ({
      status_code: 202,
      body: JSON.stringify({
        stack_name: cluster.stack_name,
        region: cluster.region,
        status: cluster.status,
      }),
      location: location(cluster.stack_name),
    });
    const outcome = await store.createCluster(
      {
        profile_id: profile.id,
        stack_name: options.stack_name,
        region,
        account,
        cluster_size: options.cluster_size,
        options: { ...options, region },
        create_token: `pandacluster-create-${randomUUID()}`,
      },
      idempotency,
      answer,
      {
        time: new Date().toISOString(),
        step: "launch",
        message: `create requested (${options.cluster_size} nodes in ${region})`,
      },
      runner.lease(),
    );
    switch (outcome.kind) {
      case "created": {
        runner.start(outcome.job);
        const first = answer(outcome.cluster);
        return reply.code(202).header("Location", first.location).type("application/json").send(first.body);
      }
      case "replay":
        if (outcome.answer.location) reply.header("Location", outcome.answer.location);
        return reply
          .code(outcome.answer.status_code)
          .header("Idempotent-Replayed", "true")
          .type("application/json")
          .send(outcome.answer.body);
      case "conflict":
        // Another profile's cluster: that the name is taken, nothing of its state.
        throw new HttpError(409, "conflict", [
          outcome.existing.profile_id === profile.id
            ? `stack_name: a cluster named ${options.stack_name} is already ${outcome.existing.status} in ${region} for this AWS account`
            : `stack_name: the name ${options.stack_name} is taken in ${region} for this AWS account; choose another`,
        ]);
      case "key_reused":
        throw new HttpError(422, "idempotency key reused", [
          "Idempotency-Key: this key was already used with a different request; use a new key",
        ]);
      case "quota":
        throw new HttpError(403, "quota exceeded", [
          `max_clusters: this profile may have at most ${outcome.limit} live clusters (quota max_clusters) and has ${outcome.live}; delete one, or ask the server's admin to raise the quota`,
        ]);
    }
  });

  app.get<{ Querystring: RegionQuery & { include_deleted?: string } }>(
    "/clusters",
    // A response schema: Fastify serialises the list with a compiled serialiser.
    {
      config: { access: "profile" },
      schema: { response: { 200: { type: "array", items: clusterSummarySchema } } },
    },
    async (request, reply) => {
      const profile = callerProfile(request);
      const region = validateQueryValue("list", "region", request.query.region);
      const all = flag(request.query.include_deleted, "include_deleted");
      return reply.send(await store.listClusters(profile.id, region, all));
    },
  );

  app.get<{ Params: NameParams; Querystring: RegionQuery & { live?: string } }>(
    "/clusters/:stack_name",
    { config: { access: "profile" } },
    async (request, reply) => {
      const profile = callerProfile(request);
      const { stack_name } = request.params;
      const region =
        request.query.region === undefined
          ? undefined
          : validateQueryValue("status", "region", request.query.region);
      const view = await store.clusterViewByName(profile.id, stack_name, region);
      if (!view) throw notFound(stack_name);
      if (!flag(request.query.live, "live")) {
        return reply.type("application/json; charset=utf-8").send(viewJson(view));
      }
      const cluster = JSON.parse(viewJson(view)) as object;
      // Only the stack this cluster's own create made, by its StackId: never one merely of its name.
      const record = await store.clusterByName(profile.id, stack_name, view.region);
      if (!record?.stack_id) {
        return reply.send({ ...cluster, live: null, live_error: "this cluster has no stack in AWS" });
      }
      // AWS that does not answer would hold the request for the SDK's own minutes of retries
      // (6 calls × 60 s were seen): past the bound the stored state is the answer.
      const waitMs = parts.liveTimeoutMs ?? 10_000;
      try {
        const live = await within(
          engine.status(accounts.credentialsFor(profile), {
            stack_name: record.stack_id,
            region: view.region,
          }),
          Date.now() + waitMs,
        );
        return reply.send({ ...cluster, live });
      } catch (error) {
        const why =
          error instanceof DeadlineReached
            ? `AWS did not answer within ${Math.ceil(waitMs / 1000)} s; this is the stored state`
            : (error as Error).message;
        return reply.send({ ...cluster, live: null, live_error: why });
      }
    },
  );

  app.delete<{ Params: NameParams; Querystring: RegionQuery }>(
    "/clusters/:stack_name",
    { config: { access: "profile" } },
    async (request, reply) => {
      const profile = callerProfile(request);
      const { stack_name } = request.params;
      const region = validateQueryValue("destroy", "region", request.query.region);
      const cluster = await store.clusterByName(profile.id, stack_name, region);
      if (!cluster) throw notFound(stack_name);
      const outcome = await store.startDestroy(
        cluster.id,
        { time: new Date().toISOString(), step: "destroy", message: "delete requested" },
        runner.lease(),
      );
      const body = (status: string) => ({ stack_name, region: cluster.region, status });
      switch (outcome.kind) {
        case "started":
          runner.start(outcome.job);
          return reply.code(202).header("Location", location(stack_name)).send(body("deleting"));
        case "unchanged":
          return outcome.cluster.status === "deleted"
            ? reply.code(200).send(body("deleted"))
            : reply.code(202).header("Location", location(stack_name)).send(body("deleting"));
        case "busy":
          throw new HttpError(409, "conflict", [
            outcome.cluster.status === "creating"
              ? `stack_name: ${stack_name} is still being created; delete it once it is online or failed`
              : `stack_name: a newer cluster named ${stack_name} is active in ${cluster.region}; delete that one`,
          ]);
        case "scaling": {
          // CloudFormation takes one operation at a time, and the day-2 job's end would land on a
          // cluster being deleted: the delete waits for the scale or upgrade (GET …/scale, …/upgrade).
          const running = await store.latestScale(cluster.id).catch(() => undefined);
          if (running?.kind === "upgrade")
            throw new HttpError(409, "conflict", [
              `stack_name: ${stack_name} is being upgraded; delete it once the upgrade has ended (GET ${location(stack_name)}/upgrade)`,
            ]);
          throw new HttpError(409, "conflict", [
            `stack_name: ${stack_name} is being scaled; delete it once the scale has ended (GET ${location(stack_name)}/scale)`,
          ]);
        }
      }
    },
  );
}
