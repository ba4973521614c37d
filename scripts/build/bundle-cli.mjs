// Bundles the compiled CLI (dist/src/cli/*, and every module of ours it imports) into two CommonJS
// files that bin/pandacluster loads:
//   dist/bundle/cli.cjs       the front door (src/cli/main.ts): help, --version, the command's name;
//   dist/bundle/commands.cjs  everything a command runs (src/cli/run.ts, src/cli/completion/), loaded
//                             by the front door only when a command runs;
//   dist/bundle/build-template.cjs  the same for build-template alone (see below).
// Why: a command's start-up was mostly Node resolving and loading ~30 ES modules one by one; a
// CommonJS file is read and compiled at once, without the ES module loader, and bin/pandacluster
// compiles each from a V8 code cache. Two files, so that --help does not read the 400 kB the commands
// need. npm packages stay outside (required when first used, as before): the AWS SDK, Fastify and
// CoffeeScript still load only for the commands that use them, and modules the commands import lazily
// (each handler, the server) stay lazy inside the bundle. The few small modules both files use (the
// exit codes, the package's paths, the help texts) are in both: they hold no state that matters.
// Run by `npm run build` after tsc; the library (dist/src, the package's main export) is unchanged.
import { readFileSync } from "node:fs";
import { build } from "esbuild";

const url = "__pandacluster_bundle_url";
const common = {
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
};

// The front door's `import("./run.js")` and `import("./completion/index.js")` become a module of the
// bundle that requires ./commands.cjs (bin/pandacluster answers it from its code cache): an import()
// left in the bundle would have no loader there.
const commandsOutside = {
  name: "commands-outside",
  setup(b) {
    b.onResolve({ filter: /^\.\/(run|completion\/index)\.js$/ }, () => ({
      path: "commands",
      namespace: "outside",
    }));
    b.onLoad({ filter: /.*/, namespace: "outside" }, () => ({
      contents: 'module.exports = require("./commands.cjs");',
      loader: "js",
    }));
    b.onResolve({ filter: /^\.\/commands\.cjs$/ }, () => ({ path: "./commands.cjs", external: true }));
  },
};

await build({
  ...common,
  entryPoints: ["dist/src/cli/main.js"],
  outfile: "dist/bundle/cli.cjs",
  plugins: [commandsOutside],
});
await build({
  ...common,
  stdin: {
    contents:
      'export { runCommand } from "./run.js";\nexport { runCompletion } from "./completion/index.js";\n',
    resolveDir: "dist/src/cli",
    sourcefile: "commands-entry.js",
  },
  outfile: "dist/bundle/commands.cjs",
});

// dist/bundle/build-template.cjs: what build-template runs, alone (136 kB instead of the commands'
// 578 kB). bin/pandacluster loads it instead of commands.cjs for build-template: reading, and compiling
// from the code cache, the other commands' code cost that run 1.4 ms (issue 18; build-template is the
// command whose start-up is measured against node's). Every other command's handler, the server mode
// and completion are left out: a module that says so if it is ever reached (it is not: bin loads
// this file only for build-template, which has no server mode).
const onlyBuildTemplate = {
  name: "only-build-template",
  setup(b) {
    const others =
      /^\.\/(commands\/(create|destroy|scale|upgrade|sync|status|wait|list|serve)|remote\/index|completion\/index)\.js$/;
    b.onResolve({ filter: others }, (args) => ({ path: args.path, namespace: "left-out" }));
    b.onLoad({ filter: /.*/, namespace: "left-out" }, (args) => ({
      contents: `throw new Error(${JSON.stringify(`internal: ${args.path} is not in the build-template bundle`)});`,
      loader: "js",
    }));
  },
};
await build({
  ...common,
  stdin: {
    contents: 'export { runCommand } from "./run.js";\n',
    resolveDir: "dist/src/cli",
    sourcefile: "build-template-entry.js",
  },
  outfile: "dist/bundle/build-template.cjs",
  plugins: [onlyBuildTemplate],
});

// bin/pandacluster compiles the bundles with vm.Script, where import() has no module loader: the code
// loads npm packages with require() (createRequire), and this check keeps it that way.
for (const file of ["dist/bundle/cli.cjs", "dist/bundle/commands.cjs", "dist/bundle/build-template.cjs"]) {
  const bundled = readFileSync(file, "utf8");
  const dynamic = bundled.match(/\bimport\(\s*[^)]*\)/g);
  if (dynamic && dynamic.length > 0) {
    console.error(`bundle-cli: ${file} keeps ${dynamic.join(", ")}; load it with require() instead`);
    process.exit(1);
  }
}
