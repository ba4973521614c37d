import { type ArgumentSpec, type CommandName, commandSpec } from "../definitions.js";
import { UsageError } from "../errors.js";
import { checkValue, type OptionsOf, validateOptions } from "../options.js";
import { HttpError } from "./http.js";

/**
 * The request schemas, generated from src/argument_definitions.cson: nothing here lists an
 * argument's fields. Requests are checked by the same validateOptions as the CLI (face "http"), so
 * the messages are the CLI's, naming fields by name; the JSON schemas describe the same rules for
 * clients, in the OpenAPI document served at GET /.
 */

export type JsonSchema = Record<string, unknown>;

/** The JSON schema of one argument. */
export function argumentSchema(arg: ArgumentSpec): JsonSchema {
  const schema: JsonSchema = {};
  let description = arg.description;
  switch (arg.type) {
    case "integer":
      schema.type = "integer";
      if (arg.min !== undefined) schema.minimum = arg.min;
      if (arg.max !== undefined) schema.maximum = arg.max;
      break;
    case "boolean":
      schema.type = "boolean";
      break;
    case "object":
      schema.type = ["object", "array"];
      description += " (given inline as JSON: the parsed content of the file)";
      break;
    default:
      schema.type = "string";
      schema.minLength = 1;
      if (arg.allowed_values) schema.enum = [...arg.allowed_values];
      if (arg.pattern) schema.pattern = arg.pattern;
      if (arg.max_length !== undefined) schema.maxLength = arg.max_length;
      if (arg.type === "url") schema.format = "uri";
      if (arg.type === "cidr") {
        schema.pattern = "^\\d{1,3}(\\.\\d{1,3}){3}/\\d{1,2}$";
        description += " (IPv4 CIDR)";
      }
  }
  if (arg.refused_values) {
    const refused = Object.entries(arg.refused_values).map(([value, why]) => `${value}: ${why}`);
    description += `; refused: ${refused.join("; ")}`;
  }
  if (arg.default_when) {
    const cases = arg.default_when.map(
      (d) =>
        `${JSON.stringify(d.value)} when ${Object.entries(d.when)
          .map(([k, v]) => `${k} is ${v}`)
          .join(" and ")}`,
    );
    description += ` (default ${cases.join(", ")})`;
  }
  if (arg.default !== undefined) schema.default = arg.default;
  schema.description = description;
  return schema;
}

/** The arguments of a command that an HTTP caller may give. */
export function httpArguments(command: CommandName): ArgumentSpec[] {
  return commandSpec(command).arguments.filter((arg) => !arg.cli_only && !arg.http_refused);
}

/** The JSON schema of a command's request body, from the definitions. */
export function requestSchema(command: CommandName, omit: string[] = []): JsonSchema {
  const args = httpArguments(command).filter((arg) => !omit.includes(arg.name));
  const properties: Record<string, JsonSchema> = {};
  for (const arg of args) properties[arg.name] = argumentSchema(arg);
  const required = args.filter((arg) => arg.required).map((arg) => arg.name);
  return {
    type: "object",
    description: commandSpec(command).summary,
    additionalProperties: false,
    properties,
    ...(required.length > 0 ? { required } : {}),
  };
}

/**
 * Checks a request body for a command: an object, no server-side-only field, and then the same
 * validateOptions as the CLI. Every problem is one message; all are reported at once (400).
 */
export function validateBody<C extends CommandName>(command: C, body: unknown): OptionsOf[C] {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new HttpError(400, "invalid request", ["the request body must be a JSON object"]);
  }
  const input = body as Record<string, unknown>;
  const messages: string[] = [];
  messages.push(...inlineOnly(input));
  try {
    const options = validateOptions(command, input, "http");
    if (messages.length === 0) return options;
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    messages.push(...error.problems.map((p) => (p.argument ? `${p.argument}: ${p.message}` : p.message)));
  }
  throw new HttpError(400, "invalid request", messages);
}

