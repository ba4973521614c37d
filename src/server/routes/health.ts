import type { FastifyInstance } from "fastify";
import { openApiDocument } from "../schemas.js";
import type { ServerParts } from "./types.js";
import { wantsHtml } from "./ui.js";

export function healthRoutes(app: FastifyInstance, parts: ServerParts): void {
  let document: string | undefined;

  app.get("/", { config: { access: "public" } }, async (request, reply) => {
    // A browser is sent to the dashboard; API clients get the OpenAPI document.
    if (wantsHtml(request)) return reply.header("Vary", "Accept").redirect("/ui", 303);
    document ??= JSON.stringify(openApiDocument(parts.version));
    return reply.header("Vary", "Accept").type("application/json; charset=utf-8").send(document);
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
