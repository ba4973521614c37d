import type { ProgressEvent } from "../../lifecycle/types.js";
import { formatSeconds } from "./time.js";

const frames = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

export interface Progress {
  onEvent(event: ProgressEvent): void;
  /** Removes the spinner; call before printing the result. */
  stop(): void;
}

/**
 * Progress on stderr: one line per event, with the time since the command started. On a terminal
 * a spinner below the last line shows that the wait goes on (and for how long); elsewhere (logs, CI,
 * pipes) there is nothing but the lines.
 */
export function progressPrinter(out: NodeJS.WritableStream, isTTY: boolean, started = Date.now()): Progress {
  let frame = 0;
  let step = "";
  let spinnerShown = false;
  const clearSpinner = () => {
    if (spinnerShown) out.write("\r\u001b[K");
    spinnerShown = false;
  };
  const drawSpinner = () => {
    const elapsed = formatSeconds((Date.now() - started) / 1000);
    out.write(`\r\u001b[K${frames[frame % frames.length]} ${step || "working"} ${elapsed}`);
    frame += 1;
    spinnerShown = true;
  };
  const timer = isTTY ? setInterval(drawSpinner, 100) : undefined;
  timer?.unref();
  return {
    onEvent(event) {
      step = event.step;
      clearSpinner();
      out.write(`${progressLine(event)}\n`);
      if (isTTY) drawSpinner();
    },
    stop() {
      if (timer) clearInterval(timer);
      clearSpinner();
    },
  };
}

/** "[   1m02s] formation  VPC                     CREATE_COMPLETE" */
export function progressLine(event: ProgressEvent): string {
  const at = `[${formatSeconds(event.elapsed ?? 0).padStart(6)}]`;
  const step = event.step.padEnd(9);
  if (event.kind === "stack_event" && event.resource && event.status) {
    const reason = event.reason ? `  ${event.reason}` : "";
    return `${at} ${step}  ${event.resource.padEnd(30)} ${event.status}${reason}`;
  }
  const prefix = event.kind === "warning" ? "warning: " : "";
  return `${at} ${step}  ${prefix}${event.message}`;
}
