import { createHash } from "node:crypto";
import { gzipSync } from "node:zlib";
import { UsageError } from "../errors.js";
import type { Provisioning } from "../options.js";
import { type BootParts, ETCD_VERSION_MARKER, keepsEtcdDropIn } from "./boot_parts.js";
import { cloudConfigText } from "./cloud_config.js";
import { type IgnitionConfig, ignitionConfigs } from "./ignition.js";
import type { CfnValue } from "./types.js";

export type { Provisioning } from "../options.js";

/** EC2 takes at most 16,384 bytes of user data, counted before base64. */
export const USER_DATA_LIMIT = 16_384;

export type { BootFile, BootParts, EtcdPart } from "./boot_parts.js";
export { etcdMember } from "./boot_parts.js";

/** The discovery URL as the boot config meets it. */
export interface DiscoveryContext {
  /** A URL as long as the real one will be (the real one when known): sizes are measured with it. */
  sampleUrl: string;
  /** The cluster's real URL, known at create once the service gave it. */
  knownUrl?: string;
  /**
   * create: the URL becomes known before CreateStack, so a cloud-config over the limit may wait for
   * it (it is gzipped with the URL in it) instead of being refused.
   */
  urlComesLater?: boolean;
  /**
   * The etcd version where a controller's config holds the EtcdVersion parameter's marker: `value`
   * (the template's default) for the sizes reported, `longest` (the longest the parameter accepts,
   * which an upgrade may set) for whether the config fits.
   */
  etcdVersion?: { value: string; longest: string };
}

/** How big the user data is, as EC2 counts it, and how it was made to fit. */
export interface UserDataReport {
  provisioning: Provisioning;
  /** Bytes of user data EC2 gets (before base64), with a discovery URL of `discovery_url_length`. */
  bytes: number;
  /** Bytes of the boot config as plain text (before any gzip). */
  plain_bytes: number;
  /**
   * plain: the config as it is; gzip-merge: a small Ignition config merging the rest from a gzip
   * data: URL; gzip: the whole cloud-config gzipped (only with a known discovery URL).
   */
  encoding: "plain" | "gzip-merge" | "gzip";
  limit: number;
  discovery_url_length: number;
  /** create: the cloud-config is gzipped once the discovery URL is known (the template is rebuilt). */
  pending_discovery_url?: boolean;
}

export interface BootUserData {
  /** The LaunchTemplate's UserData (base64, as CloudFormation wants it). */
  value: CfnValue;
  report: UserDataReport;
  notices: string[];
}

/** A discovery URL of real length from a service: {service}/{32 hex}, the hex fixed but varied. */
export function sampleDiscoveryUrl(service = "https://discovery.etcd.io"): string {
  return `${service.replace(/\/+$/, "")}/${createHash("md5").update("pandacluster sample").digest("hex")}`;
}

/**
 * The user data for one kind of node, parameterised by the DiscoveryURL template parameter wherever
 * it can be, and measured against EC2's 16,384-byte limit before anything is sent:
 *
 * - Ignition: the config, or when it is over the limit, a small config that holds the etcd drop-in
 *   (with the parameter) and merges everything else from a gzip-compressed data: URL
 *   (ignition.config.merge[].source + compression "gzip").
 * - cloud-config: the text, or when it is over the limit and the URL is known (create), the whole
 *   text gzipped (coreos-cloudinit reads gzip user data). CloudFormation cannot gzip, so a template
 *   built without the URL (build-template) cannot hold a gzipped cloud-config.
 *
 * Throws UsageError when the user data does not fit, saying how big it is and what the limit is.
 */
export function bootUserData(
  parts: BootParts,
  provisioning: Provisioning,
  discovery: DiscoveryContext,
  parameter = "DiscoveryURL",
): BootUserData {
  return provisioning === "ignition"
    ? ignitionUserData(parts, discovery, parameter)
    : cloudConfigUserData(parts, discovery, parameter);
}

function ignitionUserData(parts: BootParts, discovery: DiscoveryContext, parameter: string): BootUserData {
  const urlLength = discovery.sampleUrl.length;
  let notices: string[] = [];
  const { text, marker } = withUniqueMarker((m) => {
    const built = ignitionConfigs(parts, m);
    notices = built.notices;
    return JSON.stringify(built.whole);
  }, urlUses(parts));
  const plainBytes = measured(text, marker, discovery.sampleUrl, discovery);
  // Whether it fits, and what a refusal says, with the longest etcd version an upgrade may set.
  const plainFit = measured(text, marker, discovery.sampleUrl, discovery, "longest");
  const report = reporter("ignition", plainBytes, urlLength);
  if (plainFit <= USER_DATA_LIMIT) {
    return { value: joinedBase64(text, marker, parameter), report: report(plainBytes, "plain"), notices };
  }
  const { text: outerText, marker: outerMarker } = withUniqueMarker(
    (m) => JSON.stringify(mergedConfig(parts, m)),
    urlUses(parts),
  );
  const bytes = measured(outerText, outerMarker, discovery.sampleUrl, discovery);
  const fit = measured(outerText, outerMarker, discovery.sampleUrl, discovery, "longest");
  if (fit > USER_DATA_LIMIT) throw new UsageError(overLimit("Ignition", plainFit, fit, urlLength));
  return {
    value: joinedBase64(outerText, outerMarker, parameter),
    report: report(bytes, "gzip-merge"),
    notices,
  };
}

