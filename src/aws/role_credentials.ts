import type { Config } from "../config.js";
import { OperationError } from "../errors.js";
import { awsClients } from "./clients.js";
import { awsMessage, isTransient } from "./errors.js";
import { sdk } from "./sdk.js";

/**
 * AWS access by IAM role: credentials from STS AssumeRole, asked with the caller's own credentials
 * (the server's: its config file's keys, else its standard chain — instance role, environment,
 * shared profile). This is how a provisioning server holds no long-lived key of its users.
 */

/** What AssumeRole is asked with. */
export interface RoleSpec {
  role_arn: string;
  /** The sts:ExternalId the role's trust policy requires (the confused-deputy guard). */
  external_id: string;
  /** Names the session in the role account's CloudTrail: whose calls these are. */
  session_name: string;
  /** Whose STS endpoint to ask (STS is regional; any region's answer is valid everywhere). */
  region: string;
}

/** AWS allows 900 s to the role's MaxSessionDuration (default 3600 s); an hour is the most we ask. */
export const sessionSeconds = 3600;
/** Credentials are taken again this long before they expire, so a call never signs with stale ones. */
export const refreshMarginMs = 5 * 60_000;

/** A role ARN as IAM writes it: arn:<partition>:iam::<12-digit account>:role/<path/name>. */
export const roleArnPattern = /^arn:aws(-cn|-us-gov)?:iam::(\d{12}):role\/[\w+=,.@/-]{1,512}$/;

/** The account that owns the role: where the assumed credentials act. */
export function roleAccount(roleArn: string): string | undefined {
  return roleArnPattern.exec(roleArn)?.[2];
}

/**
 * RoleSessionName: 2–64 characters of [\w+=,.@-] (STS's constraint). "pandacluster-" and the
 * profile's name (profile names are within that alphabet), cut to 64.
 */
export function sessionNameFor(profile: string): string {
  return `pandacluster-${profile.replace(/[^\w+=,.@-]/g, "-")}`.slice(0, 64);
}

/** Temporary credentials as every SDK v3 client accepts them. */
export interface TemporaryCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  expiration: Date;
}

/** AssumeRole failed: AWS's reason, never a credential. `transient`: throttled, unreachable, 5xx. */
export class AssumeRoleError extends OperationError {
  readonly transient: boolean;
  constructor(message: string, transient: boolean) {
    super(message);
    this.name = "AssumeRoleError";
    this.transient = transient;
  }
}

/**
 * A credentials provider for one role: one AssumeRole answer shared by every client and caller,
 * kept until refreshMarginMs before it expires; concurrent askers share one pending call; a
 * failure is not kept (the next call asks again). `base`: the credentials that call STS.
 */
export function assumedRoleProvider(
  base: Config | undefined,
  spec: RoleSpec,
  clock: () => number = Date.now,
): () => Promise<TemporaryCredentials> {
  let current: TemporaryCredentials | undefined;
  let pending: Promise<TemporaryCredentials> | undefined;
  return () => {
    if (current && current.expiration.getTime() - refreshMarginMs > clock()) return Promise.resolve(current);
    pending ??= assume(base, spec).then(
      (credentials) => {
        current = credentials;
        pending = undefined;
        return credentials;
      },
      (error: unknown) => {
        pending = undefined;
        throw error;
      },
    );
    return pending;
  };
}

async function assume(base: Config | undefined, spec: RoleSpec): Promise<TemporaryCredentials> {
  const { AssumeRoleCommand } = sdk.sts();
  let answer: import("@aws-sdk/client-sts").AssumeRoleCommandOutput;
  try {
    answer = await awsClients(base, { region: spec.region }).sts.send(
      new AssumeRoleCommand({
        RoleArn: spec.role_arn,
        ExternalId: spec.external_id,
        RoleSessionName: spec.session_name,
        DurationSeconds: sessionSeconds,
      }),
    );
  } catch (error) {
    throw new AssumeRoleError(
      `assuming the IAM role ${spec.role_arn} (STS AssumeRole, session ${spec.session_name}) failed: ${awsMessage(error)}`,
      isTransient(error),
    );
  }
  const c = answer.Credentials;
  if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken || !c.Expiration) {
    throw new AssumeRoleError(`STS AssumeRole of ${spec.role_arn} answered without credentials`, true);
  }
  return {
    accessKeyId: c.AccessKeyId,
    secretAccessKey: c.SecretAccessKey,
    sessionToken: c.SessionToken,
    expiration: c.Expiration,
  };
}
