import { type AwsClients, awsClients, resolveRegion } from "../aws/clients.js";
import type { Config } from "../config.js";
import type { Hooks, ProgressEvent, Step } from "./types.js";

/** What every step of one flow shares: where it works, its clients, its clock and its listener. */
export interface Session {
  credentials: Config | undefined;
  region: string;
  profile?: string;
  clients: AwsClients;
  hooks: Hooks;
  /** Date.now() when the flow started. */
  started: number;
  emit(step: Step, message: string, extra?: Partial<ProgressEvent>): void;
  /** Seconds since the flow started, to one decimal. */
  elapsed(): number;
}

export async function openSession(
  credentials: Config | undefined,
  target: { region?: string; profile?: string },
  hooks: Hooks = {},
): Promise<Session> {
  const started = Date.now();
  const region = await resolveRegion(credentials, target);
  const clients = awsClients(credentials, target.profile ? { region, profile: target.profile } : { region });
  const elapsed = () => Math.round((Date.now() - started) / 100) / 10;
  const session: Session = {
    credentials,
    region,
    clients,
    hooks,
    started,
    elapsed,
    emit(step, message, extra = {}) {
      if (!hooks.onEvent) return;
      const event: ProgressEvent = { time: new Date().toISOString(), step, message, kind: "step", ...extra };
      event.elapsed = elapsed();
      // A listener that throws must not break the flow it listens to.
      try {
        hooks.onEvent(event);
      } catch {}
    },
  };
  if (target.profile) session.profile = target.profile;
  return session;
}

/** Seconds between two Date.now() readings, to one decimal. */
export function seconds(from: number, to: number = Date.now()): number {
  return Math.round((to - from) / 100) / 10;
}
