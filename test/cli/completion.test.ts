/**
 * `pandacluster completion bash|zsh|fish`: each script is loaded in its real shell (Debian's bash, zsh
 * and fish; scripts/test-services/install.sh installs them) and asked what it offers for a few
 * prefixes. bash: the function `complete -F` registered, called with COMP_WORDS/COMP_CWORD as bash
 * sets them. fish: `complete -C`, fish's own answer. zsh: completion functions only run inside the
 * line editor, so the test calls the function compinit registered (`$_comps[pandacluster]`) with
 * `words`/`CURRENT`/`PREFIX` set as zsh sets them and records what it hands to compadd, keeping the
 * candidates that start with PREFIX, as compadd's default matching does.
 * Cluster names: written by a real `list` against the moto emulator, read back by each shell.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { describe, it } from "node:test";
import { regionPattern } from "../../src/cli/completion/model.js";
import { PARTITIONS_FILE, sdkRegions } from "../../src/cli/completion/regions.js";
import { helpText } from "../../src/cli/help.js";
import { commandNames, commandSpec } from "../../src/definitions.js";
import { runCli } from "../helpers/cli.js";
import { worldPerFile } from "../lifecycle/e2e.js";

const world = worldPerFile();
const dir = mkdtempSync(join(tmpdir(), "pandacluster-completion-"));
const cache = join(dir, "cache");

const shells = { bash: "/usr/bin/bash", zsh: "/usr/bin/zsh", fish: "/usr/bin/fish" } as const;
type Shell = keyof typeof shells;

async function script(shell: Shell): Promise<string> {
  const run = await runCli(["completion", shell]);
  assert.equal(run.code, 0, run.stderr);
  const path = join(dir, `pandacluster.${shell}`);
  writeFileSync(path, run.stdout);
  return path;
}

const zshCompadd = `
compadd() {
  local -a offered
  local array=""
  while (( $# )); do
    case "$1" in
      -a) array="$2"; shift 2 ;;
      -d|-J|-X) shift 2 ;;
      --) shift; offered+=("$@"); break ;;
      -*) shift ;;
      *) offered+=("$1"); shift ;;
    esac
  done
  [[ -n "$array" ]] && offered+=("\${(@P)array}")
  print -rl -- "\${(@M)offered:#\${PREFIX}*}"
}
_files() { print -r -- "(files)"; }
`;

/**
 * What the shell offers for a command line (the last word is the prefix being completed), one
 * candidate per line, sorted.
 */
async function offers(shell: Shell, line: string[]): Promise<string[]> {
  assert.ok(existsSync(shells[shell]), `${shells[shell]} is missing: run scripts/test-services/install.sh`);
  const path = await scriptOnce(shell);
  const words = line.map((w) => `'${w}'`).join(" ");
  const programs: Record<Shell, string> = {
    bash: `source '${path}'
complete -p pandacluster >/dev/null || exit 3
COMP_WORDS=(${words}); COMP_CWORD=$(( \${#COMP_WORDS[@]} - 1 ))
_pandacluster
printf '%s\\n' "\${COMPREPLY[@]}"`,
    zsh: `autoload -Uz compinit && compinit -u -d '${dir}/zcompdump'
source '${path}'
[[ $_comps[pandacluster] == _pandacluster ]] || exit 3
${zshCompadd}
words=(${words}); CURRENT=$#words; PREFIX=$words[CURRENT]
$_comps[pandacluster]`,
    fish: `source '${path}'
complete -C ${JSON.stringify(line.join(" "))} | string replace -r '\\t.*' ''
true`,
  };
  const args: Record<Shell, string[]> = {
    bash: ["--norc", "-c"],
    zsh: ["-f", "-c"],
    fish: ["--no-config", "-c"],
  };
  const run = spawnSync(shells[shell], [...args[shell], programs[shell]], {
    env: { PATH: process.env.PATH, HOME: dir, XDG_CACHE_HOME: cache },
    encoding: "utf8",
    // Its own deadline: a synchronous child blocks the event loop (the per-test timeout cannot fire).
    timeout: 60_000,
  });
  assert.ifError(run.error);
  assert.equal(run.status, 0, `${shell}: ${run.stderr}`);
  assert.equal(run.stderr, "", `${shell} printed errors`);
  return run.stdout.split("\n").filter(Boolean).sort();
}

const scripts = new Map<Shell, Promise<string>>();
function scriptOnce(shell: Shell): Promise<string> {
  if (!scripts.has(shell)) scripts.set(shell, script(shell));
  return scripts.get(shell) as Promise<string>;
}

function writeCache(lines: string[], ageMinutes = 0): void {
  mkdirSync(join(cache, "pandacluster"), { recursive: true });
  const file = join(cache, "pandacluster", "clusters");
  writeFileSync(file, lines.map((l) => `${l}\n`).join(""));
  const when = new Date(Date.now() - ageMinutes * 60_000);
  utimesSync(file, when, when);
}

