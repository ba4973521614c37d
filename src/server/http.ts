/** An answer other than success: its status, a few words, and one message per field or reason. */
export class HttpError extends Error {
  readonly statusCode: number;
  readonly messages: string[];
  readonly headers: Record<string, string>;

  constructor(
    statusCode: number,
    error: string,
    messages: string[] = [],
    headers: Record<string, string> = {},
  ) {
    super(error);
    this.name = "HttpError";
    this.statusCode = statusCode;
    this.messages = messages;
    this.headers = headers;
  }

  /**
   * The answer's body. Besides the messages, `problems` names the field of each message that is
   * about one ("cluster_size: must be at most 12" → field cluster_size), so a form can show it
   * beside its input without parsing text.
   */
  body(): { error: string; messages: string[]; problems: Problem[] } {
    return { error: this.message, messages: this.messages, problems: this.messages.map(problemOf) };
  }
}

/** One message of an error answer, and the field (request body or query name, or header) it is about. */
export interface Problem {
  field: string | null;
  message: string;
}

/** Every message about one field starts with the field's name and ": " (units[0].content: …). */
const fieldPrefix = /^([A-Za-z_][\w-]*(?:\[\d+\]|\.[A-Za-z_]\w*)*): ([\s\S]*)$/;

export function problemOf(message: string): Problem {
  const match = fieldPrefix.exec(message);
  return match ? { field: match[1] as string, message: match[2] as string } : { field: null, message };
}

/** A discovery service URL as compared with the allowed ones: no trailing slash. */
export function normaliseService(url: string): string {
  return url.trim().replace(/\/+$/, "");
}
