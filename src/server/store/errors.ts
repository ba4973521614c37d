/**
 * Whether a store error means "the database cannot be reached or cannot take writes now" (the
 * request or the job may succeed later), as opposed to a fault in the request or in the code.
 * PostgreSQL: connection refused, reset or timed out, the server shutting down or starting
 * (SQLSTATE class 08 and 57P01–57P03), a session ended for idling in a transaction (25P03, 57P05),
 * too many connections (53300), a pool connection cut.
 * SQLite: the file busy, locked, unreadable, full or read-only, or the connection closed.
 */
const networkCodes = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
]);
const postgresStates = new Set(["57P01", "57P02", "57P03", "57P05", "25P03", "53300", "53400"]);
const sqliteCodes = /^SQLITE_(BUSY|LOCKED|IOERR|FULL|CANTOPEN|READONLY|PROTOCOL)/;
const messages =
  /Connection terminated|connection error|timeout exceeded when trying to connect|The database connection is not open|Cannot use a pool after calling end/i;

export function isStoreUnavailable(error: unknown): boolean {
  if (error instanceof AggregateError) return error.errors.some(isStoreUnavailable);
  if (typeof error !== "object" || error === null) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === "string") {
    if (networkCodes.has(code) || postgresStates.has(code) || code.startsWith("08") || sqliteCodes.test(code))
      return true;
  }
  const message = (error as { message?: unknown }).message;
  return typeof message === "string" && messages.test(message);
}

/** A job's store write that could not be made before its lease ran out (the store was down). */
export class StoreDownError extends Error {
  constructor(what: string, cause: unknown) {
    super(
      `the store did not take ${what} before the job's lease ran out: ${(cause as Error)?.message ?? cause}`,
      {
        cause,
      },
    );
    this.name = "StoreDownError";
  }
}
