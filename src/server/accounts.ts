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
  /** One credentials object per profile: the library caches its AWS clients per object. */
  readonly #cache = new Map<number, { key: string; config: Config }>();

  constructor(base: Config, box: SecretBox) {
    this.#base = base;
    this.#box = box;
  }

  /** The library's `credentials` argument for this profile (the same object each time). */
  credentialsFor(profile: ProfileRecord): Config {
    const key = JSON.stringify([
      profile.name,
      profile.aws_id,
      profile.aws_secret_sealed,
      profile.aws_region,
      profile.public_keys,
    ]);
    const cached = this.#cache.get(profile.id);
    if (cached?.key === key) return cached.config;
    const config = this.#build(profile);
    this.#cache.set(profile.id, { key, config });
    return config;
  }

  #build(profile: ProfileRecord): Config {
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
