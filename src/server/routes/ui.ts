import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { extname } from "node:path";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { packagePath } from "../../paths.js";

/**
 * The dashboard at /ui: static ES modules, one stylesheet and one HTML page from src/server/ui/
 * (shipped in the package as they are: no bundler, no dependency). Every file is read and
 * compressed (brotli and gzip) once, at start, so the first load costs what the compressed bytes
 * cost. The page gets its data from the API itself with the token the user typed, which it keeps
 * in sessionStorage; nothing here knows about tokens.
 *
 * The Content-Security-Policy allows only this server's own scripts, styles and connections, no
 * inline script or style, and (Trusted Types) no HTML-from-string sinks: the page renders every
 * API or AWS string with textContent, and the browser refuses innerHTML if a change ever tried.
 */

export const uiContentSecurityPolicy = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "require-trusted-types-for 'script'",
  "trusted-types 'none'",
].join("; ");

const types: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
};

interface Asset {
  type: string;
  etag: string;
  raw: Buffer;
  br: Buffer;
  gzip: Buffer;
}

/** The assets by file name, compressed once. */
function loadAssets(dir: string): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  for (const name of readdirSync(dir)) {
    const type = types[extname(name)];
    if (!type) continue;
    const raw = readFileSync(`${dir}/${name}`);
    assets.set(name, {
      type,
      etag: `"${createHash("sha256").update(raw).digest("base64url").slice(0, 16)}"`,
      raw,
      br: brotliCompressSync(raw, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }),
      gzip: gzipSync(raw, { level: 9 }),
    });
  }
  return assets;
}

/** A browser's page request (not fetch's or curl's default Accept: asterisk/asterisk). */
export function wantsHtml(request: FastifyRequest): boolean {
  return (request.headers.accept ?? "").includes("text/html");
}

function send(request: FastifyRequest, reply: FastifyReply, asset: Asset): FastifyReply {
  reply
    .header("Content-Type", asset.type)
    .header("Content-Security-Policy", uiContentSecurityPolicy)
    .header("X-Content-Type-Options", "nosniff")
    .header("Referrer-Policy", "no-referrer")
    .header("Cache-Control", "no-cache")
    .header("ETag", asset.etag)
    .header("Vary", "Accept-Encoding");
  if (request.headers["if-none-match"] === asset.etag) return reply.code(304).send();
  const accepted = String(request.headers["accept-encoding"] ?? "");
  if (/\bbr\b/.test(accepted)) return reply.header("Content-Encoding", "br").send(asset.br);
  if (/\bgzip\b/.test(accepted)) return reply.header("Content-Encoding", "gzip").send(asset.gzip);
  return reply.send(asset.raw);
}

export function uiRoutes(app: FastifyInstance, dir = packagePath("src", "server", "ui")): void {
  const assets = loadAssets(dir);
  const page = assets.get("index.html");
  if (!page) throw new Error(`the dashboard's index.html is missing from ${dir}`);
  const config = { access: "public" as const };

  app.get("/ui", { config }, async (request, reply) => send(request, reply, page));
  app.get<{ Params: { file: string } }>("/ui/:file", { config }, async (request, reply) => {
    if (request.params.file === "") return reply.redirect("/ui", 301);
    const asset = assets.get(request.params.file);
    if (!asset || request.params.file === "index.html") {
      return reply.code(404).send({ error: "not found", messages: [`no file ${request.params.file}`] });
    }
    return send(request, reply, asset);
  });
}
