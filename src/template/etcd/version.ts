/**
 * The etcd that controllers run. Flatcar's etcd-member.service runs etcd in a container through
 * /usr/lib/flatcar/etcd-wrapper, which takes the image tag from ETCD_IMAGE_TAG (image
 * quay.io/coreos/etcd:<tag>); left alone it runs whatever the Flatcar release pins (v3.5.16 in
 * Stable 4593.2.5). pandacluster pins it.
 */

/** etcd 3.5.27 (2026-02-13): the newest 3.5 release published when this default was chosen. */
export const DEFAULT_ETCD_VERSION = "3.5.27";

/**
 * The oldest etcd accepted: 3.5.26 fixes "zombie members" in the v3 store, without which members
 * removed earlier come back when the cluster later moves to 3.6 (etcd's 3.6 upgrade guide asks for
 * 3.5.26 or later first). Replacing members is what these clusters do on their own.
 */
export const MIN_ETCD_VERSION = "3.5.26";

/** The etcd release that removed v2 discovery (--discovery with a discovery URL). */
export const DISCOVERY_REMOVED_IN = "3.7.0";

export const ETCD_IMAGE_REPOSITORY = "quay.io/coreos/etcd";

function parts(version: string): [number, number, number] {
  const [major, minor, patch] = version.split(".").map(Number);
  return [major ?? 0, minor ?? 0, patch ?? 0];
}

/** Negative when a is older than b, 0 when equal, positive when newer (x.y.z only). */
export function compareVersions(a: string, b: string): number {
  const [x, y] = [parts(a), parts(b)];
  for (let i = 0; i < 3; i++) {
    const d = (x[i] as number) - (y[i] as number);
    if (d !== 0) return d;
  }
  return 0;
}

/** Why an etcd version cannot be used (undefined when it can). `version` matches x.y.z already. */
export function etcdVersionProblem(version: string, discovery = false): string | undefined {
  if (compareVersions(version, MIN_ETCD_VERSION) < 0) {
    return (
      `etcd ${version} is older than ${MIN_ETCD_VERSION}: releases before it keep removed members in the ` +
      "v3 store, which come back as zombie members when the cluster moves to etcd 3.6, and these " +
      `controllers remove and re-add members when one is replaced (use ${MIN_ETCD_VERSION} or later)`
    );
  }
  if (discovery && compareVersions(version, DISCOVERY_REMOVED_IN) >= 0) {
    return (
      `etcd ${version} has no v2 discovery (removed in ${DISCOVERY_REMOVED_IN}): a discovery URL cannot ` +
      "bootstrap it; leave out discovery_url and discovery_service (the default static membership), " +
      "or use etcd 3.5 or 3.6"
    );
  }
  return undefined;
}

/** The image tag Flatcar's etcd-wrapper takes: v<version>. */
export function etcdImageTag(version: string): string {
  return `v${version}`;
}
