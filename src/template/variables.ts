import { UsageError } from "../errors.js";

/**
 * The `{{variable}}` placeholders unit files may use, and their defaults. This is the one place the
 * defaults are defined; doc/build_template lists them.
 */
export const VARIABLE_DEFAULTS: Readonly<Record<string, string>> = {
  /**
   * The seed's name for the instance-store disk, by index. Kept for units written for the seed; the
   * bundled units no longer use it: on Nitro the NVMe order is not guaranteed (nvme1n1 can be an EBS
   * volume), so they find the disk by its stable name (instance_store_disks).
   */
  ephemeral_device: "/dev/nvme1n1",
  /** The stable names of the instance-store NVMe disks (a shell glob; the root volume never matches). */
  instance_store_disks: "/dev/disk/by-id/nvme-Amazon_EC2_NVMe_Instance_Storage_*",
  /** The link format-ephemeral.service makes to the disk it prepared; var-lib-docker.mount mounts it. */
  docker_disk: "/run/pandacluster/docker-disk",
  /**
   * Where the opt-in docker-tcp sample (units/samples/docker-tcp) offers the Docker API. A unit that
   * uses it opens this port between the cluster's nodes (security.ts); the default units do not.
   */
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
  // Most unit files have no placeholder at all: no pattern to run over them.
  if (!text.includes("{{")) return text;
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

/**
 * The variables as a view that records which names a fill read (fillPlaceholders reads only the
 * placeholders it meets). The template opens the Docker API port between the nodes only when a unit
 * uses {{docker_port}}: nothing is open between them that no unit needs.
 */
export function watchedVariables(variables: Record<string, string>): {
  variables: Record<string, string>;
  used: Set<string>;
} {
  const used = new Set<string>();
  const view = new Proxy(variables, {
    get(target, key, receiver) {
      if (typeof key === "string" && Object.hasOwn(target, key)) used.add(key);
      return Reflect.get(target, key, receiver);
    },
  });
  return { variables: view, used };
}
