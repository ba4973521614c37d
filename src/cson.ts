import { readFileSync } from "node:fs";
import CSON from "cson-parser";
import { UsageError } from "./errors.js";

/** Reads and parses a CSON file; any problem becomes a UsageError naming the file (and line). */
export function readCsonFile(path: string, argument = ""): unknown {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "no such file" : code === "EACCES" ? "permission denied" : String(error);
    throw new UsageError([{ argument, message: `cannot read ${path}: ${why}` }]);
  }
  return parseCson(text, path, argument);
}

export function parseCson(text: string, path: string, argument = ""): unknown {
  try {
    return CSON.parse(text);
  } catch (error) {
    throw new UsageError([{ argument, message: `${path}: ${describeSyntaxError(error)}` }]);
  }
}

function describeSyntaxError(error: unknown): string {
  const located = error as { message?: string; location?: { first_line: number; first_column: number } };
  const message = located.message ?? String(error);
  if (located.location) {
    return `line ${located.location.first_line + 1}, column ${located.location.first_column + 1}: ${message}`;
  }
  // cson-parser's own checks already say "Syntax error on line N, column M: ..."
  return message.replace(/^Syntax error on /, "");
}
