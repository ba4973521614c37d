/** The help texts of every command: every flag of the definitions, at most 80 columns. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { helpText } from "../../src/cli/help.js";
import { commandNames, commandSpec } from "../../src/definitions.js";
import { runCli } from "../helpers/cli.js";

describe("doc/ help texts", () => {
  for (const command of commandNames) {
    it(`doc/${command} documents every flag, short and long, within 80 columns`, () => {
      const text = helpText(command);
      for (const arg of commandSpec(command).arguments) {
        const pattern = arg.flag ? `${arg.flag}, ${arg.long}` : arg.long;
        assert.ok(text.includes(pattern), `${command}: ${pattern}`);
      }
      for (const line of text.split("\n")) assert.ok(line.length <= 80, `${command}: too wide: ${line}`);
      assert.match(text, /Examples:\n {2}pandacluster /);
      assert.match(text, /Exit codes:/);
    });
  }

  it("doc/main lists every command within 80 columns", () => {
    const text = helpText("main");
    for (const command of commandNames)
      assert.match(text, new RegExp(`^  ${command.replace("_", "-")} `, "m"));
    for (const line of text.split("\n")) assert.ok(line.length <= 80, `main: too wide: ${line}`);
  });

  it("`pandacluster create --help` prints doc/create", async () => {
    const run = await runCli(["create", "--help"]);
    assert.equal(run.code, 0);
    assert.equal(run.stdout, helpText("create"));
  });
});