/**
 * Inline object arguments (units) may not name files either: a unit's or drop-in's `content` is a
 * path the template builder would read — on the server. Over HTTP only content_text is accepted.
 */
function inlineOnly(input: Record<string, unknown>): string[] {
  const messages: string[] = [];
  const units = input.units;
  if (!Array.isArray(units)) return messages;
  units.forEach((unit: unknown, index) => {
    if (typeof unit !== "object" || unit === null) return;
    const entry = unit as Record<string, unknown>;
    if (entry.content !== undefined) {
      messages.push(`units[${index}].content: ${fileRefused}`);
    }
    if (Array.isArray(entry.drop_ins)) {
      entry.drop_ins.forEach((dropIn: unknown, dropIndex) => {
        if (
          typeof dropIn === "object" &&
          dropIn !== null &&
          (dropIn as Record<string, unknown>).content !== undefined
        ) {
          messages.push(`units[${index}].drop_ins[${dropIndex}].content: ${fileRefused}`);
        }
      });
    }
  });
  return messages;
}

const fileRefused = "is not accepted over HTTP: it names a file on the server; give the text as content_text";

/** Checks one query-string value against an argument's definition (e.g. ?region=). */
export function validateQueryValue(command: CommandName, name: string, raw: unknown): string | undefined {
  if (raw === undefined) return undefined;
  const arg = commandSpec(command).arguments.find((a) => a.name === name);
  if (!arg) throw new Error(`${command} has no argument ${name}`);
  const checked = checkValue(arg, raw, "http");
  if ("problem" in checked) throw new HttpError(400, "invalid request", [`${name}: ${checked.problem}`]);
  return checked.value as string;
}

const errorSchema: JsonSchema = {
  type: "object",
  required: ["error"],
  properties: {
    error: { type: "string", description: "what went wrong, in a few words" },
    messages: { type: "array", items: { type: "string" }, description: "one message per field or reason" },
    problems: {
      type: "array",
      description: "the messages again, each with the request field it is about (null when none)",
      items: {
        type: "object",
        properties: { field: { type: ["string", "null"] }, message: { type: "string" } },
      },
    },
  },
};

const statusSchema: JsonSchema = {
  type: "string",
  enum: ["creating", "online", "failed", "deleting", "deleted"],
};

/** What every view of a cluster starts with. */
const clusterCore: Record<string, JsonSchema> = {
  stack_name: { type: "string" },
  region: { type: "string" },
  status: statusSchema,
  cluster_size: { type: "integer" },
};

export const clusterSummarySchema: JsonSchema = {
  type: "object",
  properties: {
    ...clusterCore,
    created_at: { type: "string", format: "date-time" },
    stack_id: { type: ["string", "null"] },
    channel: { type: ["string", "null"] },
    arch: { type: ["string", "null"] },
  },
};

const clusterSchema: JsonSchema = {
  type: "object",
  properties: {
    ...clusterCore,
    result: {
      description:
        "the library's result object once known: {status, message, cluster: {nodes, dns, …}, details, reasons, timings}",
      type: ["object", "null"],
    },
    reasons: { type: "array", items: { type: "string" } },
    created_at: { type: "string", format: "date-time" },
    updated_at: { type: "string", format: "date-time" },
  },
};

const eventSchema: JsonSchema = {
  type: "object",
  properties: {
    seq: { type: "integer" },
    time: { type: "string", format: "date-time" },
    step: { type: "string" },
    message: { type: "string" },
    resource: { type: "string" },
    resource_type: { type: "string" },
    status: { type: "string" },
    reason: { type: "string" },
  },
};

