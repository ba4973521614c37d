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

  body(): { error: string; messages: string[] } {
    return { error: this.message, messages: this.messages };
  }
}

/** A discovery service URL as compared with the allowed ones: no trailing slash. */
export function normaliseService(url: string): string {
  return url.trim().replace(/\/+$/, "");
}
