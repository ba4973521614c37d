import type { FastifyInstance } from "fastify";
import { OperationError } from "../../errors.js";
import { StackGoneError, StackReplacedError } from "../../lifecycle/identity.js";
import { callerProfile } from "../auth.js";
import { HttpError } from "../http.js";
import type { ScaleJobs } from "../jobs/scale.js";
import { httpArguments, validateBody, validateQueryValue } from "../schemas.js";
import { refuseNamingFields } from "./scale.js";
import type { ServerParts } from "./types.js";

interface NameParams {
  stack_name: string;
}
interface RegionQuery {
  region?: string;
}

const notFound = (name: string) => new HttpError(404, "not found", [`no cluster named ${name}`]);
const conflict = (message: string) => new HttpError(409, "conflict", [`stack_name: ${message}`]);
/** 409 while a day-2 job of the cluster runs (on any replica). */
const busy = (name: string, kind: string) =>
  conflict(
    kind === "upgrade"
      ? `${name} is being upgraded already (GET /clusters/${encodeURIComponent(name)}/upgrade)`
      : `${name} is being scaled; upgrade it once the scale has ended`,
  );

/**
 * What an upgrade job keeps of its request: every argument the definitions give the upgrade over
 * HTTP (so one added there, such as an etcd version, flows through untouched) but those the
 * cluster itself fixes (its name and region) and the dry run, which never becomes a job.
 */
function jobParams(options: Record<string, unknown>): Record<string, unknown> {
  const params: Record<string, unknown> = {};
  for (const arg of httpArguments("upgrade")) {
    if (["stack_name", "region", "dry_run"].includes(arg.name)) continue;
    // Unset (an argument whose default is null, such as etcd_version) is left out.
    if (options[arg.name] !== undefined && options[arg.name] !== null) params[arg.name] = options[arg.name];
  }
  return params;
}

/**
 * POST /clusters/{name}/upgrade: `pandacluster upgrade --server`. 202 and an upgrade job (GET
 * /clusters/{name}/upgrade shows it; its progress is in the cluster's events), run as the scale job
 * is: stored, leased and fenced, one day-2 job per cluster fleet-wide (409 while a scale or an
 * upgrade runs), resumed by another server when its own stops. A dry run answers 200 with the
 * plan and starts nothing. Only the caller's own online clusters (another profile's is a 404), and
 * only the stack the cluster's own create made (its StackId): a stack of that name made outside is
 * never touched.
 */
export function upgradeRoutes(app: FastifyInstance, parts: ServerParts, jobs: ScaleJobs): void {
  const { store, accounts, engine } = parts;

  app.post<{ Params: NameParams; Querystring: RegionQuery }>(
    "/clusters/:stack_name/upgrade",
    { config: { access: "profile" } },
    async (request, reply) => {
      const profile = callerProfile(request);
      const { stack_name } = request.params;
      const region = validateQueryValue("upgrade", "region", request.query.region);
      refuseNamingFields(request.body);
      const options = validateBody("upgrade", request.body ?? {}, { stack_name }) as unknown as Record<
        string,
        unknown
      >;
      const cluster = await store.clusterByName(profile.id, stack_name, region);
      if (!cluster) throw notFound(stack_name);
      if (cluster.status !== "online")
        throw conflict(`${stack_name} is ${cluster.status}; only an online cluster can be upgraded`);
      if (!cluster.stack_id) throw conflict(`${stack_name} has no stack in AWS to upgrade`);
      if (!engine.upgrade)
        throw new HttpError(501, "not implemented", ["this server cannot upgrade clusters"]);
      const credentials = accounts.credentialsFor(profile);
      // An AWS error here is left to the job, which acts by the same StackId and refuses the same way.
      const identity = await engine
        .identify?.(credentials, { stack_name, region: cluster.region, stack_id: cluster.stack_id })
        .catch(() => undefined);
      if (identity && identity.state !== "ours") {
        await store.updateCluster(cluster.id, { reasons: [identity.message] });
        throw conflict(identity.message);
      }
      const params = jobParams(options);
      const running = await store.latestScale(cluster.id);
      if (running?.state === "running") throw busy(stack_name, running.kind);
      // The plan first, for a real upgrade too: what can only be judged against the stack (etcd's
      // upgrade rules from its EtcdVersion, the image against its root volume, the stack's own
      // identity) is a 400 or 409 now, not a job that fails after its 202.
      let plan: Awaited<ReturnType<NonNullable<typeof engine.upgrade>>>;
      try {
        plan = await engine.upgrade(credentials, {
          ...params,
          min_healthy: Number(params.min_healthy),
          stack_name,
          region: cluster.region,
          stack_id: cluster.stack_id,
          dry_run: true,
        });
      } catch (error) {
        if (error instanceof StackReplacedError || error instanceof StackGoneError) {
          await store.updateCluster(cluster.id, { reasons: [error.message] });
          throw conflict(error.message);
        }
        if (error instanceof OperationError)
          throw new HttpError(409, "conflict", [error.message, ...error.reasons]);
        throw error;
      }
      if (options.dry_run === true) return reply.code(200).send(plan);
      const started = await jobs.startUpgrade(cluster, credentials, params);
      if (started.kind === "not_online")
        throw conflict(`${stack_name} is ${started.status}; only an online cluster can be upgraded`);
      if (started.kind === "unsupported")
        throw new HttpError(501, "not implemented", ["this server cannot upgrade clusters"]);
      if (started.kind === "busy") throw busy(stack_name, started.job.kind);
      return reply
        .code(202)
        .header("Location", `/clusters/${encodeURIComponent(stack_name)}/upgrade`)
        .send({ stack_name, region: cluster.region, status: "upgrading", job: started.job });
    },
  );

  app.get<{ Params: NameParams; Querystring: RegionQuery }>(
    "/clusters/:stack_name/upgrade",
    { config: { access: "profile" } },
    async (request, reply) => {
      const profile = callerProfile(request);
      const { stack_name } = request.params;
      const region = validateQueryValue("upgrade", "region", request.query.region);
      const cluster = await store.clusterByName(profile.id, stack_name, region);
      if (!cluster) throw notFound(stack_name);
      const job = await jobs.latest(cluster.id, "upgrade");
      if (!job) throw new HttpError(404, "not found", [`no upgrade of ${stack_name}`]);
      return reply.send(job);
    },
  );
}
