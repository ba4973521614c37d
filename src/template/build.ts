import type { Config } from "../config.js";
import { OperationError, UsageError } from "../errors.js";
import type { Arch, BuildTemplateOptions, Channel } from "../options.js";
import { bootUserData, type DiscoveryContext, sampleDiscoveryUrl, type UserDataReport } from "./boot.js";
import { type BootParts, ETCD_VERSION_MARKER, etcdMember } from "./boot_parts.js";
import { RUN_ENV_PATH, staticEtcdFiles, staticEtcdUnits } from "./etcd/node.js";
import { controllerReboots, workerReboots } from "./etcd/reboot.js";
import {
  CONTROLLER_LAUNCH_TEMPLATE,
  CONTROLLER_PROFILE,
  controllerRole,
  privateZone,
  slots,
} from "./etcd/slots.js";
import {
  DEFAULT_ETCD_VERSION,
  ETCD_VERSION_PARAMETER,
  ETCD_VERSION_TAG,
  etcdImageTag,
  etcdVersionProblem,
} from "./etcd/version.js";
import { group } from "./group.js";
import { fetchImageFeed, regionMap } from "./images.js";
import { imageIdValue, launchTemplate } from "./launch_template.js";
import { checkUserData, measureUserData, type SentUserData } from "./measure.js";
import { MAX_ZONES, network } from "./network.js";
import { outputs, parameterOutputs } from "./outputs.js";
import { longestEtcdVersion, parameters } from "./parameters.js";
import { refersTo, withRef } from "./refs.js";
import { security } from "./security.js";
import type { CfnTemplate } from "./types.js";
import { defaultUnits, loadUnits } from "./units.js";
import { templateVariables, watchedVariables } from "./variables.js";
import { workerBootUserData } from "./workers.js";

export type { CfnTemplate } from "./types.js";

/** CloudFormation's limit on a TemplateBody sent inline with CreateStack. */
export const TEMPLATE_BODY_LIMIT = 51_200;

export interface ImageMapInfo {
  /** "feed": the template has a RegionMap from the channel's image feed; "none": it has no map. */
  source: "feed" | "none";
  channel: Channel;
  arch: Arch;
  /** The Flatcar release the map holds, when the feed said. */
  version?: string;
  /** How many regions the map has (0 without a map). */
  regions: number;
  /** Why there is no map. */
  reason?: string;
}

export interface BuiltTemplate {
  template: CfnTemplate;
  /** Compact JSON text: what goes to CreateStack's TemplateBody, whose limit counts bytes. */
  body: string;
  /** Buffer.byteLength(body) */
  bytes: number;
  image_map: ImageMapInfo;
  /** The nodes' user data: format, bytes as EC2 counts them, and how it was made to fit. */
  user_data: UserDataReport;
  /** Each launch template's user data, measured in the whole template (template/measure.ts). */
  launch_templates: SentUserData[];
  /** Things to tell the user (on stderr): no image map and why, no SSH keys, … */
  notices: string[];
}

/**
 * Builds the cluster's CloudFormation template: network, security group, launch template with the
 * nodes' boot config (Ignition or cloud-config: units, SSH keys, etcd discovery) and the Auto Scaling
 * group. Online it fetches
 * the channel's image feed for a RegionMap; offline, or when the feed cannot be fetched, the template
 * has no map and needs the ImageId parameter.
 *
 * `extraVariables` adds to the `{{variable}}` placeholders unit files may use (create passes
 * stack_name, cluster_size, …); channel and arch are always there.
 *
 * `discovery` says how long the discovery URL will be (the user data is measured with it; by default
 * the config's discovery service, or discovery.etcd.io, and 32 hex digits) and, at create, the URL
 * itself once known.
 *
 * Throws UsageError for a bad units file, an unknown placeholder, user data over EC2's 16,384 bytes,
 * or a template over 51,200 bytes; all before any AWS call.
 */
