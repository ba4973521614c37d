import { type ArgumentSpec, type CommandName, commandSpec } from "../definitions.js";
import { UsageError } from "../errors.js";
import { checkValue, type OptionsOf, validateOptions } from "../options.js";
import { TEMPLATE_BODY_LIMIT } from "../template/build.js";
import {
  DROP_IN_NAME,
  FILE_KEYS,
  INLINE_DROP_IN_KEYS,
  INLINE_UNIT_KEYS,
  UNIT_COMMANDS,
  UNIT_NAME,
} from "../template/units.js";
import { HttpError } from "./http.js";
import { defaultMaxClusters } from "./store/types.js";

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
    case "object": {
      // Over HTTP an object argument comes inline, in a closed shape that can name no file; one
      // without such a shape is not accepted over HTTP at all.
      const inline = inlineSchemas[arg.name]?.();
      if (inline) Object.assign(schema, inline);
      else schema.not = {};
      description += " (given inline as JSON: the file's entries, each text as content_text)";
      break;
    }
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

/**
 * Units over HTTP: a list of unit entries, closed at every level (additionalProperties false), with
 * the text of each unit and drop-in as content_text. `content` (a file, read relative to a units
 * file) has no place in it, nor has anything else a future key could make name a file: keys not
 * listed here are refused. Derived from the units file format (template/units.ts).
 */
export function inlineUnitsSchema(): JsonSchema {
  const text: JsonSchema = { type: "string", maxLength: TEMPLATE_BODY_LIMIT };
  const dropIn: JsonSchema = {
    type: "object",
    additionalProperties: false,
    required: ["name", "content_text"],
    properties: pick(INLINE_DROP_IN_KEYS, {
      name: { type: "string", pattern: DROP_IN_NAME.source },
      content_text: text,
    }),
  };
  const unitBoolean: JsonSchema = { type: ["boolean", "string"], maxLength: 5 };
  const unit: JsonSchema = {
    type: "object",
    additionalProperties: false,
    required: ["name"],
    properties: pick(INLINE_UNIT_KEYS, {
      name: { type: "string", pattern: UNIT_NAME.source },
      command: { type: "string", enum: [...UNIT_COMMANDS] },
      // A string is one of the seed's words ("yes", "off", …), checked by the units loader in
      // the same request (template/units.ts): one list of words, kept there.
      enable: unitBoolean,
      runtime: unitBoolean,
      mask: unitBoolean,
      content_text: text,
      drop_ins: { type: "array", maxItems: 64, items: dropIn },
    }),
  };
  return { type: "array", maxItems: 256, items: unit };
}

/** The schemas of the given keys; a key without one is a programming error, caught at start. */
function pick(keys: string[], schemas: Record<string, JsonSchema>): Record<string, JsonSchema> {
  const picked: Record<string, JsonSchema> = {};
  for (const key of keys) {
    const schema = schemas[key];
    if (!schema) throw new Error(`no HTTP schema for the units key ${key}`);
    picked[key] = schema;
  }
  return picked;
}

/** The closed inline shapes of the object arguments that HTTP accepts, by argument name. */
const inlineSchemas: Record<string, () => JsonSchema> = { units: inlineUnitsSchema };

/**
 * Checks a value against one of the schemas above (the subset they use: type, properties,
 * additionalProperties false, required, items, enum, pattern, maxLength, maxItems). Only own keys
 * are looked at, so `__proto__` or `constructor` are keys like any other: unknown, refused. The
 * walk goes as deep as the schema, never as deep as the value.
 */
export function checkShape(schema: JsonSchema, value: unknown, at: string): string[] {
  const types = ([] as unknown[]).concat(schema.type ?? []);
  if (schema.not !== undefined) return [`${at}: is not accepted over HTTP`];
  const kind = Array.isArray(value)
    ? "array"
    : value === null
      ? "null"
      : Number.isInteger(value)
        ? "integer"
        : typeof value;
  if (types.length > 0 && !types.includes(kind)) {
    return [
      `${at}: must be ${types.map((t) => (t === "array" ? "a list" : `a ${t}`)).join(" or ")} (got ${kindWord(kind)})`,
    ];
  }
  const problems: string[] = [];
  if (kind === "string") {
    const text = value as string;
    if (typeof schema.maxLength === "number" && text.length > schema.maxLength)
      problems.push(`${at}: is ${text.length} characters long; at most ${schema.maxLength} are allowed`);
    if (typeof schema.pattern === "string" && !new RegExp(schema.pattern).test(text))
      problems.push(`${at}: ${JSON.stringify(text.slice(0, 80))} does not match ${schema.pattern}`);
    if (Array.isArray(schema.enum) && !schema.enum.includes(text))
      problems.push(`${at}: must be one of ${schema.enum.join(", ")}`);
  }
  if (kind === "array") {
    const list = value as unknown[];
    if (typeof schema.maxItems === "number" && list.length > schema.maxItems) {
      return [`${at}: has ${list.length} entries; at most ${schema.maxItems} are allowed`];
    }
    const items = schema.items as JsonSchema | undefined;
    if (items) {
      for (const [index, item] of list.entries())
        problems.push(...checkShape(items, item, `${at}[${index}]`));
    }
  }
  if (kind === "object") {
    const record = value as Record<string, unknown>;
    const properties = (schema.properties ?? {}) as Record<string, JsonSchema>;
    for (const key of Object.keys(record)) {
      const property = Object.hasOwn(properties, key) ? properties[key] : undefined;
      if (property) problems.push(...checkShape(property, record[key], `${at}.${key}`));
      else if (FILE_KEYS.includes(key)) problems.push(`${at}.${key}: ${fileRefused}`);
      else if (schema.additionalProperties === false) {
        problems.push(
          `${at}: unknown key ${JSON.stringify(key.slice(0, 40))}; use ${Object.keys(properties).join(", ")}`,
        );
      }
    }
    for (const key of (schema.required ?? []) as string[]) {
      if (!Object.hasOwn(record, key) && !(key === "content_text" && Object.hasOwn(record, "content")))
        problems.push(`${at}: needs ${key}`);
    }
  }
  return problems;
}

