import { fileURLToPath } from "node:url";

/** The package's root folder: compiled modules live in dist/src/, two levels below it. */
export const packageRoot: string = fileURLToPath(new URL("../../", import.meta.url));

export function packagePath(...parts: string[]): string {
  return [packageRoot.replace(/\/$/, ""), ...parts].join("/");
}
