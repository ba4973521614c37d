import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

/** A listed cluster, by the region it is in. */
export interface CachedCluster {
  region: string;
  stack_name: string;
}

/**
 * The cluster names that shell completion offers for -n: the last `list`'s, kept in a small file so
 * that a Tab press never calls AWS. One line per cluster, `region<TAB>name`: names and regions only,
 * nothing secret. The folder is the user's own (0700) and the file too (0600): which clusters exist
 * is still nobody else's business.
 */
export const CLUSTER_CACHE_TTL_MINUTES = 10;

export function clusterCachePath(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.XDG_CACHE_HOME || join(env.HOME || homedir(), ".cache"), "pandacluster", "clusters");
}

/**
 * Remembers a list's clusters. `listed` is the region the list covered (its lines are replaced; other
 * regions' are kept while the file is fresh: completion reads nothing older than the TTL anyway), or
 * undefined when it covered every region (a server's list). Best effort: an unwritable cache only
 * means that completion offers no names.
 */
export function rememberClusters(
  clusters: CachedCluster[],
  listed: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): void {
  const path = clusterCachePath(env);
  try {
    const kept =
      listed === undefined ? [] : freshLines(path).filter((line) => line.split("\t")[0] !== listed);
    const lines = [...kept, ...clusters.map((c) => `${c.region}\t${c.stack_name}`)];
    const dir = join(path, "..");
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const temp = `${path}.${process.pid}.tmp`;
    writeFileSync(temp, lines.length > 0 ? `${lines.join("\n")}\n` : "", { mode: 0o600 });
    renameSync(temp, path);
  } catch {
    // A read-only home or a full disk: completion then offers no cluster names, nothing else changes.
  }
}

function freshLines(path: string): string[] {
  try {
    if (Date.now() - statSync(path).mtimeMs > CLUSTER_CACHE_TTL_MINUTES * 60_000) return [];
    return readFileSync(path, "utf8").split("\n").filter(Boolean);
  } catch {
    return [];
  }
}