function kindWord(kind: string): string {
  return kind === "array" ? "a list" : kind === "object" ? "an object" : kind;
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
export function validateBody<C extends CommandName>(
  command: C,
  body: unknown,
  /** Options the route takes from its path (the stack name of PATCH /clusters/{name}). */
  fromPath: Record<string, unknown> = {},
): OptionsOf[C] {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new HttpError(400, "invalid request", ["the request body must be a JSON object"]);
  }
  const input = { ...(body as Record<string, unknown>), ...fromPath };
  const messages: string[] = [];
  // Object arguments first, against their closed inline shape (inlineSchemas): nothing in them
  // reaches the library unless every key at every depth is one the shape lists.
  const misshapen = new Set<string>();
  for (const arg of httpArguments(command)) {
    // A string (a file path) is refused by validateOptions below, in the CLI's words.
    if (arg.type !== "object" || typeof input[arg.name] !== "object" || input[arg.name] === null) continue;
    const problems = checkShape(argumentSchema(arg), input[arg.name], arg.name);
    if (problems.length > 0) misshapen.add(arg.name);
    messages.push(...problems);
  }
  try {
    const options = validateOptions(command, input, "http");
    if (messages.length === 0) return options;
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    for (const p of error.problems) {
      // An argument whose shape was refused above is not described twice.
      if (!misshapen.has(p.argument)) messages.push(p.argument ? `${p.argument}: ${p.message}` : p.message);
    }
  }
  throw new HttpError(400, "invalid request", messages);
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
    image_warning: {
      type: ["string", "null"],
      description:
        "the cluster's image is outdated, deprecated or gone (the reconciler's last look): what, when, and the command to run",
    },
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
    image_warning: {
      type: ["object", "null"],
      description:
        "the reconciler's image warning: {warning, command, image_id, deprecated_at}; null when the image is current",
    },
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

function maxClustersSchema(): JsonSchema {
  return {
    type: "integer",
    minimum: 0,
    maximum: maxClustersLimit,
    default: defaultMaxClusters,
    description: "quota: the most live (not deleted) clusters the profile may have",
  };
}

/** The highest quota the admin may give a profile. */
export const maxClustersLimit = 10_000;

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
      description:
        "AWS access keys for this profile's clusters (static keys: stored encrypted, never returned); with role_arn only region",
      properties: { id: { type: "string" }, secret: { type: "string" }, region: { type: "string" } },
    },
    role_arn: {
      type: "string",
      description:
        "an IAM role the server assumes (STS AssumeRole with the profile's external_id) for every AWS call of the profile; see doc/iam",
    },
    public_keys: {
      type: "array",
      items: { type: "string" },
      description: "SSH public keys put on every node",
    },
    max_clusters: maxClustersSchema(),
  },
};

const profileSchema: JsonSchema = {
  type: "object",
  properties: {
    name: { type: "string" },
    email: { type: "string" },
    token: { type: "string", description: "only in the answer to POST /profiles" },
    aws: { type: ["boolean"], description: "whether the profile has its own static AWS keys" },
    access: {
      enum: ["role", "static-keys", "server"],
      description:
        "how the profile reaches AWS: an assumed role, stored static keys, or the server's credentials",
    },
    role_arn: { type: ["string", "null"] },
    external_id: {
      type: ["string", "null"],
      description: "the sts:ExternalId to require in the role's trust policy (generated, stable)",
    },
    max_clusters: maxClustersSchema(),
    created_at: { type: "string", format: "date-time" },
  },
};

