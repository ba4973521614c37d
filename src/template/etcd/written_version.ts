import { gunzipSync } from "node:zlib";

/**
 * The etcd version written into a controller's user data (a stack made before EtcdVersion existed):
 * the ETCD_IMAGE_TAG=v<version> line, looked for in the text, in it gunzipped, and in the base64
 * data: URLs it holds (Ignition's files and merged configs), a few levels down. Undefined when none.
 * Its own module: only upgrade needs it, and zlib is no part of the CLI's start-up.
 */
export function writtenEtcdVersion(bytes: Buffer, depth = 0): string | undefined {
  const plain = bytes[0] === 0x1f && bytes[1] === 0x8b ? safeGunzip(bytes) : bytes;
  if (!plain) return undefined;
  const text = plain.toString("utf8");
  const found = /ETCD_IMAGE_TAG=v(\d+\.\d+\.\d+)/.exec(text)?.[1];
  if (found || depth >= 3) return found;
  for (const match of text.matchAll(/data:[^,"]*;base64,([A-Za-z0-9+/=]+)/g)) {
    const inner = writtenEtcdVersion(Buffer.from(match[1] as string, "base64"), depth + 1);
    if (inner) return inner;
  }
  return undefined;
}

function safeGunzip(bytes: Buffer): Buffer | undefined {
  try {
    return gunzipSync(bytes);
  } catch {
    return undefined;
  }
}
