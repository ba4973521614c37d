/**
 * A client that keeps writing to etcd, to measure how long the cluster stops taking writes: one put
 * every `intervalMs` through etcd's v3 HTTP gateway (POST /v3/kv/put, what clientv3's Put is over
 * JSON), each write with its own deadline `timeoutMs`. Like clientv3 with several endpoints, a write
 * goes to the endpoint that took the last one and, when that one refuses or fails, to the next, until
 * one takes it or its deadline passes: a write fails only when no member took it in time.
 *
 * The figure is the longest gap between two acknowledged writes (end to end): how long a client saw
 * the cluster unwritable.
 */

export interface WriteResult {
  key: string;
  /** ms since the writer's origin (its start unless given). */
  start: number;
  end: number;
  ok: boolean;
  error?: string;
}

export interface Gap {
  ms: number;
  /** When the last acknowledged write before it ended, and the next one ended (ms since start). */
  from: number;
  to: number;
  /** Failed writes inside it. */
  failed: number;
}

export interface WriterReport {
  writes: WriteResult[];
  acknowledged: string[];
  failed: number;
  longest: Gap;
  /** Every gap longer than `threshold` passed to report(). */
  gaps: Gap[];
}

export class EtcdWriter {
  readonly writes: WriteResult[] = [];
  private running = true;
  private loop?: Promise<void>;
  private preferred = 0;
  private readonly started: number;
  private count = 0;

  constructor(
    /** The client URLs to try (read at each write: a replaced slot's name follows its instance). */
    readonly endpoints: () => string[],
    readonly options: { intervalMs: number; timeoutMs: number; prefix: string; origin?: number },
  ) {
    this.started = options.origin ?? Date.now();
  }

  start(): this {
    this.loop = (async () => {
      while (this.running) {
        const began = Date.now();
        await this.writeOne();
        const rest = this.options.intervalMs - (Date.now() - began);
        if (rest > 0) await new Promise((resolve) => setTimeout(resolve, rest));
      }
    })();
    return this;
  }

  private async writeOne(): Promise<void> {
    this.count += 1;
    const key = `${this.options.prefix}/${String(this.count).padStart(6, "0")}`;
    const start = Date.now();
    const deadline = start + this.options.timeoutMs;
    const urls = this.endpoints();
    const body = JSON.stringify({
      key: Buffer.from(key).toString("base64"),
      value: Buffer.from(`written at ${new Date(start).toISOString()}`).toString("base64"),
    });
    let error = "no endpoint";
    for (let tried = 0; tried < urls.length && Date.now() < deadline; tried++) {
      const index = (this.preferred + tried) % urls.length;
      try {
        const answer = await fetch(`${urls[index]}/v3/kv/put`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body,
          signal: AbortSignal.timeout(Math.max(1, deadline - Date.now())),
        });
        const text = await answer.text();
        // The gateway answers 200 with the response's header, or an error object (code, message).
        if (answer.ok && /"header"/.test(text) && !/"error"/.test(text)) {
          this.preferred = index;
          this.writes.push({ key, start: start - this.started, end: Date.now() - this.started, ok: true });
          return;
        }
        error = `${urls[index]}: HTTP ${answer.status} ${text.slice(0, 120)}`;
      } catch (caught) {
        const cause = (caught as { cause?: { code?: string } }).cause?.code;
        error = `${urls[index]}: ${(caught as Error).name}${cause ? ` ${cause}` : ""}`;
      }
    }
    this.preferred = (this.preferred + 1) % Math.max(1, urls.length);
    this.writes.push({ key, start: start - this.started, end: Date.now() - this.started, ok: false, error });
  }

  /** Stops writing (after the write under way) and reports. */
  async stop(threshold = Number.POSITIVE_INFINITY): Promise<WriterReport> {
    this.running = false;
    await this.loop;
    return report(this.writes, threshold);
  }
}

export function report(writes: WriteResult[], threshold = Number.POSITIVE_INFINITY): WriterReport {
  let last: WriteResult | undefined;
  let failedSince = 0;
  let longest: Gap = { ms: 0, from: 0, to: 0, failed: 0 };
  const gaps: Gap[] = [];
  for (const write of writes) {
    if (!write.ok) {
      failedSince += 1;
      continue;
    }
    if (last) {
      const gap = { ms: write.end - last.end, from: last.end, to: write.end, failed: failedSince };
      if (gap.ms > longest.ms) longest = gap;
      if (gap.ms > threshold) gaps.push(gap);
    }
    last = write;
    failedSince = 0;
  }
  // Failures to the end: the cluster was still unwritable when the writer stopped.
  const end = writes.at(-1);
  if (failedSince > 0 && end) {
    const gap = { ms: end.end - (last?.end ?? 0), from: last?.end ?? 0, to: end.end, failed: failedSince };
    if (gap.ms > longest.ms) longest = gap;
    if (gap.ms > threshold) gaps.push(gap);
  }
  return {
    writes,
    acknowledged: writes.filter((w) => w.ok).map((w) => w.key),
    failed: writes.filter((w) => !w.ok).length,
    longest,
    gaps,
  };
}
