/**
 * A small Server-Sent Events reader for the tests, written apart from the CLI's (src/cli/remote/),
 * so that the server's stream is checked by an independent reading of the format.
 */

export interface SseFrame {
  id?: string;
  event: string;
  data: string;
  /** When the frame arrived (Date.now()). */
  at: number;
}

export interface SseRead {
  status: number;
  contentType: string;
  frames: SseFrame[];
  /** Comment lines (": heartbeat"). */
  comments: number;
  /** Resolves when the server ends the stream. */
  ended: Promise<void>;
  close(): void;
}

/** Opens the stream and reads frames as they come; `onFrame` sees each one. */
export async function readEvents(
  url: string,
  headers: Record<string, string>,
  onFrame: (frame: SseFrame) => void = () => {},
): Promise<SseRead> {
  const controller = new AbortController();
  const answer = await fetch(url, {
    headers: { ...headers, accept: "text/event-stream" },
    signal: controller.signal,
  });
  const read: SseRead = {
    status: answer.status,
    contentType: answer.headers.get("content-type") ?? "",
    frames: [],
    comments: 0,
    ended: Promise.resolve(),
    close: () => controller.abort(),
  };
  if (!answer.body) return read;
  const reader = answer.body.getReader();
  const decoder = new TextDecoder();
  read.ended = (async () => {
    let buffer = "";
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buffer += decoder.decode(value, { stream: true });
        let cut = buffer.indexOf("\n\n");
        while (cut >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          cut = buffer.indexOf("\n\n");
          const frame: SseFrame = { event: "message", data: "", at: Date.now() };
          let fields = 0;
          for (const line of block.split("\n")) {
            if (line.startsWith(":")) {
              read.comments += 1;
              continue;
            }
            const colon = line.indexOf(":");
            const name = colon < 0 ? line : line.slice(0, colon);
            const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
            if (name === "id") frame.id = value;
            else if (name === "event") frame.event = value;
            else if (name === "data") frame.data += frame.data ? `\n${value}` : value;
            else continue;
            fields += 1;
          }
          if (fields > 0 && (frame.data || frame.id)) {
            read.frames.push(frame);
            onFrame(frame);
          }
        }
      }
    } catch (error) {
      if (!controller.signal.aborted) throw error;
    }
  })();
  return read;
}
