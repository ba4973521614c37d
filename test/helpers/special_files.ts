import { execFileSync, spawn } from "node:child_process";
import { join } from "node:path";

/**
 * A reader on a FIFO in another process (`cat`, as a person would use). text() gives what it read
 * once the writer closed the FIFO; if nothing wrote to it within the grace time (the FIFO was
 * replaced by a file, say), the reader is stopped and text() rejects, so a test fails, not hangs.
 */
export function fifoReader(path: string, graceMs = 5_000): { text(): Promise<string> } {
  const cat = spawn("cat", [path]);
  let read = "";
  cat.stdout.on("data", (chunk: Buffer) => {
    read += chunk.toString();
  });
  const closed = new Promise<number | null>((done) => cat.on("close", done));
  return {
    async text() {
      const timer = setTimeout(() => cat.kill("SIGKILL"), graceMs);
      const code = await closed;
      clearTimeout(timer);
      if (code !== 0) throw new Error(`nothing was written to the FIFO ${path} (its reader was stopped)`);
      return read;
    },
  };
}

/**
 * A character device to write to in a test: as root, a private node for the same device (mknod in
 * the test's folder), so that a build which wrongly replaced the node could never replace the
 * machine's own /dev/full or /dev/null; as any other user, the real one (which only root could
 * replace).
 */
export function charDevice(dir: string, name: "full" | "null"): string {
  if (process.getuid?.() !== 0) return `/dev/${name}`;
  const path = join(dir, name);
  execFileSync("mknod", ["-m", "666", path, "c", "1", name === "full" ? "7" : "3"]);
  return path;
}
