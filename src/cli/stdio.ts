import { writeSync } from "node:fs";

/**
 * The CLI's stderr: lines written straight to the descriptor with fs.writeSync, and process.stderr
 * (which every other use, such as isTTY or on(), gets) made only when it is needed. Making
 * process.stderr on a pipe loads node:net and its stream machinery: about 2 ms of a command that
 * prints one line (build-template, issue 18). Node writes stderr synchronously anyway (files, pipes,
 * terminals on Linux), so the lines and their order are what process.stderr.write gives.
 *
 * A descriptor left non-blocking by another process answers EAGAIN when its pipe is full, and a
 * closed pipe EPIPE: from then on, everything goes to `fallback()` (process.stderr), which queues or
 * reports as it always did; the part of a line already written is not written again.
 */
export function directWriter(fd: number, fallback: () => NodeJS.WritableStream): NodeJS.WritableStream {
  let handedOver = false;
  const write = (
    chunk: string | Uint8Array,
    encodingOrCallback?: BufferEncoding | ((error?: Error | null) => void),
    callback?: (error?: Error | null) => void,
  ): boolean => {
    const encoding = typeof encodingOrCallback === "string" ? encodingOrCallback : undefined;
    const done = typeof encodingOrCallback === "function" ? encodingOrCallback : callback;
    if (handedOver || (encoding !== undefined && encoding !== "utf8" && encoding !== "utf-8")) {
      handedOver = true;
      return fallback().write(chunk, done);
    }
    const data = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
    let offset = 0;
    try {
      while (offset < data.length) offset += writeSync(fd, data, offset, data.length - offset);
    } catch {
      handedOver = true;
      return fallback().write(data.subarray(offset), done);
    }
    if (done) process.nextTick(done);
    return true;
  };
  // Anything but write() is the real stream's (made on first use).
  return new Proxy({ write } as unknown as NodeJS.WritableStream, {
    get(_target, key) {
      if (key === "write") return write;
      const real = fallback() as unknown as Record<PropertyKey, unknown>;
      const value = real[key];
      return typeof value === "function" ? value.bind(real) : value;
    },
    has(_target, key) {
      return key in fallback();
    },
  }) as NodeJS.WritableStream;
}
