import { bindCredentialProvider } from "../aws/credential_source.js";
import { assumedRoleProvider, roleAccount, sessionNameFor } from "../aws/role_credentials.js";
import type { Config } from "../config.js";
import type { SecretBox } from "./crypto.js";
import type { Engine } from "./engine.js";
import type { ProfileRecord, Store } from "./store/types.js";

/** What Accounts needs to learn (and remember) account ids. */
export interface AccountLookup {
  engine: Pick<Engine, "accountId">;
  store: Pick<Store, "getSetting" | "setSettingOnce">;
}

/** The settings key that remembers an access key id's account. */
const settingFor = (credentialsKey: string) => `aws_account_of:${credentialsKey}`;

/**
 * Which AWS credentials a profile's clusters use: an IAM role's (STS AssumeRole with the profile's
 * external id, asked with the server's own credentials), or the profile's keys (sealed in the
 * store, opened only here, in memory, when a job needs them), else the server's: its config file's, else its
 * standard credential chain (environment, shared profile, instance role). And which AWS account
 * those credentials belong to.
 */
export class Accounts {
  readonly #base: Config;
  readonly #box: SecretBox;
  readonly #lookup: AccountLookup;
  /** One credentials object per profile: the library caches its AWS clients per object. */
  readonly #cache = new Map<number, { key: string; config: Config }>();
  /** Account id by credentials key (credentialsKeyOf); a pending lookup is shared by its askers. */
  readonly #accountIds = new Map<string, Promise<string>>();
  /** The server's own credentials, one object, for STS AssumeRole (its clients are cached per object). */
  readonly #stsCaller: Config;

  constructor(base: Config, box: SecretBox, lookup: AccountLookup) {
    this.#base = base;
    this.#stsCaller = { ...base };
    this.#box = box;
    this.#lookup = lookup;
  }

  /** The library's `credentials` argument for this profile (the same object each time). */
  credentialsFor(profile: ProfileRecord): Config {
    const key = JSON.stringify([
      profile.name,
      profile.aws_id,
      profile.aws_secret_sealed,
      profile.aws_region,
      profile.public_keys,
      profile.role_arn,
      profile.external_id,
    ]);
    const cached = this.#cache.get(profile.id);
    if (cached?.key === key) return cached.config;
    const config = this.#build(profile);
    this.#cache.set(profile.id, { key, config });
    return config;
  }

  #build(profile: ProfileRecord): Config {
    const config: Config = { ...this.#base };
    if (profile.role_arn && profile.external_id) {
      // The role's temporary credentials, never the server's keys, sign the profile's calls.
      const region = profile.aws_region ?? this.#base.aws?.region;
      config.aws = region ? { region } : {};
      bindCredentialProvider(
        config,
        assumedRoleProvider(this.#stsCaller, {
          role_arn: profile.role_arn,
          external_id: profile.external_id,
          session_name: sessionNameFor(profile.name),
          region: region ?? process.env.AWS_REGION ?? "us-east-1",
        }),
      );
    } else if (profile.aws_id && profile.aws_secret_sealed) {
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
   * Which credentials a profile's calls are signed with, without any secret: "key:" and the
   * access key id (the profile's, else the server config's), or "server" for the server's
   * credential chain. Profiles with the same key see the same stacks (the poller batches them).
   */
  credentialsKeyOf(profile: ProfileRecord): string {
    // The external id too: two profiles naming one role with different ids are different
    // callers (one of them may be refused), and must not share one poller's credentials.
    if (profile.role_arn) return `role:${profile.role_arn}:${profile.external_id ?? ""}`;
    if (profile.aws_id && profile.aws_secret_sealed) return `key:${profile.aws_id}`;
    const base = this.#base.aws;
    return base?.id && base.secret ? `key:${base.id}` : "server";
  }

  /**
   * The AWS account a profile's clusters live in, as "aws:" and its 12-digit id: stack names are
   * unique per account and region, and so are active cluster names here, whichever profile or
   * access key asks. STS is asked once per distinct credentials: the answer is kept in memory and,
   * for an access key, in the store's settings too (a key id belongs to one account for ever, so
   * a restart need not ask again). The server's credential chain is asked again after a restart:
   * its environment or role may have changed. `region`: whose STS endpoint to ask.
   *
   * When STS cannot answer, this throws (AccountLookupError) and the caller refuses the request
   * (502, or 503 when it may work soon) rather than falling back to the key id: a cluster recorded
   * under a key id would never match the same account's other clusters, so the duplicate that the
   * 409 rule exists to catch would slip through for that cluster's whole life, and fail late in
   * CreateStack. Refusing costs the caller one retry; nothing is recorded or created.
   */
  accountOf(profile: ProfileRecord, region: string): Promise<string> {
    // A role's credentials act in the account that owns the role, which its ARN names: no STS call
    // here, so a role that cannot be assumed fails the job (with AWS's reason), not the request.
    const owner = profile.role_arn ? roleAccount(profile.role_arn) : undefined;
    if (owner) return Promise.resolve(`aws:${owner}`);
    const who = this.credentialsKeyOf(profile);
    let pending = this.#accountIds.get(who);
    if (!pending) {
      const lookup = this.#resolve(who, profile, region);
      pending = lookup;
      this.#accountIds.set(who, lookup);
      // A failure is not remembered: the next request asks again.
      lookup.catch(() => {
        if (this.#accountIds.get(who) === lookup) this.#accountIds.delete(who);
      });
    }
    return pending.then((id) => `aws:${id}`);
  }

  async #resolve(who: string, profile: ProfileRecord, region: string): Promise<string> {
    const { engine, store } = this.#lookup;
    const remembered = who.startsWith("key:");
    let id = remembered ? await store.getSetting(settingFor(who)) : undefined;
    if (!id) {
      id = await engine.accountId(this.credentialsFor(profile), region);
      if (remembered) id = await store.setSettingOnce(settingFor(who), id);
    }
    return id;
  }
}
