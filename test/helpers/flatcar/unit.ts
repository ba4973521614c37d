/**
 * systemd's reading of a unit and its drop-ins, as far as the harness needs it to run a unit the way
 * a Flatcar node would (systemd.unit(5), systemd.service(5), systemd.exec(5)):
 *
 * - the unit's text, then its drop-ins in the order of their file names, each line's trailing
 *   backslash joining the next line (with a space);
 * - Environment= (several quoted "K=V" words per line; a later assignment wins), EnvironmentFile=
 *   (a leading "-" makes a missing file no error; read when the command runs, as systemd does);
 * - ExecStartPre=/ExecStart=/ExecStartPost=/ExecStop= lists, an empty assignment resetting the list
 *   (how a drop-in replaces ExecStart); prefixes "-" (failure ignored) and "@+!:" (dropped);
 * - specifiers %m (machine id), %n (unit name), %H (host name), %% in Environment= and Exec lines;
 * - in Exec lines, a word that is exactly $NAME becomes the variable's value split at whitespace,
 *   ${NAME} inside a word becomes its value as it is (one word).
 */

export interface ServiceUnit {
  name: string;
  /** [Unit] and [Service] and [Install] keys, every assignment in order (reset by an empty one for lists). */
  sections: Map<string, Map<string, string[]>>;
  environment: Map<string, string>;
  environmentFiles: { path: string; optional: boolean }[];
  exec: Record<ExecKey, ExecLine[]>;
  type: string;
}

export type ExecKey = "ExecStartPre" | "ExecStart" | "ExecStartPost" | "ExecStop";
const EXEC_KEYS: ExecKey[] = ["ExecStartPre", "ExecStart", "ExecStartPost", "ExecStop"];
/** Keys whose empty assignment resets the list (the others simply take the last value). */
const LIST_KEYS = new Set<string>([
  ...EXEC_KEYS,
  "Environment",
  "EnvironmentFile",
  "Requires",
  "After",
  "Wants",
  "Before",
]);

export interface ExecLine {
  /** The words before variable expansion (quotes removed, specifiers filled). */
  words: string[];
  ignoreFailure: boolean;
}

export interface Specifiers {
  machineId: string;
  hostname: string;
}

/** Joins continued lines: a line ending in a backslash goes on with the next one. */
function logicalLines(text: string): string[] {
  const out: string[] = [];
  let pending = "";
  for (const raw of text.split("\n")) {
    const line = raw.replace(/\r$/, "");
    const trimmed = line.trimStart();
    if (pending === "" && (trimmed.startsWith("#") || trimmed.startsWith(";"))) continue;
    if (line.endsWith("\\")) {
      pending += `${line.slice(0, -1)} `;
      continue;
    }
    out.push(pending + line);
    pending = "";
  }
  if (pending !== "") out.push(pending);
  return out;
}

