import { imageRoot } from "../aws/images.js";
import { UsageError } from "../errors.js";
import type { CreateOptions } from "../options.js";
import { ROOT_DEVICE } from "../template/launch_template.js";
import type { Session } from "./session.js";
import type { LoadedTemplate } from "./template.js";

/**
 * The root volume the built template asks for must fit the image, or every launch fails minutes into
 * the stack: EC2 refuses a root volume smaller than the image's snapshot, and a mapping on another
 * device than the image's root would add a disk and leave the root unencrypted and unsized. Checked
 * against DescribeImages before anything is created; a template from a file is the user's own.
 */
export async function checkRootVolume(
  session: Session,
  options: CreateOptions,
  template: LoadedTemplate,
  imageId: string,
): Promise<void> {
  if (template.source === "file") return;
  await checkImageFits(session, options.volume_size, imageId);
}

/** The image's root is where the template's mapping encrypts and sizes it, and fits in `volumeSize`. */
export async function checkImageFits(session: Session, volumeSize: number, imageId: string): Promise<void> {
  const root = await imageRoot(session.clients.ec2, imageId);
  if (!root) return;
  if (root.device !== ROOT_DEVICE) {
    throw new UsageError([
      {
        argument: "image_id",
        message:
          `${imageId}'s root device is ${root.device}; the template encrypts and sizes ${ROOT_DEVICE}, ` +
          "the root device of Flatcar's images: use a Flatcar image",
      },
    ]);
  }
  if (root.gib !== null && volumeSize < root.gib) {
    throw new UsageError([
      {
        argument: "volume_size",
        message: `${volumeSize} GiB is smaller than ${imageId}'s root snapshot (${root.gib} GiB), which EC2 refuses: give at least ${root.gib}`,
      },
    ]);
  }
}
