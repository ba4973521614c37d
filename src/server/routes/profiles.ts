import { randomBytes } from "node:crypto";
import type { FastifyInstance } from "fastify";
import { roleArnPattern } from "../../aws/role_credentials.js";
import { commandSpec } from "../../definitions.js";
import { checkValue } from "../../options.js";
import type { SecretBox } from "../crypto.js";
import { hashToken, newToken } from "../crypto.js";
import { HttpError } from "../http.js";
import { maxClustersLimit } from "../schemas.js";
import type { NewProfile, ProfileRecord } from "../store/types.js";
import type { ServerParts } from "./types.js";

const namePattern = /^[a-z0-9][-a-z0-9_.]{0,62}$/;
const emailPattern = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const keyPattern =
  /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com) [A-Za-z0-9+/]+={0,3}( .*)?$/;

/**
 * How a profile reaches AWS: "role" (STS AssumeRole of its role_arn with its external_id),
 * "static-keys" (a long-lived access key stored sealed: what a security review flags), or
 * "server" (no credentials of its own: the server's).
 */
export function accessKind(profile: ProfileRecord): "role" | "static-keys" | "server" {
  if (profile.role_arn) return "role";
  return profile.aws_id !== null ? "static-keys" : "server";
}

/**
 * A profile as routes show it: never the token's digest, never an AWS secret or key id. The
 * external id is shown (to the admin, who puts it in the role's trust policy): it is no secret,
 * only a guard against a confused deputy.
 */
function publicProfile(profile: ProfileRecord): Record<string, unknown> {
  return {
    name: profile.name,
    email: profile.email,
    aws: profile.aws_id !== null,
    access: accessKind(profile),
    role_arn: profile.role_arn,
    external_id: profile.external_id,
    max_clusters: profile.max_clusters,
    created_at: profile.created_at,
  };
}

/** A new external id: 192 random bits, in sts:ExternalId's alphabet ([\w+=,.@:/-], 2–1224 chars). */
export function newExternalId(): string {
  return `pc-${randomBytes(24).toString("base64url")}`;
}

/** The problem with a role ARN the admin gave, if any. */
function checkRoleArn(value: unknown): string | undefined {
  if (typeof value !== "string" || !roleArnPattern.test(value))
    return "role_arn: must be an IAM role ARN (arn:aws:iam::123456789012:role/name)";
  return undefined;
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/** Checks POST /profiles; every problem is one message naming its field (never echoing a secret). */
function checkProfileBody(body: unknown, box: SecretBox): { profile: NewProfile; token: string } {
  if (!isObject(body))
    throw new HttpError(400, "invalid request", ["the request body must be a JSON object"]);
  const messages: string[] = [];
  for (const key of Object.keys(body)) {
    if (!["name", "email", "aws", "role_arn", "public_keys", "max_clusters"].includes(key))
      messages.push(`${key}: unknown option`);
  }
  const { name, email, aws, role_arn, public_keys, max_clusters } = body;
  const roleProblem = role_arn === undefined ? undefined : checkRoleArn(role_arn);
  if (roleProblem) messages.push(roleProblem);
  const quotaProblem = max_clusters === undefined ? undefined : checkQuota(max_clusters);
  if (quotaProblem) messages.push(quotaProblem);
  if (name === undefined) messages.push("name: is required");
  else if (typeof name !== "string" || !namePattern.test(name)) {
    messages.push(
      "name: must be 1 to 63 lower-case letters, digits, '-', '_' or '.', starting with a letter or digit",
    );
  }
  if (email === undefined) messages.push("email: is required");
  else if (typeof email !== "string" || !emailPattern.test(email) || email.length > 254) {
    messages.push("email: is not an email address");
  }
  let awsId: string | null = null;
  let awsSecret: string | null = null;
  let awsRegion: string | null = null;
  if (aws !== undefined) {
    if (!isObject(aws)) messages.push("aws: must be an object {id, secret, region}");
    else {
      for (const key of Object.keys(aws)) {
        if (!["id", "secret", "region"].includes(key)) messages.push(`aws.${key}: unknown option`);
      }
      if (role_arn !== undefined && (aws.id !== undefined || aws.secret !== undefined)) {
        messages.push(
          "aws: with role_arn, only aws.region may be given (the role's credentials are used, not keys)",
        );
      } else if (role_arn !== undefined) {
        // region only
      } else if (typeof aws.id !== "string" || !/^[A-Z0-9]{16,128}$/.test(aws.id)) {
        messages.push("aws.id: must be an AWS access key id (16 to 128 capital letters and digits)");
      } else awsId = aws.id;
      if (role_arn !== undefined) {
        // no secret with a role
      } else if (typeof aws.secret !== "string" || aws.secret.length < 16 || aws.secret.length > 128) {
        messages.push("aws.secret: must be an AWS secret access key (16 to 128 characters)");
      } else awsSecret = aws.secret;
      if (aws.region !== undefined) {
        const regionSpec = commandSpec("create").arguments.find((a) => a.name === "region");
        const checked = regionSpec ? checkValue(regionSpec, aws.region, "http") : { value: aws.region };
        if ("problem" in checked) messages.push(`aws.region: ${checked.problem}`);
        else awsRegion = checked.value as string;
      }
    }
  }
  let keys: string[] | null = null;
  if (public_keys !== undefined) {
    if (!Array.isArray(public_keys)) messages.push("public_keys: must be a list of SSH public keys");
    else {
      keys = [];
      public_keys.forEach((key: unknown, index) => {
        const line = typeof key === "string" ? key.trim() : "";
        if (!keyPattern.test(line)) {
          messages.push(
            `public_keys[${index}]: is not an SSH public key (ssh-ed25519, ssh-rsa, ecdsa-sha2-*, sk-*)`,
          );
        } else keys?.push(line);
      });
    }
  }
  if (messages.length > 0) throw new HttpError(400, "invalid request", messages);
  const token = newToken("profile");
  const profileName = name as string;
  return {
    token,
    profile: {
      name: profileName,
      email: email as string,
      token_hash: hashToken(token),
      aws_id: awsId,
      aws_secret_sealed: awsSecret ? box.seal(awsSecret, profileName) : null,
      aws_region: awsRegion,
      public_keys: keys,
      ...(typeof role_arn === "string" ? { role_arn, external_id: newExternalId() } : {}),
      ...(typeof max_clusters === "number" ? { max_clusters } : {}),
    },
  };
}

/** The problem with a quota the admin gave, if any. */
function checkQuota(value: unknown): string | undefined {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > maxClustersLimit) {
    return `max_clusters: must be an integer from 0 to ${maxClustersLimit} (got ${JSON.stringify(value)})`;
  }
  return undefined;
}

