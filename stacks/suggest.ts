// "Did you mean …?" for unknown config keys. Pure and small: an edit distance over the valid sibling
// keys, with a threshold so that an unrelated name gets no suggestion at all.

/**
 * Optimal-string-alignment distance (Levenshtein plus transposition of two adjacent characters), so
 * `replicsa` is one edit from `replicas`, like `replicaz`.
 */
export function editDistance(a: string, b: string): number {
  if (a === b) return 0;
  let prev2: number[] = [];
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, prev2[j - 2]! + 1);
      row.push(d);
    }
    prev2 = prev;
    prev = row;
  }
  return prev[b.length]!;
}

/** Case, `_` and `-` do not count: `drain_timeout_ms` and `DrainTimeoutMs` both mean `drainTimeoutMs`. */
export function normalizeKey(key: string): string {
  return key.toLowerCase().replace(/[-_]/g, "");
}

/**
 * The candidate closest to `name`, or undefined when none is close enough: at most 40% of the longer
 * name's characters may differ (at least one), so `replicaz` → `replicas` and
 * `drainTimeoutSeconds` → `drainTimeoutMs`, but `colour` suggests nothing. Ties go to the earlier
 * candidate (schema order).
 */
export function closestKey(name: string, candidates: readonly string[]): string | undefined {
  const n = normalizeKey(name);
  let best: { key: string; d: number } | undefined;
  for (const key of candidates) {
    const c = normalizeKey(key);
    const d = editDistance(n, c);
    const allowed = Math.max(1, Math.floor(0.4 * Math.max(n.length, c.length)));
    if (d <= allowed && (best === undefined || d < best.d)) best = { key, d };
  }
  return best?.key;
}