/** Splits a command line or an Environment= value into words, as systemd does (quotes, backslashes). */
export function splitWords(text: string): string[] {
  const words: string[] = [];
  let word = "";
  let inWord = false;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (quote) {
      if (c === quote) quote = undefined;
      else if (c === "\\" && quote === '"' && i + 1 < text.length) word += text[++i];
      else word += c;
      continue;
    }
    if (c === '"' || c === "'") {
      quote = c;
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(word);
      word = "";
      inWord = false;
    } else if (c === "\\" && i + 1 < text.length) {
      word += text[++i];
      inWord = true;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (quote) throw new Error(`unit: unbalanced quote in ${JSON.stringify(text)}`);
  if (inWord) words.push(word);
  return words;
}

function fillSpecifiers(text: string, unitName: string, spec: Specifiers): string {
  return text.replace(/%(.)/g, (whole, c: string) => {
    if (c === "m") return spec.machineId;
    if (c === "n") return unitName;
    if (c === "H") return spec.hostname;
    if (c === "%") return "%";
    throw new Error(`unit ${unitName}: the harness does not know the specifier ${whole}`);
  });
}

/** Reads a unit from its text and its drop-ins (applied in the order of their names). */
export function parseUnit(
  name: string,
  text: string,
  dropIns: { name: string; contents: string }[],
  spec: Specifiers,
): ServiceUnit {
  const sections = new Map<string, Map<string, string[]>>();
  const ordered = [...dropIns].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const source of [text, ...ordered.map((d) => d.contents)]) {
    let section: Map<string, string[]> | undefined;
    for (const line of logicalLines(source)) {
      const trimmed = line.trim();
      if (trimmed === "") continue;
      const header = /^\[([^\]]+)\]$/.exec(trimmed);
      if (header) {
        const title = header[1] as string;
        section = sections.get(title) ?? new Map();
        sections.set(title, section);
        continue;
      }
      const eq = trimmed.indexOf("=");
      if (!section || eq < 0) throw new Error(`unit ${name}: cannot read line ${JSON.stringify(trimmed)}`);
      const key = trimmed.slice(0, eq).trim();
      const value = trimmed.slice(eq + 1).trim();
      const values = section.get(key) ?? [];
      if (value === "" && LIST_KEYS.has(key)) section.set(key, []);
      else if (LIST_KEYS.has(key)) section.set(key, [...values, value]);
      else section.set(key, [value]);
    }
  }
  const service = sections.get("Service") ?? new Map<string, string[]>();
  const environment = new Map<string, string>();
  for (const value of service.get("Environment") ?? []) {
    for (const word of splitWords(fillSpecifiers(value, name, spec))) {
      const eq = word.indexOf("=");
      if (eq <= 0) throw new Error(`unit ${name}: Environment= word ${JSON.stringify(word)} is not K=V`);
      environment.set(word.slice(0, eq), word.slice(eq + 1));
    }
  }
  const environmentFiles = (service.get("EnvironmentFile") ?? []).map((value) => {
    const optional = value.startsWith("-");
    return { path: optional ? value.slice(1) : value, optional };
  });
  const exec = Object.fromEntries(
    EXEC_KEYS.map((key) => [
      key,
      (service.get(key) ?? []).map((value): ExecLine => {
        let line = value;
        let ignoreFailure = false;
        while (/^[-@+!:]/.test(line)) {
          if (line[0] === "-") ignoreFailure = true;
          line = line.slice(1);
        }
        return { words: splitWords(fillSpecifiers(line, name, spec)), ignoreFailure };
      }),
    ]),
  ) as Record<ExecKey, ExecLine[]>;
  return {
    name,
    sections,
    environment,
    environmentFiles,
    exec,
    type: service.get("Type")?.at(-1) ?? "simple",
  };
}

/** Reads an EnvironmentFile's text: KEY=VALUE lines, comments and blank lines skipped, quotes removed. */
export function parseEnvironmentFile(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of logicalLines(text)) {
    const trimmed = line.trim();
    if (trimmed === "" || trimmed.startsWith("#") || trimmed.startsWith(";")) continue;
    const eq = trimmed.indexOf("=");
    if (eq <= 0) continue;
    let value = trimmed.slice(eq + 1).trim();
    if (/^".*"$/.test(value) || /^'.*'$/.test(value)) value = value.slice(1, -1);
    out.set(trimmed.slice(0, eq).trim(), value);
  }
  return out;
}

/** An Exec line's argv once the unit's environment is known (systemd's $NAME / ${NAME} rules). */
export function expandExec(line: ExecLine, env: Map<string, string>): string[] {
  const argv: string[] = [];
  for (const word of line.words) {
    const whole = /^\$([A-Za-z_][A-Za-z0-9_]*)$/.exec(word);
    if (whole) {
      argv.push(...(env.get(whole[1] as string) ?? "").split(/\s+/).filter((w) => w !== ""));
      continue;
    }
    argv.push(word.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_m, v: string) => env.get(v) ?? ""));
  }
  return argv;
}

/** A [Unit]/[Install] list value, split into unit names. */
export function unitList(unit: ServiceUnit, section: string, key: string): string[] {
  return (unit.sections.get(section)?.get(key) ?? []).flatMap((v) => v.split(/\s+/)).filter(Boolean);
}
