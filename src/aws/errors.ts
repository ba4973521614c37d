import { OperationError, PandaError, UsageError } from "../errors.js";
import { sdk } from "./sdk.js";

interface AwsLikeError {
  name?: string;
  message?: string;
  code?: string;
  /** Node's DNS errors carry the name that did not resolve. */
  hostname?: string;
  $metadata?: { httpStatusCode?: number };
  $retryable?: { throttling?: boolean };
}

const networkCodes = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  "TimeoutError",
  "RequestTimeout",
]);

const throttlingNames = new Set([
  "Throttling",
  "ThrottlingException",
  "ThrottledException",
  "RequestThrottled",
  "RequestThrottledException",
  "TooManyRequestsException",
  "RequestLimitExceeded",
  "PriorRequestNotComplete",
  "SlowDown",
]);

/** AWS said "Rate exceeded" (or one of its other ways of saying slow down). */
export function isThrottling(error: unknown): boolean {
  const e = error as AwsLikeError;
  return (
    throttlingNames.has(e.name ?? "") ||
    e.$retryable?.throttling === true ||
    e.$metadata?.httpStatusCode === 429 ||
    /rate exceeded/i.test(e.message ?? "")
  );
}

/** The connection failed or timed out: nothing AWS decided, worth trying again later. */
export function isNetworkError(error: unknown): boolean {
  const e = error as AwsLikeError;
  if (regionWithoutEndpoint(error)) return false;
  return networkCodes.has(e.code ?? "") || networkCodes.has(e.name ?? "") || isServerError(e);
}

/** A regional AWS endpoint: service.region.amazonaws.com (or .com.cn in China). */
const regionalHost = /^[a-z0-9-]+\.([a-z]{2}(?:-[a-z]+)+-\d+)\.amazonaws\.com(?:\.cn)?$/;

/**
 * The region of an endpoint that does not exist: the DNS found no service.REGION.amazonaws.com
 * (ENOTFOUND) and the region is in none of the SDK's partitions. A region that matches the pattern
 * but is made up (xx-nowhere-9) ends here, not in an AWS answer. A region the SDK knows stays a
 * network error: some resolvers answer ENOTFOUND for every name when there is no network.
 */
export function regionWithoutEndpoint(error: unknown): { region: string; host: string } | undefined {
  const e = error as AwsLikeError | undefined;
  if (e?.code !== "ENOTFOUND") return undefined;
  const host = e.hostname ?? /ENOTFOUND (\S+)/.exec(e.message ?? "")?.[1] ?? "";
  const region = regionalHost.exec(host)?.[1];
  if (!region || isKnownRegion(region)) return undefined;
  return { region, host };
}

function isKnownRegion(region: string): boolean {
  return (sdk.partitions().partition(region) as { description?: string }).description !== undefined;
}

function isServerError(e: AwsLikeError): boolean {
  const status = e.$metadata?.httpStatusCode;
  return status !== undefined && status >= 500;
}

/** A failure a polling loop waits out rather than reports: throttling, network, 5xx. */
export function isTransient(error: unknown): boolean {
  return isThrottling(error) || isNetworkError(error);
}

/**
 * isTransient for an error or any error it was made from (its `cause` chain, as awsFailure keeps
 * it): "listing the instances failed: cannot reach AWS" is as transient as the socket error under it.
 */
export function isTransientFailure(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 8 && current; depth++) {
    if (isTransient(current)) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

/**
 * What an AWS error says, in words for a person. Never includes credentials: the SDK's messages
 * name the operation and the problem, and for missing credentials we say where they can come from.
 */
export function awsMessage(error: unknown): string {
  const e = error as AwsLikeError;
  const nowhere = regionWithoutEndpoint(error);
  if (nowhere) {
    return (
      `region ${nowhere.region}: AWS has no endpoint there (${nowhere.host} does not resolve, ` +
      "and the region is in none of the AWS SDK's partitions); " +
      "check --region (-r), aws.region in ~/.pandacluster.cson or AWS_REGION"
    );
  }
  if (e.name === "CredentialsProviderError" || /could not load credentials/i.test(e.message ?? "")) {
    return (
      "no AWS credentials found: put aws: {id, secret} in ~/.pandacluster.cson, or use --profile, " +
      "AWS_PROFILE, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or `aws sso login`"
    );
  }
  if (isNetworkError(error) && !isServerError(e)) {
    return `cannot reach AWS (${e.message ?? e.code ?? e.name}); check the network, the region, and AWS_ENDPOINT_URL if set`;
  }
  const message = e.message && e.message !== "UnknownError" ? e.message : (e.name ?? String(error));
  return e.name && !message.includes(e.name) && e.name !== "Error" ? `${e.name}: ${message}` : message;
}

/**
 * Turns any AWS failure into an OperationError that says what was being done. Ours pass through.
 * A region with no AWS endpoint is bad input (exit 2), not a failed operation.
 */
export function awsFailure(doing: string, error: unknown): PandaError {
  if (error instanceof PandaError) return error;
  if (regionWithoutEndpoint(error)) return new UsageError(awsMessage(error));
  return new OperationError(`${doing} failed: ${awsMessage(error)}`, [], { cause: error });
}
