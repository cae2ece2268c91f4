// Polls until a check says done or a deadline passes. One idea: the check returns a value to stop with, or
// undefined to keep going; it may throw to stop at once (e.g. the container exited).

export async function pollUntil<T>(
  check: () => Promise<T | undefined>,
  opts: { timeoutMs: number; intervalMs?: number; onTimeout: () => Error },
): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs;
  const interval = opts.intervalMs ?? 250;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() >= deadline) throw opts.onTimeout();
    await sleep(Math.min(interval, Math.max(0, deadline - Date.now())));
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Seconds since `start` (a Date.now() value), one decimal: "1.2s". */
export function since(start: number): string {
  return `${((Date.now() - start) / 1000).toFixed(1)}s`;
}
