import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** The package's root folder: compiled modules live in dist/src/, two levels below it. */
export const packageRoot: string = fileURLToPath(new URL("../../", import.meta.url));

export function packagePath(...parts: string[]): string {
  return [packageRoot.replace(/\/$/, ""), ...parts].join("/");
}

let version: string | undefined;

/** The version in package.json (read once): the CLI's --version, the server's /health, a stack tag. */
export function packageVersion(): string {
  if (!version) {
    const pkg = JSON.parse(readFileSync(packagePath("package.json"), "utf8")) as { version?: string };
    version = pkg.version ?? "0.0.0";
  }
  return version;
}
