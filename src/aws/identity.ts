import type { Config } from "../config.js";
import { OperationError } from "../errors.js";
import { type AwsTarget, awsClients } from "./clients.js";
import { awsMessage, isTransient } from "./errors.js";
import { sdk } from "./sdk.js";

/**
 * STS could not say which account the credentials belong to. `transient`: throttled, unreachable
 * or a 5xx (worth trying again soon); otherwise AWS refused (bad or expired keys) or there are no
 * credentials at all. The message comes from awsMessage(): never a secret.
 */
export class AccountLookupError extends OperationError {
  readonly transient: boolean;
  constructor(message: string, transient: boolean) {
    super(message);
    this.name = "AccountLookupError";
    this.transient = transient;
  }
}

/**
 * The 12-digit id of the AWS account the credentials belong to, from STS GetCallerIdentity (which
 * any valid credentials may call: no IAM permission needed). The STS client comes from the same
 * factory as the others, so its endpoint too comes only from the standard variables.
 */
export async function callerAccount(credentials: Config | undefined, target: AwsTarget): Promise<string> {
  const { GetCallerIdentityCommand } = sdk.sts();
  let account: string | undefined;
  try {
    account = (await awsClients(credentials, target).sts.send(new GetCallerIdentityCommand({}))).Account;
  } catch (error) {
    throw new AccountLookupError(
      `finding the AWS account of the credentials (STS GetCallerIdentity) failed: ${awsMessage(error)}`,
      isTransient(error),
    );
  }
  if (!account) {
    throw new AccountLookupError("STS GetCallerIdentity answered without an account id", true);
  }
  return account;
}
