// Bundles the compiled CLI (dist/src/cli/main.js and every module it imports, our own code only) into
// one CommonJS file, dist/bundle/cli.cjs, that bin/pandacluster loads. Why: a command's start-up was
// mostly Node resolving and loading ~30 ES modules one by one; one CommonJS file is read and compiled
// at once, without the ES module loader. npm packages stay outside (required when first used, as
// before), so the AWS SDK, Fastify and CoffeeScript still load only for the commands that use them;
// modules the CLI imports lazily (each command's handler) stay lazy inside the bundle.
// Run by `npm run build` after tsc; the library (dist/src, the package's main export) is unchanged.
import { readFileSync } from "node:fs";
import { build } from "esbuild";

const url = "__pandacluster_bundle_url";
await build({
  entryPoints: ["dist/src/cli/main.js"],
  outfile: "dist/bundle/cli.cjs",
  bundle: true,
  platform: "node",
  target: "node20",
  format: "cjs",
  packages: "external",
  // The modules find the package's files from their own URL (src/paths.ts: two folders up); the bundle
  // sits two folders below the package root too (dist/bundle/), so the same code finds the same files.
  define: { "import.meta.url": url },
  banner: { js: `const ${url} = require("node:url").pathToFileURL(__filename).href;` },
  legalComments: "none",
  logLevel: "warning",
});

// bin/pandacluster compiles the bundle with vm.Script, where import() has no module loader: the code
// loads npm packages with require() (createRequire), and this check keeps it that way.
const bundled = readFileSync("dist/bundle/cli.cjs", "utf8");
const dynamic = bundled.match(/\bimport\(\s*[^)]*\)/g)?.filter((call) => !call.startsWith('import("node:'));
if (dynamic && dynamic.length > 0) {
  console.error(
    `bundle-cli: dist/bundle/cli.cjs keeps ${dynamic.join(", ")}; load it with require() instead`,
  );
  process.exit(1);
}
