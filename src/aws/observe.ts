import { isThrottling } from "./errors.js";

/**
 * Every AWS API call the library makes, as it finishes (after the SDK's own retries): which
 * service and operation, how it ended and how long it took. The server's metrics listen
 * (server/metrics.ts); nothing listens in the CLI, where a call then costs one empty loop.
 */
export interface AwsCall {
  service: string;
  operation: string;
  outcome: "success" | "throttled" | "error";
  seconds: number;
}

const listeners = new Set<(call: AwsCall) => void>();

/** Calls `listener` for every AWS call of this process; returns the function that stops it. */
export function onAwsCall(listener: (call: AwsCall) => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

interface Observable {
  middlewareStack: {
    add(
      middleware: (
        next: (args: unknown) => Promise<unknown>,
        context: { commandName?: string },
      ) => (args: unknown) => Promise<unknown>,
      options: { step: "initialize"; name: string },
    ): void;
  };
}

/** Adds the observing middleware to an SDK v3 client (its first step: one call, retries inside). */
export function observed<T>(client: T, service: string): T {
  (client as Observable).middlewareStack.add(
    (next, context) => async (args) => {
      const started = performance.now();
      const operation = (context.commandName ?? "unknown").replace(/Command$/, "");
      const emit = (outcome: AwsCall["outcome"]) => {
        const call = { service, operation, outcome, seconds: (performance.now() - started) / 1000 };
        for (const listener of listeners) listener(call);
      };
      try {
        const output = await next(args);
        emit("success");
        return output;
      } catch (error) {
        emit(isThrottling(error) ? "throttled" : "error");
        throw error;
      }
    },
    { step: "initialize", name: "pandaclusterObserve" },
  );
  return client;
}
