import type { AutoScalingClient } from "@aws-sdk/client-auto-scaling";
import type { CloudFormationClient, CloudFormationClientConfig } from "@aws-sdk/client-cloudformation";
import type { EC2Client } from "@aws-sdk/client-ec2";
import type { Route53Client } from "@aws-sdk/client-route-53";
import type { STSClient } from "@aws-sdk/client-sts";
import type { Config } from "../config.js";
import { UsageError } from "../errors.js";
import { credentialProviderOf } from "./credential_source.js";
import { observed } from "./observe.js";
import { assertProfileExists } from "./profile.js";
import { sdk } from "./sdk.js";

/** Where the AWS calls go: a region, and the shared-config profile when one was named. */
export interface AwsTarget {
  region: string;
  profile?: string;
}

/**
 * The SDK v3 clients one flow uses, all for one region and one set of credentials. Each is made
 * (and its SDK package loaded) on first use.
 */
export interface AwsClients {
  readonly region: string;
  readonly profile?: string;
  readonly cloudformation: CloudFormationClient;
  readonly ec2: EC2Client;
  /** Auto Scaling: which instances of the groups are InService (scale, sync, the reconciler). */
  readonly autoscaling: AutoScalingClient;
  readonly route53: Route53Client;
  /** STS, for GetCallerIdentity (which AWS account the credentials belong to). */
  readonly sts: STSClient;
}

/**
 * The SDK retries throttling ("Rate exceeded"), 5xx answers and dropped connections by itself;
 * adaptive mode also slows down when AWS says we call too often. Six attempts ride out a short
 * outage without hiding a real one for minutes.
 */
const retry = { maxAttempts: 6, retryMode: "adaptive" } as const;

/** A connection that does not open in 5 s is dead; the retry strategy then tries again. */
const requestHandler = { connectionTimeout: 5_000, requestTimeout: 60_000 };

// Clients are cached per credentials object, region and profile, so that a long-lived caller
// (the server's pollers) resolves credentials (SSO, instance role…) once and reuses connections.
const byConfig = new WeakMap<Config, Map<string, AwsClients>>();
const withoutConfig = new Map<string, AwsClients>();

/**
 * The clients for a region. Credentials: the config file's aws {id, secret} when present, else
 * the standard chain (environment, --profile / AWS_PROFILE, shared files, SSO, instance role).
 * The endpoint is never set here: the SDK honours AWS_ENDPOINT_URL and its per-service variants.
 */
export function awsClients(credentials: Config | undefined, target: AwsTarget): AwsClients {
  const cache = credentials ? cacheFor(credentials) : withoutConfig;
  const key = `${target.region}\u0000${target.profile ?? ""}`;
  let clients = cache.get(key);
  if (!clients) {
    clients = makeClients(credentials, target);
    cache.set(key, clients);
  }
  return clients;
}

function cacheFor(config: Config): Map<string, AwsClients> {
  let cache = byConfig.get(config);
  if (!cache) {
    cache = new Map();
    byConfig.set(config, cache);
  }
  return cache;
}

function makeClients(credentials: Config | undefined, target: AwsTarget): AwsClients {
  let shared: CloudFormationClientConfig | undefined;
  // Resolved once, on first use, and shared by all the clients (one walk of the credential chain).
  const settings = () => {
    shared ??= {
      region: target.region,
      credentials: credentialsFor(credentials, target.profile),
      ...(target.profile ? { profile: target.profile } : {}),
      ...retry,
      requestHandler,
    };
    return shared;
  };
  const made: {
    cloudformation?: CloudFormationClient;
    ec2?: EC2Client;
    autoscaling?: AutoScalingClient;
    route53?: Route53Client;
    sts?: STSClient;
  } = {};
  return {
    region: target.region,
    ...(target.profile ? { profile: target.profile } : {}),
    get cloudformation() {
      made.cloudformation ??= observed(
        new (sdk.cloudformation().CloudFormationClient)(settings()),
        "cloudformation",
      );
      return made.cloudformation;
    },
    get ec2() {
      made.ec2 ??= observed(new (sdk.ec2().EC2Client)(settings()), "ec2");
      return made.ec2;
    },
    get autoscaling() {
      made.autoscaling ??= observed(new (sdk.autoscaling().AutoScalingClient)(settings()), "autoscaling");
      return made.autoscaling;
    },
    get route53() {
      made.route53 ??= observed(new (sdk.route53().Route53Client)(settings()), "route53");
      return made.route53;
    },
    get sts() {
      if (!made.sts) {
        // Asked while an HTTP request waits (the API server's create): fewer attempts than the
        // other clients, so that an unreachable STS is reported in seconds rather than a minute.
        // The shared settings are passed field by field: their CloudFormation-typed extensions
        // do not type-check as STS's. The credentials are the same object (the chain walked once).
        const { region, credentials, profile } = settings();
        made.sts = observed(
          new (sdk.sts().STSClient)({
            region,
            credentials,
            ...(profile ? { profile } : {}),
            retryMode: retry.retryMode,
            maxAttempts: 3,
            requestHandler,
          }),
          "sts",
        );
      }
      return made.sts;
    },
  };
}

/** Static keys or a provider, as every SDK v3 client accepts them. */
type Credentials = NonNullable<CloudFormationClientConfig["credentials"]>;

function credentialsFor(config: Config | undefined, profile: string | undefined): Credentials {
  // A provider bound to this object (an assumed IAM role: credential_source.ts) comes first.
  const bound = credentialProviderOf(config);
  if (bound) return bound;
  if (config?.aws?.id && config.aws.secret) {
    return { accessKeyId: config.aws.id, secretAccessKey: config.aws.secret };
  }
  // One provider shared by the clients: the chain is walked once, its answer cached.
  return sdk.credentials().fromNodeProviderChain(profile ? { profile } : {});
}

/**
 * The region to work in: the option (--region) first, then the config file's aws.region, then
 * what the SDK finds in the environment (AWS_REGION) or the profile. None → a UsageError.
 * A named profile is checked first (every flow resolves its region before its first AWS call).
 */
export async function resolveRegion(
  credentials: Config | undefined,
  options: { region?: string; profile?: string },
): Promise<string> {
  if (options.profile) await assertProfileExists(options.profile);
  if (options.region) return options.region;
  if (credentials?.aws?.region) return credentials.aws.region;
  try {
    // The SDK's own region chain (environment, then the profile's shared config), asked through a
    // client that never sends anything.
    const { CloudFormationClient } = sdk.cloudformation();
    const probe = new CloudFormationClient(options.profile ? { profile: options.profile } : {});
    const region = await probe.config.region();
    probe.destroy();
    if (region) return region;
  } catch {
    // "Region is missing": fall through to our own message, which says where a region can come from.
  }
  const where = options.profile
    ? `a region for profile ${options.profile} in ~/.aws/config`
    : "a profile's region";
  throw new UsageError(
    `no AWS region: pass --region (-r), set aws.region in ~/.pandacluster.cson, or set AWS_REGION or ${where}`,
  );
}
