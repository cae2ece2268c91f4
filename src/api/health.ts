// Decides what GET /health answers, from the results of the individual checks and the drain flag.

export type CheckResult = { ok: true } | { ok: false; error: string };

export interface HealthReport {
  statusCode: 200 | 503;
  body: Record<string, unknown>;
}

/**
 * `detail`: whether the caller may read the checks' error text (database and archive messages name hosts, roles and
 * WAL segments). Only callers on the replica's own loopback — Docker's probe, an operator's `docker exec` — get it;
 * everyone else (through the edge) gets which check fails, not why.
 */
export function healthReport(version: string, checks: Record<string, CheckResult>, draining: boolean, detail = true): HealthReport {
  // Draining wins: the load balancer must stop sending traffic even while the database is fine.
  if (draining) return { statusCode: 503, body: { status: "draining", version } };
  const names = Object.keys(checks).sort();
  const failing = names.filter((name) => !checks[name].ok);
  const summary = Object.fromEntries(names.map((name) => [name, checks[name].ok ? "ok" : "fail"]));
  if (failing.length === 0) return { statusCode: 200, body: { status: "ok", version, checks: summary } };
  if (!detail) return { statusCode: 503, body: { status: "fail", version, checks: summary, failing } };
  const errors = Object.fromEntries(
    failing.map((name) => {
      const result = checks[name];
      return [name, result.ok ? "" : result.error];
    }),
  );
  return { statusCode: 503, body: { status: "fail", version, checks: summary, failing, errors } };
}

export interface ReadinessReport {
  statusCode: 200 | 503;
  body: Record<string, unknown>;
}

/**
 * What GET /up answers: whether this replica should receive traffic. It reflects the replica itself —
 * started, not draining, and able to reach the database at least once since it started (so a new replica
 * with a wrong database address never takes traffic) — and NOT the database's health afterwards: a database
 * restart must not take every replica out of the edge at once, or routes that never touch it fail too.
 */
export function readinessReport(version: string, draining: boolean, reachedDatabase: boolean, lastError?: string, detail = true): ReadinessReport {
  if (draining) return { statusCode: 503, body: { status: "draining", version } };
  if (!reachedDatabase) return { statusCode: 503, body: { status: "starting", version, waitingFor: "db", ...(lastError && detail ? { error: lastError } : {}) } };
  return { statusCode: 200, body: { status: "ready", version } };
}

/** Whether a request came from the replica's own loopback (its Docker probe, `docker exec`), not through the edge. */
export function isLoopback(ip: string): boolean {
  return ip === "::1" || /^(::ffff:)?127\./.test(ip);
}

/** pg / network errors that mean "the database cannot be reached right now" (answered 503, not 500). */
export function isDatabaseUnavailable(error: unknown): boolean {
  const e = error as { code?: string; message?: string } | undefined;
  if (!e) return false;
  // 57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now, 08xxx connection exceptions.
  if (typeof e.code === "string" && (/^08/.test(e.code) || ["57P01", "57P02", "57P03", "ECONNREFUSED", "ECONNRESET", "ENOTFOUND", "EAI_AGAIN", "ETIMEDOUT", "EHOSTUNREACH"].includes(e.code))) return true;
  // "not queryable": a checked-out client whose connection broke before its query was sent.
  return /Connection terminated|timeout exceeded when trying to connect|connect ECONNREFUSED|getaddrinfo|not queryable/i.test(e.message ?? "");
}

/** What PostgreSQL says about WAL archiving (pg_stat_archiver, archive_mode). */
export interface WalArchiver {
  mode: string;
  failedCount: number;
  lastArchived: Date | null;
  lastFailed: Date | null;
  lastFailedWal: string | null;
}

/** Archiving is failing when its last attempt failed: the last failure is newer than the last success. */
export function walArchiveFailing(a: WalArchiver): boolean {
  if (a.mode === "off" || a.lastFailed === null) return false;
  return a.lastArchived === null || a.lastFailed.getTime() > a.lastArchived.getTime();
}

/**
 * The /health check `walArchive` (backup.wal): undefined when the database does not archive; failing — naming the
 * segment and since when — when the last archive attempt failed. An archive that silently stops is the classic
 * disaster: the next restore would end at the last archived segment.
 */
export function walArchiveCheck(a: WalArchiver): CheckResult | undefined {
  if (a.mode === "off") return undefined;
  if (!walArchiveFailing(a)) return { ok: true };
  const since = a.lastArchived ? `last archived segment at ${a.lastArchived.toISOString()}` : "no segment archived yet";
  return { ok: false, error: `archiving WAL fails: ${a.lastFailedWal ?? "a segment"} failed at ${a.lastFailed!.toISOString()} (${a.failedCount} failures; ${since})` };
}
