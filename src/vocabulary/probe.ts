// The API image's readiness probe, as Docker's health check runs it (src/api/healthcheck.sh, plain bash: it runs every
// second in every replica). The probe's own request timeout sits inside Docker's, so a slow answer is reported (the
// health log says why), not killed.
export const API_PROBE_SCRIPT = "dist/api/healthcheck.sh";

/** The health check's test for `path` within Docker's `timeoutMs`. */
export function apiProbe(path: string, timeoutMs: number): string[] {
  return ["CMD", "bash", API_PROBE_SCRIPT, path, String(Math.max(1000, timeoutMs - 500))];
}
