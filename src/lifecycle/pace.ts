/**
 * The pace of a polling loop: pauses start short, grow while nothing happens, are jittered so that
 * many waiters do not call AWS in step, and drop back to short as soon as something happens.
 */
export class Pace {
  private current: number;
  constructor(
    private readonly initialMs = 2_000,
    private readonly maxMs = 15_000,
  ) {
    this.current = initialMs;
  }

  /** Something happened: poll soon again. */
  reset(): void {
    this.current = this.initialMs;
  }

  /** Nothing happened (or AWS asked us to slow down): wait longer next time. */
  slower(factor = 1.6): void {
    this.current = Math.min(this.maxMs, this.current * factor);
  }

  /** The next pause: the current one ±20 %. */
  next(): number {
    return Math.round(this.current * (0.8 + Math.random() * 0.4));
  }
}

/** Thrown by pause() when the signal aborts it; flows turn it into an InterruptedError that says more. */
export class Aborted extends Error {
  constructor() {
    super("aborted");
    this.name = "Aborted";
  }
}

/** Waits ms milliseconds, or rejects with Aborted as soon as the signal fires. */
export function pause(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(new Aborted());
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(new Aborted());
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
