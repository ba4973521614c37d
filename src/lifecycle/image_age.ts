import type { EC2Client } from "@aws-sdk/client-ec2";
import { describeImagesById, type ImageFacts, newestFlatcarImage } from "../aws/images.js";
import { argumentSpec } from "../definitions.js";
import type { Arch, Channel } from "../options.js";
import { type ClusterRef, command } from "./hints.js";

/** Flatcar removes its AMIs about nine months after their release (BRIEF §3c). */
export const FLATCAR_AMI_LIFETIME_DAYS = 270;

/**
 * How current a cluster's image is. A launch template pins one image: once AWS deprecates it (and
 * Flatcar removes it, about nine months after release) the groups can no longer launch a
 * replacement, so the cluster cannot heal. `warning` is set when there is something to do.
 */
export interface ImageAdvice {
  image_id: string;
  image_name: string | null;
  created_at: string | null;
  /** DescribeImages' DeprecationTime of the cluster's image, when AWS has one. */
  deprecated_at: string | null;
  /** The image no longer exists: the groups cannot launch any instance. */
  gone: boolean;
  /** The channel's newest image for the cluster's arch in its region, when it is another one. */
  newer: { image_id: string; name: string; created_at: string | null } | null;
  /** When Flatcar is expected to remove the image (its creation + 270 days), for planning. */
  expected_removal: string | null;
  warning: string | null;
  /** The command that moves the cluster to the newest image. */
  command: string | null;
}

export interface ImageAdviceInput {
  image_id: string | null;
  channel: string | null;
  arch: string | null;
  ref: ClusterRef;
}

/**
 * The advice for several clusters of one region at the cost of one DescribeImages by id plus one
 * newest-image lookup per channel and arch (what `list` shows for every cluster).
 */
export async function imageAdvice(
  ec2: EC2Client,
  clusters: ImageAdviceInput[],
  now = new Date(),
): Promise<(ImageAdvice | null)[]> {
  const ids = clusters.map((c) => c.image_id).filter((id): id is string => Boolean(id));
  const images = await describeImagesById(ec2, ids);
  const newest = new Map<string, Promise<Awaited<ReturnType<typeof newestFlatcarImage>>>>();
  const newestOf = (channel: Channel, arch: Arch) => {
    const key = `${channel}/${arch}`;
    if (!newest.has(key))
      newest.set(
        key,
        newestFlatcarImage(ec2, channel, arch).catch(() => undefined),
      );
    return newest.get(key);
  };
  return Promise.all(
    clusters.map(async (cluster) => {
      if (!cluster.image_id) return null;
      const channel = allowed("channel", cluster.channel) as Channel | null;
      const arch = allowed("arch", cluster.arch) as Arch | null;
      const latest = channel && arch ? await newestOf(channel, arch) : undefined;
      return adviceFor(cluster, images.get(cluster.image_id), latest, now);
    }),
  );
}

export function adviceFor(
  cluster: ImageAdviceInput,
  image: ImageFacts | undefined,
  latest: { image_id: string; name: string; creation_date: string | null } | undefined,
  now: Date,
): ImageAdvice {
  const imageId = cluster.image_id ?? "";
  const created = image?.creation_date ?? null;
  const removal = created ? new Date(Date.parse(created) + FLATCAR_AMI_LIFETIME_DAYS * 86_400_000) : null;
  const newer =
    latest && latest.image_id !== imageId && (!created || (latest.creation_date ?? "") > created)
      ? { image_id: latest.image_id, name: latest.name, created_at: latest.creation_date }
      : null;
  const deprecatedAt = image?.deprecation_time ?? null;
  const fix = `pandacluster upgrade${command("status", cluster.ref).slice("pandacluster status".length)}`;
  const day = (iso: string) => iso.slice(0, 10);
  let warning: string | null = null;
  if (!image) {
    warning =
      `image ${imageId} no longer exists in ${cluster.ref.region}: the cluster's groups cannot launch ` +
      "a replacement for any node that fails";
  } else if (deprecatedAt && Date.parse(deprecatedAt) <= now.getTime()) {
    warning =
      `image ${imageId} (${image.name ?? "no name"}) was deprecated by AWS on ${day(deprecatedAt)}; ` +
      "Flatcar removes such images, and then no node can be replaced";
  } else if (deprecatedAt) {
    warning = `image ${imageId} (${image.name ?? "no name"}) will be deprecated by AWS on ${day(deprecatedAt)}`;
  } else if (newer) {
    const by = removal
      ? `; Flatcar removes images about nine months after release (around ${day(removal.toISOString())})`
      : "";
    warning = `image ${imageId} (${image.name ?? "no name"}) is older than the channel's newest, ${newer.name}${by}`;
  }
  return {
    image_id: imageId,
    image_name: image?.name ?? null,
    created_at: created,
    deprecated_at: deprecatedAt,
    gone: !image,
    newer,
    expected_removal: removal ? removal.toISOString() : null,
    warning: warning ? `${warning}. Move it to a current image with: ${fix}` : null,
    command: warning ? fix : null,
  };
}

/** The value when the definitions allow it for that argument (a stack's tags are not trusted blindly). */
function allowed(name: "channel" | "arch", value: string | null): string | null {
  return value && argumentSpec("build_template", name).allowed_values?.includes(value) ? value : null;
}
