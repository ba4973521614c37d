import type { FastifyInstance } from "fastify";
import { StackGoneError, StackReplacedError } from "../../lifecycle/identity.js";
import { callerProfile } from "../auth.js";
import { HttpError } from "../http.js";
import type { ScaleJobs } from "../jobs/scale.js";
import { validateQueryValue } from "../schemas.js";
import type { ServerParts } from "./types.js";

/**
 * POST /clusters/{name}/sync: `pandacluster sync --server`. Brings the cluster's DNS names in line
 * with the instances its own stack's groups (by its stored StackId) have in service, with the
 * profile's credentials, now rather than at the reconciler's next cycle; answers sync's result
 * (200, its status success or failure). Only the caller's own online clusters; not during a scale.
 */
export function syncRoutes(app: FastifyInstance, parts: ServerParts, scales: ScaleJobs): void {
  const { store, accounts, engine } = parts;
  app.post<{ Params: { stack_name: string }; Querystring: { region?: string } }>(
    "/clusters/:stack_name/sync",
    { config: { access: "profile" } },
    async (request, reply) => {
      const profile = callerProfile(request);
      const { stack_name } = request.params;
      const region = validateQueryValue("sync", "region", request.query.region);
      const cluster = await store.clusterByName(profile.id, stack_name, region);
      if (!cluster) throw new HttpError(404, "not found", [`no cluster named ${stack_name}`]);
      const conflict = (message: string) => new HttpError(409, "conflict", [`stack_name: ${message}`]);
      if (cluster.status !== "online")
        throw conflict(`${stack_name} is ${cluster.status}; only an online cluster's names are synced`);
      if (!cluster.stack_id) throw conflict(`${stack_name} has no stack in AWS`);
      // A scale or upgrade running here or on another replica names the nodes itself when it ends.
      const day2 = scales.isRunning(cluster.id) ? "running" : (await store.latestScale(cluster.id))?.state;
      if (day2 === "running") {
        const kind = (await store.latestScale(cluster.id))?.kind ?? "scale";
        throw conflict(
          kind === "upgrade"
            ? `${stack_name} is being upgraded; its upgrade names the nodes`
            : `${stack_name} is being scaled; its scale names the nodes`,
        );
      }
      if (!engine.sync) throw new HttpError(501, "not implemented", ["this server cannot sync"]);
      try {
        const result = await engine.sync(accounts.credentialsFor(profile), {
          stack_name,
          region: cluster.region,
          stack_id: cluster.stack_id,
        });
        for (const change of result.changes) {
          await store.addEvent(cluster.id, {
            time: new Date().toISOString(),
            step: "customize",
            kind: "step",
            message: `sync: ${change}`,
          });
        }
        return reply.send(result);
      } catch (error) {
        if (error instanceof StackReplacedError || error instanceof StackGoneError) {
          await store.updateCluster(cluster.id, { reasons: [error.message] });
          throw conflict(error.message);
        }
        throw error;
      }
    },
  );
}