/** The small outer config: the etcd drop-in (which holds the URL) and a merge of the rest, gzipped. */
function mergedConfig(parts: BootParts, marker: string): IgnitionConfig {
  const { outer, inner } = ignitionConfigs(parts, marker);
  const innerText = JSON.stringify(inner);
  if (innerText.includes(marker) || innerText.includes(ETCD_VERSION_MARKER))
    throw new Error("internal: the merged Ignition config holds the discovery URL or the etcd version");
  const source = `data:;base64,${gzipSync(innerText, { level: 9 }).toString("base64")}`;
  return { ...outer, ignition: { ...outer.ignition, config: { merge: [{ source, compression: "gzip" }] } } };
}

function cloudConfigUserData(parts: BootParts, discovery: DiscoveryContext, parameter: string): BootUserData {
  const urlLength = (discovery.knownUrl ?? discovery.sampleUrl).length;
  const { text, marker } = withUniqueMarker((m) => cloudConfigText(parts, m), urlUses(parts));
  const url = discovery.knownUrl ?? discovery.sampleUrl;
  const plainBytes = measured(text, marker, url, discovery);
  const plainFit = measured(text, marker, url, discovery, "longest");
  const report = reporter("cloud-config", plainBytes, urlLength);
  if (plainFit <= USER_DATA_LIMIT) {
    return { value: joinedBase64(text, marker, parameter), report: report(plainBytes, "plain"), notices: [] };
  }
  const gzipped = gzipSync(text.split(marker).join(discovery.knownUrl ?? discovery.sampleUrl), { level: 9 });
  if (gzipped.length > USER_DATA_LIMIT) {
    throw new UsageError(overLimit("cloud-config", plainFit, gzipped.length, urlLength));
  }
  if (discovery.knownUrl !== undefined || !text.includes(marker)) {
    // The URL is in the gzipped text: the template's DiscoveryURL parameter is then not used by it.
    return { value: gzipped.toString("base64"), report: report(gzipped.length, "gzip"), notices: [] };
  }
  if (discovery.urlComesLater) {
    return {
      value: gzipped.toString("base64"),
      report: { ...report(gzipped.length, "gzip"), pending_discovery_url: true },
      notices: [],
    };
  }
  const n = thousands;
  throw new UsageError(
    `the cloud-config user data is ${n(plainFit)} bytes (with a ${urlLength}-character discovery URL); ` +
      `EC2 accepts at most ${n(USER_DATA_LIMIT)} bytes of user data. Gzipped it would be ${n(gzipped.length)} ` +
      "bytes, but a gzipped cloud-config cannot take the template's DiscoveryURL parameter: use " +
      "--provisioning ignition (the default), or let `pandacluster create` build the template " +
      "(it gzips the cloud-config with the cluster's discovery URL)",
  );
}

function overLimit(format: string, plain: number, compressed: number, urlLength: number): string {
  const n = thousands;
  return (
    `the ${format} user data is ${n(plain)} bytes (with a ${urlLength}-character discovery URL), ` +
    `${n(compressed)} bytes gzipped; EC2 accepts at most ${n(USER_DATA_LIMIT)} bytes of user data ` +
    `(${n(compressed - USER_DATA_LIMIT)} over): put fewer or smaller units on the nodes`
  );
}

/** 16384 → "16,384". Not toLocaleString: loading ICU's locale data costs ~100 ms of start-up. */
export function thousands(value: number): string {
  return String(value).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

/** How many times the boot config holds the discovery URL: once with our etcd drop-in, else never. */
function urlUses(parts: BootParts): number {
  return keepsEtcdDropIn(parts) ? 1 : 0;
}

/** Bytes of the text with the marker replaced by the URL (and the etcd version's by the version). */
function measured(
  text: string,
  marker: string,
  url: string,
  discovery: DiscoveryContext,
  version: "value" | "longest" = "value",
): number {
  const withUrl = text.split(marker).join(url);
  const etcd = discovery.etcdVersion?.[version];
  return Buffer.byteLength(etcd === undefined ? withUrl : withUrl.split(ETCD_VERSION_MARKER).join(etcd));
}

/**
 * The text with the DiscoveryURL parameter put where the marker is. The text is cut around the
 * marker and joined with {Ref} (Fn::Join, not Fn::Sub), so CloudFormation copies every other byte as
 * it is: `${…}` in a unit stays `${…}`.
 */
function joinedBase64(text: string, marker: string, parameter: string): CfnValue {
  if (!text.includes(marker)) return { "Fn::Base64": text };
  const [before, after] = text.split(marker) as [string, string];
  return { "Fn::Base64": { "Fn::Join": ["", [before, { Ref: parameter }, after]] } };
}

/** Builds the text with a marker that occurs in it exactly once (never in the user's own text). */
export function withUniqueMarker(
  build: (marker: string) => string,
  occurrences = 1,
): { text: string; marker: string } {
  for (let n = 0; n < 100; n++) {
    const marker = `@@pandacluster-discovery-url${n === 0 ? "" : `-${n}`}@@`;
    const text = build(marker);
    if (text.split(marker).length === occurrences + 1) return { text, marker };
  }
  throw new Error("internal: no marker for the discovery URL could be placed");
}

/** The report of a format's user data once its plain size is known: encoding and bytes follow. */
function reporter(provisioning: UserDataReport["provisioning"], plainBytes: number, urlLength: number) {
  return (bytes: number, encoding: UserDataReport["encoding"]): UserDataReport => ({
    provisioning,
    bytes,
    plain_bytes: plainBytes,
    encoding,
    limit: USER_DATA_LIMIT,
    discovery_url_length: urlLength,
  });
}
