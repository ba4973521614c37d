import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { awsClients } from "../../src/aws/clients.js";
import { checkKeyPair } from "../../src/aws/keys.js";
import { command, interrupted, timedOut, withHints } from "../../src/lifecycle/hints.js";
import { shellQuote } from "../../src/shell.js";
import { awsEnv, type Moto, startMoto } from "../helpers/services.js";

/** What /bin/sh makes of a command line: its arguments, one per line. */
function shellWords(line: string): string[] {
  const out = execFileSync("/bin/sh", ["-c", `set -- ${line}; for a in "$@"; do printf '%s\\0' "$a"; done`]);
  return out.toString().split("\0").slice(0, -1);
}

const hostile = [
  "<img src=x onerror=alert(1)>",
  "my cluster",
  "it's",
  "a;rm -rf ~",
  "$(id)",
  "`id`",
  "x\\y",
  "",
];

describe("shellQuote", () => {
  it("leaves shell-safe values as they are", () => {
    for (const value of ["demo", "us-east-1", "a.b_c-1", "http://127.0.0.1:8080/x", "k@2=3,4%"]) {
      assert.equal(shellQuote(value), value);
    }
  });

  for (const value of hostile) {
    it(`the shell reads ${JSON.stringify(value)} back as one argument, unchanged`, () => {
      assert.deepEqual(shellWords(`pandacluster destroy -n ${shellQuote(value)}`), [
        "pandacluster",
        "destroy",
        "-n",
        value,
      ]);
    });
  }
});

describe("every hint quotes what it names", () => {
  const ref = { stack_name: "<img src=x onerror=alert(1)>", region: "us-east-1", profile: "my profile" };
  const args = ["-n", ref.stack_name, "-r", "us-east-1", "--profile", "my profile"];

  it("command()", () => {
    assert.equal(
      command("destroy", ref),
      "pandacluster destroy -n '<img src=x onerror=alert(1)>' -r us-east-1 --profile 'my profile'",
    );
    assert.deepEqual(shellWords(command("wait", ref)), ["pandacluster", "wait", ...args]);
  });

  it("interrupted, timedOut and withHints print the quoted commands", () => {
    const quoted = command("destroy", ref);
    assert.ok(interrupted(ref, "created").message.includes(quoted));
    assert.ok(timedOut(ref, 5, "CREATE_IN_PROGRESS", "created").message.includes(quoted));
    assert.ok(withHints("it failed", ref).includes(quoted));
    assert.ok(withHints("it failed", ref).includes(command("wait", ref)));
  });
});

describe("a missing key pair's hint (moto: DescribeKeyPairs)", () => {
  let moto: Moto;
  const saved = { ...process.env };
  before(async () => {
    moto = await startMoto();
    Object.assign(process.env, awsEnv(moto.endpoint));
  });
  after(async () => {
    await moto?.stop();
    for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
    Object.assign(process.env, saved);
  });

  it("quotes the name in the import-key-pair command", async () => {
    const name = "<img src=x onerror=alert(1)> key";
    await assert.rejects(
      checkKeyPair(awsClients({}, { region: "us-east-1" }).ec2, name, "us-east-1"),
      (error: Error) => {
        const hint = /import yours with: (aws ec2 import-key-pair .*)$/.exec(error.message)?.[1] ?? "";
        assert.deepEqual(shellWords(hint).slice(0, 7), [
          "aws",
          "ec2",
          "import-key-pair",
          "--region",
          "us-east-1",
          "--key-name",
          name,
        ]);
        return true;
      },
    );
  });
});