const profileRequestSchema: JsonSchema = {
  type: "object",
  additionalProperties: false,
  required: ["name", "email"],
  properties: {
    name: { type: "string", pattern: "^[a-z0-9][-a-z0-9_.]{0,62}$" },
    email: { type: "string", format: "email" },
    aws: {
      type: "object",
      additionalProperties: false,
      required: ["id", "secret"],
      description: "AWS credentials for this profile's clusters; stored encrypted, never returned",
      properties: { id: { type: "string" }, secret: { type: "string" }, region: { type: "string" } },
    },
    public_keys: {
      type: "array",
      items: { type: "string" },
      description: "SSH public keys put on every node",
    },
  },
};

const profileSchema: JsonSchema = {
  type: "object",
  properties: {
    name: { type: "string" },
    email: { type: "string" },
    token: { type: "string", description: "only in the answer to POST /profiles" },
    aws: { type: ["boolean"], description: "whether the profile has its own AWS credentials" },
    created_at: { type: "string", format: "date-time" },
  },
};

function json(schema: JsonSchema | string, description: string): JsonSchema {
  const ref = typeof schema === "string" ? { $ref: `#/components/schemas/${schema}` } : schema;
  return { description, content: { "application/json": { schema: ref } } };
}

const errors = (...codes: number[]): Record<string, JsonSchema> => {
  const words: Record<number, string> = {
    400: "invalid request: one message per field, worded as the CLI's",
    401: "no token or an unknown token",
    403: "the route needs the admin token",
    404: "no such cluster for this profile (or no such route)",
    409: "conflict",
    422: "the Idempotency-Key was used before with a different request",
  };
  return Object.fromEntries(codes.map((code) => [String(code), json("Error", words[code] ?? "error")]));
};

const nameParameter = { name: "stack_name", in: "path", required: true, schema: { type: "string" } };
const regionParameter = (): JsonSchema => ({
  name: "region",
  in: "query",
  required: false,
  description: "which region's cluster of that name (default: the newest)",
  schema: argumentSchema(httpArguments("status").find((a) => a.name === "region") as ArgumentSpec),
});

