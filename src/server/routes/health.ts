import type { FastifyInstance } from "fastify";
import { openApiDocument } from "../schemas.js";
import type { ServerParts } from "./types.js";

export function healthRoutes(app: FastifyInstance, parts: ServerParts): void {
  let document: string | undefined;

  app.get("/", { config: { access: "public" } }, async (_request, reply) => {
    document ??= JSON.stringify(openApiDocument(parts.version));
    return reply.type("application/json; charset=utf-8").send(document);
  });

  app.get("/healthz", { config: { access: "public" } }, async (request, reply) => {
    try {
      await parts.store.health();
    } catch (error) {
      request.log.error({ error: (error as Error).message }, "store check failed");
      return reply.code(503).send({ error: "unavailable", messages: ["the store does not answer"] });
    }
    return reply.send({ status: "ok", version: parts.version, jobs: parts.runner.active() });
  });
}
