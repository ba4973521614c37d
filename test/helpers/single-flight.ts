/**
 * One call in flight per key, its answer shared by every caller that asks meanwhile and reused for a
 * short moment after it came. For the harness's stand-ins that answer a node's request by asking moto
 * (the metadata service, the VPC resolver): AWS answers those from local state at once, the stand-in
 * takes a moto round trip, and under load that round trip outlasts the node's own timeout — the node
 * retries while the first call is still queued, and the queue grows without bound (seen beside
 * another CI run: thousands of queued Route 53 calls, then a 300 s test timeout).
 */
export function singleFlight<T>(
  freshForMs: number,
  fetch: (key: string) => Promise<T>,
): (key: string) => Promise<T> {
  const entries = new Map<string, { at: number; answer: Promise<T> }>();
  return (key) => {
    const known = entries.get(key);
    // `at` is infinite while the call is in flight: it is shared whatever its age.
    if (known && Date.now() - known.at < freshForMs) return known.answer;
    const entry = { at: Number.POSITIVE_INFINITY, answer: fetch(key) };
    entries.set(key, entry);
    entry.answer.then(
      () => {
        entry.at = Date.now();
      },
      () => {
        if (entries.get(key) === entry) entries.delete(key);
      },
    );
    return entry.answer;
  };
}
