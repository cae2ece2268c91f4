// Parses the `ms` parameter of /slow, the endpoint drain tests use to hold a request open.

export const SLOW_MAX_MS = 10_000;
export const SLOW_DEFAULT_MS = 1_000;

export type SlowMs = { ok: true; ms: number } | { ok: false; error: string };

/** Whole milliseconds, capped at SLOW_MAX_MS; missing means SLOW_DEFAULT_MS. */
export function parseSlowMs(raw: unknown): SlowMs {
  if (raw === undefined || raw === "") return { ok: true, ms: SLOW_DEFAULT_MS };
  const text = Array.isArray(raw) ? raw[raw.length - 1] : raw;
  if (typeof text !== "string" || !/^\d+$/.test(text.trim())) {
    return { ok: false, error: `ms must be a non-negative integer number of milliseconds, got ${JSON.stringify(text)}` };
  }
  return { ok: true, ms: Math.min(Number(text.trim()), SLOW_MAX_MS) };
}