export function profileRoutes(app: FastifyInstance, parts: ServerParts, box: SecretBox): void {
  const { store } = parts;

  app.post("/profiles", { config: { access: "admin" } }, async (request, reply) => {
    const { profile, token } = checkProfileBody(request.body, box);
    const created = await store.createProfile(profile);
    if (created === "exists")
      throw new HttpError(409, "conflict", [`name: a profile named ${profile.name} exists`]);
    request.log.info({ profile: created.name, access: accessKind(created) }, "profile created");
    return reply
      .code(201)
      .header("Location", `/profiles/${encodeURIComponent(created.name)}`)
      .send({ ...publicProfile(created), token });
  });

  app.get("/profiles", { config: { access: "admin" } }, async (_request, reply) => {
    return reply.send((await store.listProfiles()).map(publicProfile));
  });

  app.patch<{ Params: { name: string } }>(
    "/profiles/:name",
    { config: { access: "admin" } },
    async (request, reply) => {
      const body = request.body;
      if (!isObject(body))
        throw new HttpError(400, "invalid request", ["the request body must be a JSON object"]);
      const messages = Object.keys(body)
        .filter((key) => key !== "max_clusters" && key !== "role_arn")
        .map((key) => `${key}: cannot be changed (only max_clusters and role_arn can)`);
      if (body.max_clusters === undefined && body.role_arn === undefined)
        messages.push("max_clusters or role_arn: is required");
      if (body.max_clusters !== undefined) {
        const problem = checkQuota(body.max_clusters);
        if (problem) messages.push(problem);
      }
      if (body.role_arn !== undefined) {
        const problem = checkRoleArn(body.role_arn);
        if (problem) messages.push(problem);
      }
      if (messages.length > 0) throw new HttpError(400, "invalid request", messages);
      const name = request.params.name;
      let profile: ProfileRecord | undefined;
      if (typeof body.role_arn === "string") {
        // Moving to a role drops the stored keys; the external id, once made, stays the profile's.
        profile = await store.setProfileAccess(name, {
          role_arn: body.role_arn,
          external_id: newExternalId(),
        });
        if (profile) request.log.info({ profile: name, role_arn: profile.role_arn }, "profile role set");
      }
      if (body.max_clusters !== undefined) {
        profile = await store.setProfileQuota(name, body.max_clusters as number);
        if (profile)
          request.log.info(
            { profile: profile.name, max_clusters: profile.max_clusters },
            "profile quota set",
          );
      }
      if (!profile) throw new HttpError(404, "not found", [`no profile named ${name}`]);
      return reply.send(publicProfile(profile));
    },
  );

  app.delete<{ Params: { name: string } }>(
    "/profiles/:name",
    { config: { access: "admin" } },
    async (request, reply) => {
      const outcome = await store.deleteProfile(request.params.name);
      if (outcome === "missing")
        throw new HttpError(404, "not found", [`no profile named ${request.params.name}`]);
      if (outcome === "has_clusters") {
        throw new HttpError(409, "conflict", [
          `profile ${request.params.name} still has clusters; delete them first`,
        ]);
      }
      return reply.code(204).send();
    },
  );
}
