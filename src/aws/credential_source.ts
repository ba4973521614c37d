/**
 * Credentials that are neither keys in a config nor the standard chain: a provider (an assumed
 * role's, role_credentials.ts) bound to one credentials object. The library's `credentials`
 * argument keeps its file shape (Config); the server binds a provider to the object it passes,
 * and the client factory (clients.ts) signs with it. A WeakMap: the binding goes with the object.
 */
import type { Config } from "../config.js";

export type CredentialProvider = () => Promise<{
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  expiration?: Date;
}>;

const providers = new WeakMap<Config, CredentialProvider>();

/** Every AWS client made for `config` signs with `provider`'s credentials. Returns `config`. */
export function bindCredentialProvider(config: Config, provider: CredentialProvider): Config {
  providers.set(config, provider);
  return config;
}

export function credentialProviderOf(config: Config | undefined): CredentialProvider | undefined {
  return config ? providers.get(config) : undefined;
}
