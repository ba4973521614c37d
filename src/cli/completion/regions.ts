import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

/**
 * Where the AWS SDK keeps its list of partitions and their regions (the data its endpoint rules and
 * `partition()` use), inside @aws-sdk/core. The file is plain data: one ES module whose only statement
 * is `export const partitionsInfo = {…JSON…};`. Its object is read as JSON (no import(): the CLI runs as
 * a CommonJS bundle from a code cache, where import() has no loader), which costs nothing, where
 * @aws-sdk/core/client (which only exposes a lookup by name, not the list) loads much of the SDK. A
 * test checks that the file is still there and still reads, so an SDK update that moves or reshapes
 * it fails loudly instead of completing no regions.
 */
export const PARTITIONS_FILE = "dist-es/submodules/client/util-endpoints/lib/aws/partitions.js";

interface PartitionsInfo {
  partitions: { id: string; regions: Record<string, unknown> }[];
}

/** Every region of every AWS partition the SDK knows that matches `pattern` (not aws-global…), sorted. */
export async function sdkRegions(pattern: RegExp): Promise<string[]> {
  const corePackage = createRequire(import.meta.url).resolve("@aws-sdk/core/package.json");
  const text = readFileSync(join(dirname(corePackage), PARTITIONS_FILE), "utf8");
  const partitionsInfo = JSON.parse(
    text.slice(text.indexOf("{"), text.lastIndexOf("}") + 1),
  ) as PartitionsInfo;
  const regions = partitionsInfo.partitions.flatMap((p) => Object.keys(p.regions));
  return [...new Set(regions.filter((r) => pattern.test(r)))].sort();
}
