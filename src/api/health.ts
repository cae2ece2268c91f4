// Decides what GET /health answers, from the results of the individual checks and the drain flag.

export type CheckResult = { ok: true } | { ok: false; error: string };

export interface HealthReport {
  statusCode: 200 | 503;
  body: Record<string, unknown>;
}

export function healthReport(version: string, checks: Record<string, CheckResult>, draining: boolean): HealthReport {
  // Draining wins: the load balancer must stop sending traffic even while the database is fine.
  if (draining) return { statusCode: 503, body: { status: "draining", version } };
  const names = Object.keys(checks).sort();
  const failing = names.filter((name) => !checks[name].ok);
  const summary = Object.fromEntries(names.map((name) => [name, checks[name].ok ? "ok" : "fail"]));
  if (failing.length === 0) return { statusCode: 200, body: { status: "ok", version, checks: summary } };
  const errors = Object.fromEntries(
    failing.map((name) => {
      const result = checks[name];
      return [name, result.ok ? "" : result.error];
    }),
  );
  return { statusCode: 503, body: { status: "fail", version, checks: summary, failing, errors } };
}
