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

/** The template parameter that holds the controllers' etcd version (build.ts, upgrade). */
export const ETCD_VERSION_PARAMETER = "EtcdVersion";

/**
 * etcd's own upgrade rules, as its guides state them (etcd.io/docs/latest/upgrades/upgrading-etcd/
 * "Upgrade policy": patch upgrades within a minor, minor upgrades one at a time, "Upgrades that skip
 * a minor version are not supported and will likely fail"; upgrade_3_6/ "Update 3.5": "Before
 * upgrading to 3.6, make sure that all of your 3.5 members are updated to 3.5.26 or later", the
 * zombie-members fix of etcd.io/blog/2025/zombie_members_upgrade/).
 */
export const ETCD_UPGRADE_GUIDE = "https://etcd.io/docs/latest/upgrades/upgrade_3_6/";

/**
 * Why a running cluster's etcd cannot move from `from` to `to` (undefined when it can; the same
 * version is no move and no problem). Each answer names the rule it breaks:
 * - below 3.5.26 the only move is to 3.5.26 or later within 3.5 (the zombie-member fix first);
 * - the next minor only from 3.5.26 or later (3.5 → 3.6), one minor at a time, never a skip;
 * - never back to an older minor (etcd's data is not readable by an older minor without its
 *   downgrade procedure), never across a major;
 * - within a minor any patch release the build accepts (etcdVersionProblem: 3.5.26 or later, and
 *   none without v2 discovery for a discovery-mode cluster).
 */
export function etcdMoveProblem(from: string, to: string, discovery = false): string | undefined {
  if (compareVersions(from, to) === 0) return undefined;
  const [fMajor, fMinor] = parts(from);
  const [tMajor, tMinor] = parts(to);
  const rule = `(etcd's upgrade rule, ${ETCD_UPGRADE_GUIDE})`;
  if (fMajor !== tMajor) {
    return `etcd ${from} → ${to} crosses a major version; etcd upgrades one minor version at a time within a major ${rule}`;
  }
  if (tMinor < fMinor) {
    return (
      `etcd ${from} → ${to} goes back to an older minor version: never downgrade a minor (members write ` +
      `data the older minor cannot read); stay on ${fMajor}.${fMinor} ${rule}`
    );
  }
  if (tMinor > fMinor + 1) {
    return (
      `etcd ${from} → ${to} skips minor version ${fMajor}.${fMinor + 1}: never skip a minor, move to ` +
      `${fMajor}.${fMinor + 1} first ${rule}`
    );
  }
  if (compareVersions(from, MIN_ETCD_VERSION) < 0 && tMinor !== fMinor) {
    return (
      `etcd ${from} → ${to}: ${fMajor}.${tMinor} only from ${MIN_ETCD_VERSION} or later (releases before it ` +
      `let removed members come back as zombie members after the move); move to ${MIN_ETCD_VERSION} or ` +
      `later within ${fMajor}.${fMinor} first ${rule}`
    );
  }
  const problem = etcdVersionProblem(to, discovery);
  return problem ? `etcd ${from} → ${to}: ${problem}` : undefined;
}

/**
 * The instance tag a controller is launched with (its launch template's TagSpecifications): the etcd
 * version its launch template version carries. upgrade --etcd-version replaces the controllers whose
 * tag is not the new version, even on an unchanged image.
 */
export const ETCD_VERSION_TAG = "pandacluster:etcd-version";
