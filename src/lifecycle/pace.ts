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

/** Thrown by within() when the deadline comes before the answer. */
export class DeadlineReached extends Error {
  constructor() {
    super("deadline reached");
    this.name = "DeadlineReached";
  }
}

/**
 * Awaits a call to AWS, but stops waiting for it at the deadline (DeadlineReached) or as soon as the
 * signal aborts (Aborted): a call that hangs (a lost endpoint that accepts and never answers) must
 * not hold a Ctrl-C or the --timeout hostage for the SDK's own minutes of retries.
 */
export function within<T>(promise: Promise<T>, deadline: number, signal?: AbortSignal): Promise<T> {
  if (signal?.aborted) return Promise.reject(new Aborted());
  return new Promise<T>((resolve, reject) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    };
    const onAbort = () => {
      done();
      reject(new Aborted());
    };
    const timer = setTimeout(
      () => {
        done();
        reject(new DeadlineReached());
      },
      Math.max(0, deadline - Date.now()),
    );
    signal?.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        done();
        resolve(value);
      },
      (error: unknown) => {
        done();
        reject(error);
      },
    );
  });
}

/**
 * Says so while AWS gives no answer: every `everyMs` (30 s by default) without a successful call,
 * note(silentMs) is called, also while a call hangs. answered() marks an answer; stop() ends it.
 */
export function silenceWatch(note: (silentMs: number) => void, everyMs = 30_000) {
  let lastAnswer = Date.now();
  let lastNote = lastAnswer;
  const timer = setInterval(
    () => {
      const now = Date.now();
      if (now - lastAnswer >= everyMs && now - lastNote >= everyMs) {
        lastNote = now;
        note(now - lastAnswer);
      }
    },
    Math.max(10, Math.min(1_000, everyMs / 4)),
  );
  timer.unref();
  return {
    answered() {
      lastAnswer = Date.now();
      lastNote = lastAnswer;
    },
    stop: () => clearInterval(timer),
  };
}
