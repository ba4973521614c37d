import type { Config } from "../config.js";
import type { SecretBox } from "./crypto.js";
import type { ProfileRecord } from "./store/types.js";

/**
 * Which AWS credentials a profile's clusters use: the profile's own (sealed in the store, opened
 * only here, in memory, when a job needs them), else the server's: its config file's, else its
 * standard credential chain (environment, shared profile, instance role).
 */
export class Accounts {
  readonly #base: Config;
  readonly #box: SecretBox;

  constructor(base: Config, box: SecretBox) {
    this.#base = base;
    this.#box = box;
  }

  /** The library's `credentials` argument for this profile. */
  credentialsFor(profile: ProfileRecord): Config {
    const config: Config = { ...this.#base };
    if (profile.aws_id && profile.aws_secret_sealed) {
      config.aws = {
        id: profile.aws_id,
        secret: this.#box.open(profile.aws_secret_sealed, profile.name),
        ...(profile.aws_region ? { region: profile.aws_region } : {}),
      };
    } else if (profile.aws_region) {
      config.aws = { ...this.#base.aws, region: profile.aws_region };
    }
    if (profile.public_keys) config.public_keys = profile.public_keys;
    return config;
  }

  /** The server's own configuration (for routes called with the admin token). */
  baseCredentials(): Config {
    return { ...this.#base };
  }

  /**
   * A name for the AWS account a profile's clusters live in, as far as the server can tell without
   * asking AWS: the access key id when one is configured, else the server's credential chain.
   * Stack names are unique per account and region, and so are active cluster names here.
   */
  accountOf(profile: ProfileRecord): string {
    const id = profile.aws_id ?? this.#base.aws?.id;
    return id ? `key:${id}` : "server";
  }
}
