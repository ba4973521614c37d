import type { FastifyInstance, FastifyRequest } from "fastify";
import { hashToken, sameDigest } from "./crypto.js";
import { HttpError } from "./http.js";
import type { ProfileRecord, Store } from "./store/types.js";

/**
 * Bearer tokens. The admin token creates profiles; a profile's token acts on that profile's
 * clusters only. Only SHA-256 digests of tokens are kept (the admin's in memory or in the store's
 * settings, the profiles' in their rows), and digests are compared in constant time.
 *
 * Rules: no token or an unknown one → 401; an admin-only route with a profile's token, or a
 * profile's route with the admin token → 403; another profile's cluster → 404 (routes look clusters
 * up by owner, so it is not found rather than forbidden, and its existence is not revealed).
 */

/** Who a route is for: anyone, the admin, a profile, or either token. */
export type Access = "public" | "admin" | "profile" | "any";

export type Principal = { kind: "admin" } | { kind: "profile"; profile: ProfileRecord };

declare module "fastify" {
  interface FastifyRequest {
    principal: Principal | undefined;
  }
  interface FastifyContextConfig {
    access?: Access;
  }
}

const challenge = { "WWW-Authenticate": 'Bearer realm="pandacluster"' };

export function registerAuth(app: FastifyInstance, store: Store, adminTokenHash: string): void {
  app.decorateRequest("principal", undefined);
  app.addHook("onRequest", async (request) => {
    // Unknown routes answer 404 whoever asks; the route list is public (GET /).
    if (request.is404) return;
    const access = request.routeOptions.config.access ?? "any";
    if (access === "public") return;
    request.principal = await authenticate(request, store, adminTokenHash);
    if (access === "admin" && request.principal.kind !== "admin") {
      throw new HttpError(403, "forbidden", ["this route needs the admin token"]);
    }
    if (access === "profile" && request.principal.kind !== "profile") {
      throw new HttpError(403, "forbidden", ["this route acts for a profile: use a profile's token"]);
    }
  });
}

async function authenticate(
  request: FastifyRequest,
  store: Store,
  adminTokenHash: string,
): Promise<Principal> {
  const header = request.headers.authorization;
  if (!header)
    throw new HttpError(401, "unauthorized", ["Authorization: Bearer <token> is required"], challenge);
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!match?.[1])
    throw new HttpError(401, "unauthorized", ["Authorization must be Bearer <token>"], challenge);
  const digest = hashToken(match[1]);
  if (sameDigest(digest, adminTokenHash)) return { kind: "admin" };
  // The lookup is by digest, so its timing says nothing about the token; the comparison is still
  // done in constant time.
  const profile = await store.profileByTokenHash(digest);
  if (profile && sameDigest(digest, profile.token_hash)) return { kind: "profile", profile };
  throw new HttpError(401, "unauthorized", ["the token is not valid"], challenge);
}

/** The profile of a request on a profile route (the hook has made sure there is one). */
export function callerProfile(request: FastifyRequest): ProfileRecord {
  const principal = request.principal;
  if (principal?.kind !== "profile") throw new HttpError(403, "forbidden", ["this route acts for a profile"]);
  return principal.profile;
}
