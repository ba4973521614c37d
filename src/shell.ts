/** Characters that need no quoting in a POSIX shell word. */
const safe = /^[A-Za-z0-9_@%+=:,./-]+$/;

/**
 * A value as one shell argument, for the commands our hints print: a name with spaces, quotes or
 * `<`, `>`, `;`, `$` (names come from users, and the server's from anyone) is single-quoted, so
 * that pasting the hint runs what it says and nothing else.
 */
export function shellQuote(value: string): string {
  if (safe.test(value)) return value;
  return `'${value.replaceAll("'", `'\\''`)}'`;
}
