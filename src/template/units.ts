import { readFileSync } from "node:fs";
import { isAbsolute, resolve, sep } from "node:path";
import { type Problem, UsageError } from "../errors.js";
import { type UnitsInput, unitsFolder, unitsFromFile } from "../options.js";
import { packagePath } from "../paths.js";
import { fillPlaceholders } from "./variables.js";

/**
 * A units file lists the systemd units every node gets (coreos-cloudinit's `coreos.units`):
 *
 *   - name: "docker-tcp.socket"      # required: the unit's name
 *     command: "start"               # optional: start | stop | restart | reload | try-restart | …
 *     enable: true                   # optional: systemctl enable it (its [Install] section)
 *     runtime: true                  # optional: put it in /run (gone after a reboot) not /etc
 *     mask: false                    # optional: mask the unit
 *     content: "docker-tcp.socket"   # optional: file holding the unit, relative to the units file
 *     content_text: "[Unit]\n…"      # optional, instead of content: the unit's text itself
 *     drop_ins: [                    # optional: drop-in files for the unit
 *       {name: "10-limits.conf", content: "limits.conf"}     # or content_text: "…"
 *     ]
 *
 * Over HTTP a units list has no folder to read from, so its entries carry content_text only.
 */
export interface UnitEntry {
  name: string;
  command?: UnitCommand;
  enable?: boolean;
  runtime?: boolean;
  mask?: boolean;
  content?: string;
  drop_ins?: { name: string; content: string }[];
}

export const UNIT_COMMANDS = [
  "start",
  "stop",
  "restart",
  "reload",
  "try-restart",
  "reload-or-restart",
  "reload-or-try-restart",
] as const;
export type UnitCommand = (typeof UNIT_COMMANDS)[number];

const UNIT_KEYS = ["name", "command", "enable", "runtime", "mask", "content", "content_text", "drop_ins"];
const DROP_IN_KEYS = ["name", "content", "content_text"];
export const UNIT_NAME =
  /^[A-Za-z0-9:_.@\\-]+\.(service|socket|device|mount|automount|swap|target|path|timer|slice|scope)$/;
export const DROP_IN_NAME = /^[A-Za-z0-9:_.@-]+\.conf$/;
/** Linux's NAME_MAX: the longest file name (systemd's unit names too: UNIT_NAME_MAX 256 with the NUL). */
export const NAME_MAX = 255;
/**
 * Names pandacluster gives the units and drop-ins it adds (pandacluster-etcd-endpoints.service,
 * 10-pandacluster-metadata.conf, and any it adds later): a user's of the same name would be a
 * duplicate entry, which Ignition refuses whole, or would silently replace ours.
 */
export const RESERVED = /(^|[-.@_:])pandacluster-/i;
const RESERVED_UNIT = /^pandacluster-/i;

/** Why a unit name cannot be written on a node, or undefined. */
function nameProblem(name: string, entry: Record<string, unknown>): string | undefined {
  const bytes = Buffer.byteLength(name);
  if (bytes > NAME_MAX)
    return `its name is ${bytes} bytes long; a unit's file name holds at most ${NAME_MAX} (Linux NAME_MAX)`;
  // Drop-ins (the user's, or the address one Ignition configs add) go in the folder <name>.d.
  const folder = Array.isArray(entry.drop_ins) && entry.drop_ins.length > 0 ? `${name}.d` : undefined;
  if (folder && Buffer.byteLength(folder) > NAME_MAX)
    return `its drop-ins' folder ${name.slice(0, 20)}….d would be ${Buffer.byteLength(folder)} bytes long; a file name holds at most ${NAME_MAX} (Linux NAME_MAX)`;
  if (RESERVED_UNIT.test(name))
    return `"${name}" is reserved: names with "pandacluster-" are those of the units pandacluster adds (such as pandacluster-etcd-endpoints.service)`;
  return undefined;
}

/** The keys of a unit entry and of a drop-in that name a file (read relative to the units file). */
export const FILE_KEYS = ["content"];
/** Unit entry keys given inline (over HTTP): every key but those naming a file. */
export const INLINE_UNIT_KEYS = UNIT_KEYS.filter((key) => !FILE_KEYS.includes(key));
export const INLINE_DROP_IN_KEYS = DROP_IN_KEYS.filter((key) => !FILE_KEYS.includes(key));

/**
 * The seed's units files wrote booleans as strings (`enable: "yes"`, `runtime: "true"`), which
 * coreos-cloudinit read as YAML 1.1 booleans. Those words are accepted, in any letter case; y/n are
 * not (YAML 1.1 has them, but a one-letter value is more likely a slip than a choice).
 */
const BOOLEAN_STRINGS: Readonly<Record<string, boolean>> = {
  true: true,
  yes: true,
  on: true,
  false: false,
  no: false,
  off: false,
};
const BOOLEAN_WORDS = '"true", "yes", "on", "false", "no", "off"';