/** The OpenAPI 3.1 document of the API, built from the same generated schemas. */
export function openApiDocument(version: string): JsonSchema {
  const secured = [{ bearer: [] }];
  return {
    openapi: "3.1.0",
    info: {
      title: "pandacluster API",
      version,
      description:
        "Create, watch and destroy Flatcar clusters on AWS. Every route but GET / and GET /healthz needs Authorization: Bearer <token>.",
    },
    components: {
      securitySchemes: { bearer: { type: "http", scheme: "bearer" } },
      schemas: {
        Error: errorSchema,
        CreateClusterRequest: requestSchema("create"),
        BuildTemplateRequest: requestSchema("build_template"),
        ClusterSummary: clusterSummarySchema,
        Cluster: clusterSchema,
        Event: eventSchema,
        ProfileRequest: profileRequestSchema,
        Profile: profileSchema,
      },
    },
    paths: {
      "/": { get: { summary: "this document", responses: { 200: json({ type: "object" }, "OpenAPI 3.1") } } },
      "/healthz": {
        get: {
          summary: "liveness and store check",
          responses: { 200: json({ type: "object" }, "ok"), 503: json("Error", "the store does not answer") },
        },
      },
      "/profiles": {
        post: {
          summary: "create a profile and its token (admin)",
          security: secured,
          requestBody: {
            required: true,
            content: { "application/json": { schema: { $ref: "#/components/schemas/ProfileRequest" } } },
          },
          responses: {
            201: json("Profile", "the profile and its token, shown only now"),
            ...errors(400, 401, 403, 409),
          },
        },
        get: {
          summary: "list profiles (admin)",
          security: secured,
          responses: {
            200: json({ type: "array", items: { $ref: "#/components/schemas/Profile" } }, "profiles"),
            ...errors(401, 403),
          },
        },
      },
      "/profiles/{name}": {
        delete: {
          summary: "delete a profile that has no clusters left (admin)",
          security: secured,
          parameters: [{ name: "name", in: "path", required: true, schema: { type: "string" } }],
          responses: { 204: { description: "deleted" }, ...errors(401, 403, 404, 409) },
        },
      },
      "/templates": {
        post: {
          summary: commandSpec("build_template").summary,
          security: secured,
          requestBody: {
            required: false,
            content: {
              "application/json": { schema: { $ref: "#/components/schemas/BuildTemplateRequest" } },
            },
          },
          responses: {
            200: json(
              {
                type: "object",
                properties: {
                  template: { type: "object" },
                  bytes: { type: "integer" },
                  image_map: { type: "object" },
                },
              },
              "the CloudFormation template",
            ),
            ...errors(400, 401),
          },
        },
      },
      "/clusters": {
        post: {
          summary: `${commandSpec("create").summary} (asynchronous)`,
          security: secured,
          parameters: [
            {
              name: "Idempotency-Key",
              in: "header",
              required: false,
              schema: { type: "string", maxLength: 255 },
              description: "a repeated request with the same key gets the first answer again (kept 24 hours)",
            },
          ],
          requestBody: {
            required: true,
            content: {
              "application/json": { schema: { $ref: "#/components/schemas/CreateClusterRequest" } },
            },
          },
          responses: {
            202: {
              ...json(
                {
                  type: "object",
                  properties: {
                    stack_name: { type: "string" },
                    region: { type: "string" },
                    status: statusSchema,
                  },
                },
                "accepted: the cluster is being created",
              ),
              headers: { Location: { schema: { type: "string" }, description: "/clusters/{stack_name}" } },
            },
            200: json({ type: "object" }, "dry_run: the library's answer; nothing created"),
            ...errors(400, 401, 409, 422),
          },
        },
        get: {
          summary: "the caller's clusters",
          security: secured,
          parameters: [
            regionParameter(),
            {
              name: "include_deleted",
              in: "query",
              required: false,
              schema: { type: "boolean", default: false },
            },
          ],
          responses: {
            200: json(
              { type: "array", items: { $ref: "#/components/schemas/ClusterSummary" } },
              "clusters, newest first",
            ),
            ...errors(400, 401),
          },
        },
      },
      "/clusters/{stack_name}": {
        get: {
          summary: "one cluster: status, result, reasons",
          security: secured,
          parameters: [
            nameParameter,
            regionParameter(),
            {
              name: "live",
              in: "query",
              required: false,
              schema: { type: "boolean", default: false },
              description: "also ask AWS now (adds `live`, the library's status result)",
            },
          ],
          responses: { 200: json("Cluster", "the cluster"), ...errors(400, 401, 404) },
        },
        delete: {
          summary: `${commandSpec("destroy").summary} (asynchronous)`,
          security: secured,
          parameters: [nameParameter, regionParameter()],
          responses: {
            202: json(
              { type: "object", properties: { stack_name: { type: "string" }, status: statusSchema } },
              "deleting",
            ),
            200: json({ type: "object" }, "already deleted"),
            ...errors(401, 404, 409),
          },
        },
      },
      "/clusters/{stack_name}/events": {
        get: {
          summary:
            "progress events, oldest first; with Accept: text/event-stream, Server-Sent Events (id: = seq, event: progress) until the cluster is online, failed or deleted (event: end, the cluster), with a heartbeat comment",
          security: secured,
          parameters: [
            nameParameter,
            regionParameter(),
            {
              name: "after",
              in: "query",
              required: false,
              schema: { type: "integer", minimum: 0 },
              description: "only events with a larger seq",
            },
            {
              name: "Last-Event-ID",
              in: "header",
              required: false,
              schema: { type: "integer", minimum: 0 },
              description: "as after (a reconnecting event stream sends it); wins over after",
            },
          ],
          responses: {
            200: {
              description: "events",
              content: {
                "application/json": {
                  schema: { type: "array", items: { $ref: "#/components/schemas/Event" } },
                },
                "text/event-stream": { schema: { type: "string" } },
              },
            },
            ...errors(400, 401, 404, 429),
          },
        },
      },
    },
  };
}
