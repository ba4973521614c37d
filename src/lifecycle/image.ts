import type { AwsClients } from "../aws/clients.js";
import { newestFlatcarImage } from "../aws/images.js";
import { OperationError, PandaError } from "../errors.js";
import type { Arch, Channel } from "../options.js";
import { fetchImageFeed } from "../template/images.js";
import type { Launched } from "./types.js";

export type ResolvedImage = Launched["resolved"]["image"];

/**
 * The image the nodes boot: the one asked for; else the newest available Flatcar image of the
 * channel and arch that EC2 lists in the region (DescribeImages); else the channel's published
 * feed. The feed is the last resort: it names the current release only, and is another network hop.
 */
export async function resolveImage(
  clients: AwsClients,
  wanted: { image_id?: string; channel: Channel; arch: Arch },
  notices: string[],
): Promise<ResolvedImage> {
  if (wanted.image_id) return { image_id: wanted.image_id, source: "option" };
  const { channel, arch } = wanted;
  let lookupProblem = "DescribeImages found none";
  try {
    const found = await newestFlatcarImage(clients.ec2, channel, arch);
    if (found) return { image_id: found.image_id, source: "describe_images", name: found.name };
  } catch (error) {
    if (!(error instanceof PandaError)) throw error;
    lookupProblem = error.message;
  }
  let feedProblem: string;
  try {
    const feed = await fetchImageFeed(channel, arch);
    const ami = feed.amis[clients.region];
    if (ami) {
      notices.push(`no Flatcar ${channel} ${arch} image found with DescribeImages; using the channel's feed`);
      const version = feed.version ? `Flatcar-${channel}-${feed.version}` : undefined;
      return { image_id: ami, source: "feed", ...(version ? { name: version } : {}) };
    }
    feedProblem = `the feed lists no image for ${clients.region}`;
  } catch (error) {
    if (!(error instanceof PandaError)) throw error;
    feedProblem = error.message;
  }
  throw new OperationError(
    `no Flatcar ${channel} ${arch} image found in ${clients.region}; nothing was created. ` +
      "Give one with --image-id ami-…",
    [lookupProblem, feedProblem],
  );
}