function unitBoolean(value: unknown): boolean | undefined {
  if (typeof value === "boolean") return value;
  if (typeof value !== "string") return undefined;
  return Object.hasOwn(BOOLEAN_STRINGS, value.toLowerCase())
    ? BOOLEAN_STRINGS[value.toLowerCase()]
    : undefined;
}

/**
 * Whether a unit's text has an [Install] section naming what pulls it in (WantedBy=, RequiredBy=,
 * UpheldBy=): only then does enabling it start it at boot.
 */
export function hasInstallSection(text: string): boolean {
  // No such line without the words (most units files' units have none): no need to read each line.
  if (!text.includes("[Install]")) return false;
  let inInstall = false;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line.startsWith("[")) inInstall = line === "[Install]";
    else if (inInstall && /^(WantedBy|RequiredBy|UpheldBy)\s*=\s*\S/.test(line)) return true;
  }
  return false;
}

/** The units file shipped with the package, used when no units file is given. */
export function defaultUnitsPath(): string {
  return packagePath("units", "unit-config.cson");
}

export function defaultUnits(): UnitsInput {
  return unitsFromFile(defaultUnitsPath());
}

/**
 * Checks a units list and reads every unit's content, with the placeholders filled. Every problem
 * found is a UsageError naming the units file and the entry (units[index]).
 */
export function loadUnits(input: UnitsInput, variables: Record<string, string>): UnitEntry[] {
  const problems: Problem[] = [];
  const where = (index: number, name?: unknown, detail = "") =>
    `${input.source}: units[${index}]${typeof name === "string" && name ? ` (${name})` : ""}${detail}`;

  if (!Array.isArray(input.units)) {
    throw new UsageError([
      { argument: input.source, message: "must hold a list of units ([{name, content, …}, …])" },
    ]);
  }
  const entries: UnitEntry[] = [];
  const seen = new Map<string, number>();
  input.units.forEach((raw: unknown, index: number) => {
    const at = (message: string, detail = "") =>
      problems.push({ argument: where(index, (raw as { name?: unknown } | null)?.name, detail), message });
    if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
      at("must be an object with at least a name");
      return;
    }
    const entry = raw as Record<string, unknown>;
    const before = problems.length;
    for (const key of Object.keys(entry)) {
      if (!UNIT_KEYS.includes(key)) at(`unknown key "${key}"; use ${UNIT_KEYS.join(", ")}`);
    }
    const name = entry.name;
    if (typeof name !== "string" || name === "")
      at("needs a name (the unit's file name, such as docker.service)");
    else if (!UNIT_NAME.test(name)) at(`"${name}" is not a systemd unit name (name.service, name.socket, …)`);
    else if (nameProblem(name, entry)) at(nameProblem(name, entry) as string);
    else if (seen.has(name)) at(`is listed twice (also units[${seen.get(name)}])`);
    else seen.set(name, index);
    if (entry.command !== undefined && !(UNIT_COMMANDS as readonly unknown[]).includes(entry.command)) {
      at(`command must be one of ${UNIT_COMMANDS.join(", ")}`);
    }
    const flags: Partial<Record<"enable" | "runtime" | "mask", boolean>> = {};
    for (const flag of ["enable", "runtime", "mask"] as const) {
      if (entry[flag] === undefined) continue;
      const value = unitBoolean(entry[flag]);
      if (value === undefined) at(`${flag} must be true or false (or one of the strings ${BOOLEAN_WORDS})`);
      else flags[flag] = value;
    }
    const content = readContent(entry, input, variables, (message) => at(message));
    let dropIns: UnitEntry["drop_ins"];
    if (entry.drop_ins !== undefined) {
      if (!Array.isArray(entry.drop_ins)) at("drop_ins must be a list of {name, content}");
      else {
        dropIns = [];
        const names = new Set<string>();
        entry.drop_ins.forEach((rawDropIn: unknown, dropIndex: number) => {
          const atDropIn = (message: string) => at(message, `.drop_ins[${dropIndex}]`);
          if (typeof rawDropIn !== "object" || rawDropIn === null || Array.isArray(rawDropIn)) {
            atDropIn("must be an object {name, content}");
            return;
          }
          const dropIn = rawDropIn as Record<string, unknown>;
          for (const key of Object.keys(dropIn)) {
            if (!DROP_IN_KEYS.includes(key)) atDropIn(`unknown key "${key}"; use ${DROP_IN_KEYS.join(", ")}`);
          }
          if (typeof dropIn.name !== "string" || !DROP_IN_NAME.test(dropIn.name)) {
            atDropIn("needs a name ending in .conf");
          } else if (Buffer.byteLength(dropIn.name) > NAME_MAX) {
            atDropIn(
              `its name is ${Buffer.byteLength(dropIn.name)} bytes long; a file name holds at most ${NAME_MAX} (Linux NAME_MAX)`,
            );
          } else if (RESERVED.test(dropIn.name)) {
            atDropIn(
              `"${dropIn.name}" is reserved: names with "pandacluster-" are those of the drop-ins pandacluster adds`,
            );
          } else if (names.has(dropIn.name)) atDropIn(`"${dropIn.name}" is listed twice`);
          else names.add(dropIn.name);
          const text = readContent(dropIn, input, variables, atDropIn);
          if (text === undefined && dropIn.content === undefined && dropIn.content_text === undefined) {
            atDropIn("needs content (a file) or content_text");
          }
          if (typeof dropIn.name === "string" && text !== undefined)
            dropIns?.push({ name: dropIn.name, content: text });
        });
      }
    }
    if (problems.length > before) return;
    const unit: UnitEntry = { name: name as string };
    if (entry.command !== undefined) unit.command = entry.command as UnitCommand;
    if (flags.enable !== undefined) unit.enable = flags.enable;
    if (flags.runtime !== undefined) unit.runtime = flags.runtime;
    if (flags.mask !== undefined) unit.mask = flags.mask;
    if (content !== undefined) unit.content = content;
    if (dropIns !== undefined) unit.drop_ins = dropIns;
    entries.push(unit);
  });
  if (problems.length > 0) throw new UsageError(problems);
  return entries;
}

