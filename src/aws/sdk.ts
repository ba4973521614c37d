import { createRequire } from "node:module";

/**
 * The AWS SDK packages, loaded with require() when first needed.
 *
 * Why not `import`: the SDK ships CommonJS, and an ES module importing CommonJS makes Node scan the
 * whole file for its export names first. For @aws-sdk/client-ec2 (2 MB) that scan costs more than
 * loading it (0.43 s against 0.22 s); a CLI command pays it on every run. And lazily: `list` and
 * `destroy` never load EC2 at all. The classes are the same objects either way.
 */
const require = createRequire(import.meta.url);

export const sdk = {
  cloudformation: () =>
    require("@aws-sdk/client-cloudformation") as typeof import("@aws-sdk/client-cloudformation"),
  ec2: () => require("@aws-sdk/client-ec2") as typeof import("@aws-sdk/client-ec2"),
  autoscaling: () => require("@aws-sdk/client-auto-scaling") as typeof import("@aws-sdk/client-auto-scaling"),
  route53: () => require("@aws-sdk/client-route-53") as typeof import("@aws-sdk/client-route-53"),
  sts: () => require("@aws-sdk/client-sts") as typeof import("@aws-sdk/client-sts"),
  credentials: () =>
    require("@aws-sdk/credential-providers") as typeof import("@aws-sdk/credential-providers"),
  /** The SDK's list of AWS partitions and their regions (partition()), as its endpoint rules use it. */
  partitions: () => require("@aws-sdk/core/client") as typeof import("@aws-sdk/core/client"),
  /** The SDK's own reader of ~/.aws/config and ~/.aws/credentials (the same parse it resolves with). */
  sharedFiles: () => require("@smithy/core/config") as typeof import("@smithy/core/config"),
};
