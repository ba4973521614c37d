import type { FastifyInstance } from "fastify";
import type { BuildTemplateOptions } from "../../options.js";
import { validateBody } from "../schemas.js";
import type { ServerParts } from "./types.js";

export function templateRoutes(app: FastifyInstance, parts: ServerParts): void {
  const { engine, accounts } = parts;

  app.post("/templates", { config: { access: "any" } }, async (request, reply) => {
    const options: BuildTemplateOptions = validateBody("build_template", request.body ?? {});
    // Over HTTP the template is returned, never written on the server.
    options.write_path = false;
    const principal = request.principal;
    const credentials =
      principal?.kind === "profile" ? accounts.credentialsFor(principal.profile) : accounts.baseCredentials();
    const notices: string[] = [];
    const built = await engine.build_template(options, credentials, { notice: (line) => notices.push(line) });
    return reply.send({
      template: built.template,
      bytes: built.bytes,
      image_map: built.image_map,
      user_data: built.user_data,
      notices: built.notices ?? notices,
    });
  });
}