/** The text of `content` (a file) or `content_text`, placeholders filled; undefined when neither. */
function readContent(
  entry: Record<string, unknown>,
  input: UnitsInput,
  variables: Record<string, string>,
  problem: (message: string) => void,
): string | undefined {
  const { content, content_text } = entry;
  if (content !== undefined && content_text !== undefined) {
    problem("give content (a file) or content_text, not both");
    return undefined;
  }
  if (content_text !== undefined) {
    if (typeof content_text !== "string") {
      problem("content_text must be a string");
      return undefined;
    }
    return fill(content_text, variables, `${input.source}: content_text of ${String(entry.name)}`, problem);
  }
  if (content === undefined) return undefined;
  if (typeof content !== "string" || content === "") {
    problem("content must be the path of the unit's file");
    return undefined;
  }
  // Only a units file the library read itself has a folder (options.ts): units that came inline
  // (library objects, HTTP requests, the server's store) can name no file at all, absolute or not.
  const folder = unitsFolder(input);
  if (folder === undefined) {
    problem(
      "content names a file, but these units came inline (not from a units file); give the text as content_text",
    );
    return undefined;
  }
  const path = contentPath(folder, content);
  // Read as UTF-8 by one native call (readFileSync into a Buffer is four calls and a copy, for each of
  // 200 units). Bytes that are not UTF-8 come out as U+FFFD, so only a text holding U+FFFD is read
  // again as bytes and decoded strictly, to tell a real U+FFFD from bytes that are not UTF-8.
  let text: string;
  try {
    text = readFileSync(path, "utf8");
    if (text.includes("\uFFFD")) {
      const bytes = readFileSync(path);
      try {
        text = UTF8.decode(bytes);
      } catch {
        problem(`content ${path} is not UTF-8 text`);
        return undefined;
      }
    }
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why =
      code === "ENOENT"
        ? "no such file"
        : code === "EACCES"
          ? "permission denied"
          : code === "EISDIR"
            ? "is a folder"
            : (error as Error).message;
    problem(`cannot read content ${path}: ${why}`);
    return undefined;
  }
  return fill(text, variables, path, problem);
}

/** One decoder for every file: a decode without `stream` starts afresh, also after a failed one. */
const UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Each units file's (absolute) folder as resolve() gives it. */
const resolvedFolders = new Map<string, string>();

/**
 * resolve(folder, content), without resolve()'s normalising of the whole path once per unit (200 of
 * them cost a build-template run milliseconds, issue 18) when content is a plain file name: no
 * separator, not "." or "..". The folder, resolved once, then only gets the name appended.
 */
function contentPath(folder: string, content: string): string {
  const plain = content !== "." && content !== ".." && !content.includes("/") && !content.includes(sep);
  // A relative folder depends on the working directory, which may change: resolved every time.
  if (!plain || !isAbsolute(folder)) return resolve(folder, content);
  let base = resolvedFolders.get(folder);
  if (base === undefined) {
    base = resolve(folder);
    resolvedFolders.set(folder, base);
  }
  return base.endsWith(sep) ? `${base}${content}` : `${base}${sep}${content}`;
}

function fill(
  text: string,
  variables: Record<string, string>,
  source: string,
  problem: (message: string) => void,
): string | undefined {
  try {
    return fillPlaceholders(text, variables, source);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    for (const p of error.problems) problem(`${p.argument}: ${p.message}`);
    return undefined;
  }
}