export async function buildTemplate(
  options: Pick<BuildTemplateOptions, "channel" | "arch" | "units" | "region" | "offline"> & {
    provisioning?: BuildTemplateOptions["provisioning"];
  } & Partial<Pick<BuildTemplateOptions, "cluster_size" | "etcd_version" | "etcd_bootstrap" | "zones">>,
  config: Config,
  extraVariables?: Record<string, string>,
  discovery?: Partial<DiscoveryContext>,
): Promise<BuiltTemplate> {
  const { channel, arch } = options;
  const watched = watchedVariables(templateVariables({ channel, arch }, extraVariables));
  const units = loadUnits(options.units ?? defaultUnits(), watched.variables);
  const notices: string[] = [];
  const dockerPort = dockerPortOpened(watched, notices);

  const images = await imageMap(options);
  if (images.map === undefined) {
    const why = images.info.reason === "offline" ? "offline:" : `${images.info.reason};`;
    notices.push(`${why} the template has no image map; pass the image id as ImageId`);
  }
  const publicKeys = config.public_keys ?? [];
  if (publicKeys.length === 0) {
    notices.push("no public_keys in the config: the nodes accept SSH only with the EC2 key pair");
  }

  const etcd = etcdPlan(options);
  const problem = etcdVersionProblem(etcd.version, !etcd.static);
  if (problem) throw new UsageError([{ argument: "etcd_version", message: problem }]);
  // Controllers reboot for updates one at a time (a lock in etcd v3); workers in a weekly window.
  const reboots = controllerReboots(etcd.static ? [RUN_ENV_PATH] : []);
  const controllerParts = (version: string): BootParts =>
    etcd.static
      ? {
          units: [...staticEtcdUnits(units, version), ...reboots.units],
          publicKeys,
          files: [...staticEtcdFiles(), ...reboots.files],
        }
      : {
          units: [...units, ...reboots.units],
          publicKeys,
          files: reboots.files,
          etcd: { ...etcdMember, environment: { ETCD_IMAGE_TAG: etcdImageTag(version) } },
        };
  const discoveryContext = {
    sampleUrl: sampleDiscoveryUrl(config.discovery_service),
    ...discovery,
    etcdVersion: { value: etcd.version, longest: longestEtcdVersion() },
  };
  const provisioning = options.provisioning ?? "ignition";
  // The etcd version is the template's EtcdVersion parameter wherever the controllers' user data can
  // take it (upgrade --etcd-version then updates just that parameter). It cannot when the config is
  // compressed whole (a gzipped cloud-config) or a units file replaced our etcd drop-in: then the
  // version is written in, and the template has no EtcdVersion (upgrade says so).
  let boot = bootUserData(controllerParts(ETCD_VERSION_MARKER), provisioning, discoveryContext);
  boot = { ...boot, value: withRef(boot.value, ETCD_VERSION_MARKER, ETCD_VERSION_PARAMETER) };
  const versionParameter = refersTo(boot.value, ETCD_VERSION_PARAMETER);
  if (!versionParameter) boot = bootUserData(controllerParts(etcd.version), provisioning, discoveryContext);
  if (JSON.stringify(boot.value).includes(ETCD_VERSION_MARKER))
    throw new Error("internal: the etcd version's marker was left in the controllers' user data");
  const etcdTags = versionParameter
    ? [{ Key: ETCD_VERSION_TAG, Value: { Ref: ETCD_VERSION_PARAMETER } }]
    : [];
  notices.push(...boot.notices);
  // Workers: the same units and keys, no etcd member, etcd reached through the cluster's zone.
  const workers = workerBootUserData(
    units,
    publicKeys,
    provisioning,
    discoveryContext,
    extraVariables?.private_domain,
    "PrivateDomain",
    etcd.static ? etcd.size : undefined,
    workerReboots().files,
  );

  const withMap = images.map !== undefined;
  const securityGroups = security(dockerPort);
  const templateParameters = parameters(
    arch,
    withMap,
    etcd.static ? etcd.size : undefined,
    versionParameter ? etcd.version : undefined,
  );
  const version = images.info.version ? `, Flatcar ${images.info.version}` : "";
  const template: CfnTemplate = {
    AWSTemplateFormatVersion: "2010-09-09",
    Description: `pandacluster: a Flatcar Container Linux cluster (channel ${channel}, arch ${arch}${version})`,
    Parameters: templateParameters,
    ...(withMap ? { Mappings: { RegionMap: images.map as Record<string, Record<string, string>> } } : {}),
    Conditions: {
      ...(withMap ? { HasImageId: { "Fn::Not": [{ "Fn::Equals": [{ Ref: "ImageId" }, ""] }] } } : {}),
      ...securityGroups.conditions,
    },
    Resources: {
      ...network(etcd.zones).resources,
      ...securityGroups.resources,
      ...(etcd.static
        ? {
            ...privateZone().resources,
            ...controllerRole(etcd.size).resources,
            ...launchTemplate(
              imageIdValue(withMap),
              boot.value,
              CONTROLLER_LAUNCH_TEMPLATE,
              { instanceProfile: CONTROLLER_PROFILE },
              etcdTags,
            ).resources,
            ...slots(etcd.size, etcd.zones).resources,
          }
        : {
            ...launchTemplate(imageIdValue(withMap), boot.value, undefined, undefined, etcdTags).resources,
            ...group("controller", etcd.zones).resources,
          }),
      ...launchTemplate(imageIdValue(withMap), workers.value, "WorkerLaunchTemplate").resources,
      ...group("worker", etcd.zones).resources,
    },
    Outputs: {
      ...outputs(etcd.zones, etcd.static ? etcd.size : undefined),
      ...parameterOutputs(templateParameters),
    },
  };
  // Every launch template measured once the template is whole (the workers' endpoints unit in), with
  // the values it will get: the discovery URL (or one as long), and the cluster's private domain or,
  // unknown (build-template), the longest one the PrivateDomain parameter accepts; and the longest
  // EtcdVersion the parameter accepts (an upgrade may set any).
  const privateDomain = extraVariables?.private_domain;
  const etcdVersion = longestEtcdVersion();
  const launch_templates = measureUserData(template, {
    DiscoveryURL: discovery?.knownUrl ?? discovery?.sampleUrl ?? sampleDiscoveryUrl(config.discovery_service),
    PrivateDomain: privateDomain ?? longestPrivateDomain(template),
    ...(versionParameter ? { EtcdVersion: etcdVersion } : {}),
  });
  const longestVersion = versionParameter ? ` and a ${etcdVersion.length}-character EtcdVersion` : "";
  checkUserData(
    launch_templates,
    privateDomain
      ? `with the cluster's values${longestVersion}`
      : `with a ${longestPrivateDomain(template).length}-character PrivateDomain${longestVersion} (the longest the template accepts)`,
  );
  const body = JSON.stringify(template);
  const bytes = checkTemplateBody(body);
  return { template, body, bytes, image_map: images.info, user_data: boot.report, launch_templates, notices };
}

