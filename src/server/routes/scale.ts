import type { FastifyInstance } from "fastify";
import { controllersFixed } from "../../lifecycle/scale.js";
import { callerProfile } from "../auth.js";
import { HttpError } from "../http.js";
import type { ScaleJobs } from "../jobs/scale.js";
import { validateBody, validateQueryValue } from "../schemas.js";
import type { ServerParts } from "./types.js";

interface NameParams {
  stack_name: string;
}
interface RegionQuery {
  region?: string;
}

/**
 * The cluster a PATCH changes is named by its path (and ?region=), never by its body: a body's
 * stack_name or region would otherwise be silently ignored (or taken for a move), so it is refused.
 */
export function refuseNamingFields(body: unknown): void {
  if (typeof body !== "object" || body === null || Array.isArray(body)) return;
  const problems: string[] = [];
  if ("stack_name" in body)
    problems.push("stack_name: not allowed in the body; the cluster is the one named in the path");
  if ("region" in body)
    problems.push(
      "region: not allowed in the body; name the cluster's region with ?region= (a region cannot be changed)",
    );
  if (problems.length > 0) throw new HttpError(400, "invalid request", problems);
}

const notFound = (name: string) => new HttpError(404, "not found", [`no cluster named ${name}`]);

/**
 * PATCH /clusters/{name} {"workers": N}: 202 and a scale job (GET /clusters/{name}/scale shows it;
 * its progress is in the cluster's events). Only the caller's own clusters (another profile's is a
 * 404), only online ones (409 otherwise), one scale at a time (409).
 */
export function scaleRoutes(app: FastifyInstance, parts: ServerParts, jobs: ScaleJobs): void {
  const { store, accounts, engine } = parts;

  app.patch<{ Params: NameParams; Querystring: RegionQuery }>(
    "/clusters/:stack_name",
    { config: { access: "profile" } },
    async (request, reply) => {
      const profile = callerProfile(request);
      const { stack_name } = request.params;
      const region = validateQueryValue("scale", "region", request.query.region);
      const body = request.body;
      if (typeof body === "object" && body !== null && "cluster_size" in body) {
        const problem = controllersFixed(stack_name).problems[0];
        throw new HttpError(400, "invalid request", [`cluster_size: ${problem?.message ?? ""}`]);
      }
      refuseNamingFields(body);
      const options = validateBody("scale", body ?? {}, { stack_name });
      const cluster = await store.clusterByName(profile.id, stack_name, region);
      if (!cluster) throw notFound(stack_name);
      if (cluster.status !== "online") {
        throw new HttpError(409, "conflict", [
          `stack_name: ${stack_name} is ${cluster.status}; only an online cluster can be scaled`,
        ]);
      }
      // Only the stack this cluster's own create made (its StackId), never one merely of its name.
      if (!cluster.stack_id) {
        throw new HttpError(409, "conflict", [`stack_name: ${stack_name} has no stack in AWS to scale`]);
      }
      const credentials = accounts.credentialsFor(profile);
      // An AWS error here is left to the job, which acts by the same StackId and refuses the same way.
      const identity = await engine
        .identify?.(credentials, {
          stack_name,
          region: cluster.region,
          stack_id: cluster.stack_id,
        })
        .catch(() => undefined);
      if (identity && identity.state !== "ours") {
        await store.updateCluster(cluster.id, { reasons: [identity.message] });
        throw new HttpError(409, "conflict", [`stack_name: ${identity.message}`]);
      }
      const started = await jobs.start(cluster, credentials, options.workers);
      if (started.kind === "not_online") {
        throw new HttpError(409, "conflict", [
          `stack_name: ${stack_name} is ${started.status}; only an online cluster can be scaled`,
        ]);
      }
      if (started.kind === "unsupported")
        throw new HttpError(501, "not implemented", ["this server cannot scale clusters"]);
      if (started.kind === "busy") {
        throw new HttpError(409, "conflict", [
          started.job.kind === "upgrade"
            ? `stack_name: ${stack_name} is being upgraded; scale it once the upgrade has ended`
            : `stack_name: ${stack_name} is being scaled already`,
        ]);
      }
      const job = started.job;
      return reply
        .code(202)
        .header("Location", `/clusters/${encodeURIComponent(stack_name)}/scale`)
        .send({ stack_name, region: cluster.region, status: "scaling", job });
    },
  );

  app.get<{ Params: NameParams; Querystring: RegionQuery }>(
    "/clusters/:stack_name/scale",
    { config: { access: "profile" } },
    async (request, reply) => {
      const profile = callerProfile(request);
      const { stack_name } = request.params;
      const region = validateQueryValue("scale", "region", request.query.region);
      const cluster = await store.clusterByName(profile.id, stack_name, region);
      if (!cluster) throw notFound(stack_name);
      const job = await jobs.latest(cluster.id);
      if (!job) throw new HttpError(404, "not found", [`no scale of ${stack_name}`]);
      return reply.send(job);
    },
  );
}