describe("shell completion", () => {
  for (const shell of Object.keys(shells) as Shell[]) {
    it(`${shell}: commands, flags and their values, from the definitions`, async () => {
      assert.deepEqual(await offers(shell, ["pandacluster", "cr"]), ["create"]);
      assert.deepEqual(await offers(shell, ["pandacluster", "s"]), ["scale", "serve", "status", "sync"]);
      assert.deepEqual(await offers(shell, ["pandacluster", "create", "--ch"]), ["--channel"]);
      assert.deepEqual(await offers(shell, ["pandacluster", "create", "-c", ""]), [
        "alpha",
        "beta",
        "lts",
        "stable",
      ]);
      assert.deepEqual(await offers(shell, ["pandacluster", "build-template", "--provisioning", ""]), [
        "cloud-config",
        "ignition",
      ]);
      assert.deepEqual(await offers(shell, ["pandacluster", "list", "-o", "y"]), ["yaml"]);
      assert.deepEqual(await offers(shell, ["pandacluster", "completion", "z"]), ["zsh"]);
      assert.deepEqual(await offers(shell, ["pandacluster", "help", "comp"]), ["completion"]);
      const regions = await offers(shell, ["pandacluster", "status", "-r", "eu-west-"]);
      assert.deepEqual(regions, ["eu-west-1", "eu-west-2", "eu-west-3"]);
      // Every flag of a command, short and long, and nothing else.
      for (const command of ["destroy", "scale"] as const) {
        const expected = commandSpec(command).arguments.flatMap((a) =>
          a.flag ? [a.flag, a.long] : [a.long],
        );
        const got = await offers(shell, ["pandacluster", command, "-"]);
        assert.deepEqual(got, [...expected, "-h", "--help"].sort(), `${shell} ${command}`);
      }
    });

    it(`${shell}: -n offers the cached names of a fresh list, of the region given, and nothing stale`, async () => {
      writeCache(["us-east-1\tdemo", "us-east-1\tdev-2", "eu-west-1\tprod"]);
      assert.deepEqual(await offers(shell, ["pandacluster", "status", "-n", ""]), ["demo", "dev-2", "prod"]);
      assert.deepEqual(await offers(shell, ["pandacluster", "destroy", "-n", "de"]), ["demo", "dev-2"]);
      assert.deepEqual(await offers(shell, ["pandacluster", "wait", "-r", "eu-west-1", "-n", ""]), ["prod"]);
      // create names a new cluster: nothing to offer.
      assert.deepEqual(await offers(shell, ["pandacluster", "create", "-n", ""]), []);
      writeCache(["us-east-1\tdemo"], 11);
      assert.deepEqual(
        await offers(shell, ["pandacluster", "status", "-n", ""]),
        [],
        "older than 10 minutes",
      );
    });
  }

  it("list writes the names for completion: a private file, names and regions only", async () => {
    for (const name of ["alpha", "beta"]) {
      const created = await world.cli(["create", "-n", name, "-k", "k1"]);
      assert.equal(created.code, 0, created.stderr);
    }
    const env = { XDG_CACHE_HOME: cache };
    rmSync(join(cache, "pandacluster"), { recursive: true, force: true });
    const listed = await world.cli(["list"], { env });
    assert.equal(listed.code, 0, listed.stderr);
    const file = join(cache, "pandacluster", "clusters");
    assert.equal(readFileSync(file, "utf8"), "us-east-1\talpha\nus-east-1\tbeta\n");
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(statSync(dirname(file)).mode & 0o777, 0o700);
    appendFileSync(file, "eu-west-1\tprod\n");
    assert.deepEqual(await offers("bash", ["pandacluster", "status", "-r", "us-east-1", "-n", ""]), [
      "alpha",
      "beta",
    ]);
    // A list of the same region replaces its names (beta is gone); --json lists remember too.
    const destroyed = await world.cli(["destroy", "-n", "beta"]);
    assert.equal(destroyed.code, 0, destroyed.stderr);
    assert.equal((await world.cli(["list", "--json"], { env })).code, 0);
    assert.equal(readFileSync(file, "utf8"), "eu-west-1\tprod\nus-east-1\talpha\n");
  });

  it("regions come from the AWS SDK's own partitions file, which is still where and what it was", async () => {
    const core = createRequire(import.meta.url).resolve("@aws-sdk/core/package.json");
    assert.ok(existsSync(join(dirname(core), PARTITIONS_FILE)), "the SDK moved its partitions file");
    const regions = await sdkRegions(regionPattern());
    for (const region of ["us-east-1", "eu-west-1", "ap-southeast-2", "cn-north-1", "us-gov-west-1"])
      assert.ok(regions.includes(region), region);
    assert.ok(!regions.includes("aws-global"), "only region names");
  });

  it("a shell it does not know is bad input; doc/completion is its help", async () => {
    const bad = await runCli(["completion", "tcsh"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^error: no completion for "tcsh": use one of bash, zsh, fish/);
    const none = await runCli(["completion"]);
    assert.equal(none.code, 2);
    const help = await runCli(["completion", "--help"]);
    assert.equal(help.code, 0);
    assert.equal(help.stdout, helpText("completion"));
    for (const line of help.stdout.split("\n")) assert.ok(line.length <= 80, line);
    assert.match(helpText("main"), /source <\(pandacluster completion bash\)/);
    assert.match(helpText("main"), /^ {2}completion /m);
    assert.ok(commandNames.length > 0);
  });
});
