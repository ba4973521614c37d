import { readFileSync } from "node:fs";
import { packagePath } from "../paths.js";

/** The help texts live in doc/, one file per command (doc/main for the tool itself). */
export function helpText(topic: string): string {
  return readFileSync(packagePath("doc", topic.replaceAll("-", "_")), "utf8");
}

/** The one line that follows a bad-input error: where the help is, not the help itself. */
export function helpPointer(command: string): string {
  const word = command.replaceAll("_", "-");
  return `see \`pandacluster ${word === "main" ? "" : `${word} `}--help\``;
}
