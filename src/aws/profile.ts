import { UsageError } from "../errors.js";
import { sdk } from "./sdk.js";

/**
 * A named profile must exist in the shared config or credentials file before any AWS call: the SDK
 * would otherwise print a long warning and end in "no credentials", which hides the typo. The files
 * are read by the SDK's own loader, so a profile it would find is found here too.
 */
export async function assertProfileExists(profile: string): Promise<void> {
  const { loadSharedConfigFiles } = sdk.sharedFiles();
  const { configFile, credentialsFile } = await loadSharedConfigFiles({ ignoreCache: true });
  if (Object.hasOwn(configFile, profile) || Object.hasOwn(credentialsFile, profile)) return;
  throw new UsageError([
    {
      argument: "--profile",
      message:
        `AWS profile "${profile}" does not exist in the shared config/credentials files ` +
        `(${where("AWS_CONFIG_FILE", "~/.aws/config")}, ` +
        `${where("AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials")})`,
    },
  ]);
}

/** The file the SDK reads: the variable's value when set, else the default path. */
function where(variable: string, fallback: string): string {
  const value = process.env[variable];
  return value ? `${variable}=${value}` : `${variable} or ${fallback}`;
}