/** How the controllers' etcd is built: static slots (the default) or the deprecated discovery mode. */
export interface EtcdPlan {
  static: boolean;
  size: number;
  version: string;
  zones: number;
}

export function etcdPlan(
  options: Partial<Pick<BuildTemplateOptions, "cluster_size" | "etcd_version" | "etcd_bootstrap" | "zones">>,
): EtcdPlan {
  return {
    static: (options.etcd_bootstrap ?? "static") === "static",
    size: options.cluster_size ?? 3,
    version: options.etcd_version ?? DEFAULT_ETCD_VERSION,
    zones: options.zones ?? MAX_ZONES,
  };
}

/** The body's bytes; a UsageError when CloudFormation would refuse it as TemplateBody. */
export function checkTemplateBody(body: string): number {
  const bytes = Buffer.byteLength(body);
  if (bytes > TEMPLATE_BODY_LIMIT) throw new UsageError(tooBig(bytes));
  return bytes;
}

export function tooBig(bytes: number): string {
  const n = (value: number) => value.toLocaleString("en-US");
  return (
    `template is ${n(bytes)} bytes; CloudFormation accepts at most ${n(TEMPLATE_BODY_LIMIT)} in TemplateBody ` +
    `(${n(bytes - TEMPLATE_BODY_LIMIT)} over): put fewer or smaller units on the nodes`
  );
}

async function imageMap(
  options: Pick<BuildTemplateOptions, "channel" | "arch" | "region" | "offline">,
): Promise<{ map?: Record<string, Record<string, string>>; info: ImageMapInfo }> {
  const { channel, arch, region } = options;
  const none = (reason: string, version?: string) => ({
    info: { source: "none" as const, channel, arch, regions: 0, reason, ...(version ? { version } : {}) },
  });
  if (options.offline) return none("offline");
  let feed: Awaited<ReturnType<typeof fetchImageFeed>>;
  try {
    feed = await fetchImageFeed(channel, arch);
  } catch (error) {
    if (!(error instanceof OperationError)) throw error;
    return none(error.message.replace(/^cannot/, "could not"));
  }
  const map = regionMap(feed.amis, region);
  if (!map) return none(`the ${channel} ${arch} image feed has no image for ${region}`, feed.version);
  const info: ImageMapInfo = { source: "feed", channel, arch, regions: Object.keys(map).length };
  if (feed.version) info.version = feed.version;
  return { map, info };
}

/**
 * The Docker API port to open between the nodes: only when a unit used {{docker_port}} (the opt-in
 * docker-tcp sample, or a seed-style units file), and then a notice says what that opens.
 */
function dockerPortOpened(
  watched: ReturnType<typeof watchedVariables>,
  notices: string[],
): number | undefined {
  if (!watched.used.has("docker_port")) return undefined;
  const port = portOf(watched.variables.docker_port);
  notices.push(
    `a unit uses {{docker_port}}: TCP ${port} is open between all the cluster's nodes; ` +
      "an unauthenticated Docker API there gives every container on any node root on every node",
  );
  return port;
}

function portOf(value: string | undefined): number {
  const port = Number(value);
  if (!value || !/^\d+$/.test(value) || port < 1 || port > 65535) {
    throw new UsageError(`docker_port must be a TCP port number (1-65535), not ${JSON.stringify(value)}`);
  }
  return port;
}

/** A PrivateDomain as long as the template's parameter accepts (its MaxLength; DNS's 253 without). */
function longestPrivateDomain(template: CfnTemplate): string {
  const declared = (template.Parameters as Record<string, { MaxLength?: unknown }>).PrivateDomain?.MaxLength;
  const max = typeof declared === "number" ? declared : 253;
  return Array.from({ length: Math.ceil(max / 64) }, () => "a".repeat(63))
    .join(".")
    .slice(0, max);
}
