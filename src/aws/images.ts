import type { EC2Client } from "@aws-sdk/client-ec2";
import type { Arch, Channel } from "../options.js";
import { awsFailure } from "./errors.js";
import { sdk } from "./sdk.js";

/** The AWS account that publishes Flatcar Container Linux images. */
export const FLATCAR_OWNER = "075585003325";

export interface FoundImage {
  image_id: string;
  name: string;
  creation_date: string | null;
}

/** EC2 says x86_64 where Flatcar (and Debian) say amd64. */
export function ec2Architecture(arch: Arch): "x86_64" | "arm64" {
  return arch === "arm64" ? "arm64" : "x86_64";
}

/**
 * The newest available Flatcar image of a channel and architecture in the client's region, found
 * with DescribeImages (owner 075585003325, name Flatcar-<channel>-*), or undefined when there is none.
 */
export async function newestFlatcarImage(
  ec2: EC2Client,
  channel: Channel,
  arch: Arch,
): Promise<FoundImage | undefined> {
  const { DescribeImagesCommand } = sdk.ec2();
  let images: { ImageId?: string; Name?: string; CreationDate?: string; State?: string }[];
  try {
    const answer = await ec2.send(
      new DescribeImagesCommand({
        Owners: [FLATCAR_OWNER],
        Filters: [
          { Name: "name", Values: [`Flatcar-${channel}-*`] },
          { Name: "architecture", Values: [ec2Architecture(arch)] },
          { Name: "state", Values: ["available"] },
          { Name: "virtualization-type", Values: ["hvm"] },
        ],
      }),
    );
    images = answer.Images ?? [];
  } catch (error) {
    throw awsFailure("looking up Flatcar images (DescribeImages)", error);
  }
  // The filters are applied again here: a cheap guard against an endpoint that ignores some of them.
  const candidates = images.filter(
    (i) => i.ImageId && i.Name?.startsWith(`Flatcar-${channel}-`) && (i.State ?? "available") === "available",
  );
  candidates.sort((a, b) => (b.CreationDate ?? "").localeCompare(a.CreationDate ?? ""));
  const newest = candidates[0];
  if (!newest?.ImageId || !newest.Name) return undefined;
  return { image_id: newest.ImageId, name: newest.Name, creation_date: newest.CreationDate ?? null };
}

/** An image as the expiry warning needs it: when it was made and when AWS deprecates it. */
export interface ImageFacts {
  image_id: string;
  name: string | null;
  creation_date: string | null;
  /** DescribeImages' DeprecationTime: from then on listings hide it; Flatcar removes it soon after. */
  deprecation_time: string | null;
  state: string | null;
}

type DescribedImage = {
  ImageId?: string;
  Name?: string;
  CreationDate?: string;
  DeprecationTime?: string;
  State?: string;
};

/**
 * The named images, by id (an image that no longer exists is simply missing from the map). One
 * DescribeImages per call; asked by id, AWS also returns deprecated images.
 */
export async function describeImagesById(ec2: EC2Client, ids: string[]): Promise<Map<string, ImageFacts>> {
  const found = new Map<string, ImageFacts>();
  if (ids.length === 0) return found;
  const { DescribeImagesCommand } = sdk.ec2();
  const ask = async (imageIds: string[]): Promise<DescribedImage[]> => {
    try {
      return (await ec2.send(new DescribeImagesCommand({ ImageIds: imageIds }))).Images ?? [];
    } catch (error) {
      // One unknown id fails the whole call (InvalidAMIID.NotFound / .Malformed): ask one by one.
      if (imageIds.length > 1 && /InvalidAMIID/.test((error as Error).name ?? "")) {
        return (await Promise.all(imageIds.map((id) => ask([id])))).flat();
      }
      if (/InvalidAMIID/.test((error as Error).name ?? "")) return [];
      throw awsFailure("reading the cluster's image (DescribeImages)", error);
    }
  };
  for (const image of await ask([...new Set(ids)])) {
    if (!image.ImageId) continue;
    found.set(image.ImageId, {
      image_id: image.ImageId,
      name: image.Name ?? null,
      creation_date: image.CreationDate ?? null,
      deprecation_time: image.DeprecationTime ?? null,
      state: image.State ?? null,
    });
  }
  return found;
}

export interface ImageRoot {
  /** RootDeviceName: where a launch template's root mapping must go to resize the root volume. */
  device: string;
  /** The root snapshot's size in GiB: a root volume smaller than it fails to launch. */
  gib: number | null;
}

/**
 * An image's root device and root snapshot size (DescribeImages by id), or undefined when EC2 does
 * not know the image (InvalidAMIID.*: CloudFormation refuses it then, ImageId being typed
 * AWS::EC2::Image::Id).
 */
export async function imageRoot(ec2: EC2Client, imageId: string): Promise<ImageRoot | undefined> {
  const { DescribeImagesCommand } = sdk.ec2();
  let image:
    | {
        RootDeviceName?: string;
        BlockDeviceMappings?: { DeviceName?: string; Ebs?: { VolumeSize?: number } }[];
      }
    | undefined;
  try {
    image = (await ec2.send(new DescribeImagesCommand({ ImageIds: [imageId] }))).Images?.[0];
  } catch (error) {
    if (/^InvalidAMIID\./.test((error as { name?: string }).name ?? "")) return undefined;
    throw awsFailure(`reading the image ${imageId} (DescribeImages)`, error);
  }
  if (!image?.RootDeviceName) return undefined;
  const root = image.BlockDeviceMappings?.find((m) => m.DeviceName === image?.RootDeviceName);
  return { device: image.RootDeviceName, gib: root?.Ebs?.VolumeSize ?? null };
}
