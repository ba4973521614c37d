import { commandNames } from "../definitions.js";
import { ExitCode } from "../errors.js";
import { packageVersion } from "../paths.js";
import { helpPointer, helpText } from "./help.js";
import { directWriter } from "./stdio.js";

/**
 * The CLI's front door. Help and --version are answered from doc/ and package.json before anything
 * else is loaded, so they stay as fast as node itself; a command loads only what it uses.
 */
const commands: string[] = [...commandNames.map((name) => name.replaceAll("_", "-")), "completion"];
const helpWords = new Set(["help", "-h", "--help"]);

export async function main(argv: string[]): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined || helpWords.has(first)) {
    const topic = first === "help" && rest[0] ? normalise(rest[0]) : "main";
    if (topic !== "main" && !commands.includes(topic)) return unknownCommand(rest[0] as string);
    stdout().write(helpText(topic));
    return ExitCode.ok;
  }
  if (first === "--version" || first === "-V") {
    stdout().write(`pandacluster ${packageVersion()}\n`);
    return ExitCode.ok;
  }
  const command = normalise(first);
  if (!commands.includes(command)) return unknownCommand(first);
  // -h or --help anywhere asks for the command's help (`create -n x --help`), as most tools do; a lone
  // "help" only as the only word, since it could be a value (`-n help`).
  if (rest.includes("-h") || rest.includes("--help") || (rest.length === 1 && rest[0] === "help")) {
    stdout().write(helpText(command));
    return ExitCode.ok;
  }
  if (command === "completion") {
    // Takes a shell name, not flags: it prints a script and never reads the config or calls AWS.
    const { runCompletion } = await import("./completion/index.js");
    return runCompletion(rest, process.stdout, process.stderr);
  }
  const { runCommand } = await import("./run.js");
  return runCommand(command, rest);
}

/**
 * Help and --version written to descriptor 1 directly (stdio.ts): process.stdout on a file or
 * /dev/null loads Node's stream modules, a millisecond or more of a --help run.
 */
function stdout(): NodeJS.WritableStream {
  return directWriter(1, () => process.stdout);
}

function normalise(word: string): string {
  return word.replaceAll("_", "-");
}

function unknownCommand(word: string): number {
  directWriter(2, () => process.stderr).write(
    `error: unknown command "${word}"\n${helpPointer("main")} for the commands\n`,
  );
  return ExitCode.usage;
}
