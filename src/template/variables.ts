import { UsageError } from "../errors.js";

/**
 * The `{{variable}}` placeholders unit files may use, and their defaults. This is the one place the
 * defaults are defined; doc/build_template lists them.
 */
export const VARIABLE_DEFAULTS: Readonly<Record<string, string>> = {
  /** The instance-store disk: on Nitro instances the first one is an NVMe device (not /dev/xvdb). */
  ephemeral_device: "/dev/nvme1n1",
  /** Where docker-tcp.socket offers the Docker API (reachable only from the cluster's own nodes). */
  docker_port: "2375",
};

/**
 * `{{name}}` or `{{ name }}`: a letter or underscore, then letters, digits and underscores. Anything
 * else between double braces (Go templates such as `{{.Names}}`, `{{ json . }}`) is left as it is.
 */
const PLACEHOLDER = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;

/** The variables a build uses: defaults, then the caller's extras, then the build's own arguments. */
export function templateVariables(
  args: Record<string, string>,
  extra: Record<string, string> = {},
): Record<string, string> {
  return { ...VARIABLE_DEFAULTS, ...extra, ...args };
}

/**
 * Fills the placeholders of one text. An unknown placeholder is a UsageError naming `source` (the
 * unit file, or the units file entry) and the variable.
 */
export function fillPlaceholders(text: string, variables: Record<string, string>, source: string): string {
  const unknown = new Set<string>();
  const filled = text.replace(PLACEHOLDER, (whole, name: string) => {
    const value = Object.hasOwn(variables, name) ? variables[name] : undefined;
    if (value === undefined) {
      unknown.add(name);
      return whole;
    }
    return value;
  });
  if (unknown.size > 0) {
    const known = Object.keys(variables).sort().join(", ");
    throw new UsageError(
      [...unknown].map((name) => ({
        argument: source,
        message: `unknown placeholder {{${name}}}; known variables: ${known}`,
      })),
    );
  }
  return filled;
}