const auditRecordSchema: JsonSchema = {
  type: "object",
  properties: {
    id: { type: "integer" },
    at: { type: "string", format: "date-time" },
    actor: { type: "string", description: "admin, profile:<name>, or anonymous (no valid token)" },
    source: { type: "string", description: "the client's address" },
    method: { type: "string" },
    route: { type: "string", description: "the route's pattern, e.g. /clusters/:stack_name" },
    target: { type: ["string", "null"], description: "cluster:<name> or profile:<name>" },
    status: { type: "integer", description: "the answer's status code" },
    request_id: { type: "string" },
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
    403: "the route needs the other kind of token, or (POST /clusters) the profile's quota of live clusters is reached",
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
        // The cluster is the path's (and ?region='s): never named in the body.
        UpgradeRequest: requestSchema("upgrade", ["stack_name", "region"]),
        ClusterSummary: clusterSummarySchema,
        Cluster: clusterSchema,
        Event: eventSchema,
        ProfileRequest: profileRequestSchema,
        Profile: profileSchema,
        AuditRecord: auditRecordSchema,
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
        patch: {
          summary: "change a profile's quota of live clusters or its IAM role (admin)",
          security: secured,
          parameters: [{ name: "name", in: "path", required: true, schema: { type: "string" } }],
          requestBody: {
            required: true,
            content: {
              "application/json": {
                schema: {
                  type: "object",
                  additionalProperties: false,
                  minProperties: 1,
                  properties: {
                    max_clusters: maxClustersSchema(),
                    role_arn: {
                      type: "string",
                      description: "use this role from now on (the profile's static keys are dropped)",
                    },
                  },
                },
              },
            },
          },
          responses: { 200: json("Profile", "the profile"), ...errors(400, 401, 403, 404) },
        },
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
            ...errors(400, 401, 403, 409, 422),
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
        patch: {
          summary:
            "scale: change the number of workers (asynchronous; GET /clusters/{stack_name}/scale follows it)",
          security: secured,
          parameters: [nameParameter, regionParameter()],
          requestBody: {
            required: true,
            content: {
              "application/json": {
                schema: { type: "object", properties: { workers: { type: "integer", minimum: 0 } } },
              },
            },
          },
          responses: { 202: json({ type: "object" }, "scaling"), ...errors(400, 401, 403, 404, 409) },
        },
      },
      "/clusters/{stack_name}/sync": {
        post: {
          summary:
            "sync: name the cluster's InService instances in its private zone now (each change is also an event of the cluster)",
          security: secured,
          parameters: [nameParameter, regionParameter()],
          responses: {
            200: json({ type: "object" }, "the sync's result: its changes"),
            ...errors(401, 403, 404, 409),
          },
        },
      },
      "/clusters/{stack_name}/upgrade": {
        post: {
          summary: `upgrade: ${commandSpec("upgrade").summary} (asynchronous; GET /clusters/{stack_name}/upgrade follows it, its progress is in the cluster's events; dry_run answers the plan at once)`,
          security: secured,
          parameters: [nameParameter, regionParameter()],
          requestBody: {
            required: false,
            content: { "application/json": { schema: { $ref: "#/components/schemas/UpgradeRequest" } } },
          },
          responses: {
            202: json({ type: "object" }, "upgrading: the job"),
            200: json(
              { type: "object" },
              "dry_run: the plan (instances, old → new image, order); nothing changed",
            ),
            ...errors(400, 401, 403, 404, 409),
          },
        },
        get: {
          summary: "the cluster's latest upgrade job",
          security: secured,
          parameters: [nameParameter, regionParameter()],
          responses: { 200: json({ type: "object" }, "the upgrade job"), ...errors(401, 404) },
        },
      },
      "/clusters/{stack_name}/scale": {
        get: {
          summary: "the cluster's latest scale job since the server started",
          security: secured,
          parameters: [nameParameter, regionParameter()],
          responses: { 200: json({ type: "object" }, "the scale job"), ...errors(401, 404) },
        },
      },
      "/audit": {
        get: {
          summary:
            "the audit log (admin): every request that changed or tried to change something, newest first",
          security: secured,
          parameters: [
            {
              name: "profile",
              in: "query",
              required: false,
              schema: { type: "string" },
              description: "acted as or on this profile",
            },
            {
              name: "cluster",
              in: "query",
              required: false,
              schema: { type: "string" },
              description: "acted on this cluster",
            },
            { name: "since", in: "query", required: false, schema: { type: "string", format: "date-time" } },
            { name: "until", in: "query", required: false, schema: { type: "string", format: "date-time" } },
            {
              name: "limit",
              in: "query",
              required: false,
              schema: { type: "integer", minimum: 1, maximum: 1000, default: 100 },
            },
            {
              name: "before",
              in: "query",
              required: false,
              schema: { type: "integer", minimum: 1 },
              description: "the previous page's `next`: records older than it",
            },
          ],
          responses: {
            200: json(
              {
                type: "object",
                properties: {
                  records: { type: "array", items: { $ref: "#/components/schemas/AuditRecord" } },
                  next: { type: ["integer", "null"], description: "pass as before= for the next page" },
                },
              },
              "one page of records",
            ),
            ...errors(400, 401, 403),
          },
        },
      },
      "/metrics": {
        get: {
          summary: "Prometheus metrics, text exposition format (admin; or serve --metrics-port on loopback)",
          security: secured,
          responses: {
            200: { description: "metrics", content: { "text/plain": { schema: { type: "string" } } } },
            ...errors(401, 403),
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
