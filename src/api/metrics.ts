// The API's Prometheus metrics (prom-client), served at METRICS_PATH and scraped per replica by the stack's
// Prometheus (infra/components/monitoring.ts; alert rules in monitoring/alerts.yml use these names):
//   http_requests_total{method,route,status_code}                 counter: request rate
//   http_request_duration_seconds{method,route,status_code}       histogram: latency (p50/p99 by route)
//   http_request_errors_total{method,route,status_code}           counter: 5xx answers, by route
//   db_pool_clients / db_pool_idle_clients / db_pool_waiting_clients  gauges: the pg Pool, read at scrape time
//   api_info{version}                                              always 1
//   slipway_wal_archive_failing, slipway_wal_archive_failed_total,   gauges read from pg_stat_archiver at scrape time, only
//   slipway_wal_archive_last_success_timestamp_seconds               while the database archives (backup.wal; WalArchiveFailing)
//   slipway_db_standby_streaming{slot}, slipway_db_standby_lag_bytes{slot}   gauges read from pg_replication_slots at scrape
//                                                                    time, one series per physical slot (database.standby;
//                                                                    DatabaseStandbyNotStreaming, DatabaseStandbyLagging)
//   process_* / nodejs_*                                           prom-client's defaults
// `route` is the route pattern fastify matched (routeOptions.url, e.g. "/items"), never the raw URL, so
// query strings and ids cannot blow up the label set; a request that matched no route is "unmatched".
// Requests for METRICS_PATH itself are not counted: scrapes are not traffic.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { walArchiveFailing, type WalArchiver } from "./health";

export const METRICS_PATH = "/metrics";
/** Label value of requests no route matched (404s): one series, whatever the URL was. */
export const UNMATCHED_ROUTE = "unmatched";
/** Seconds; /slow may take up to 10 s, hence the upper buckets. */
export const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** What pg's Pool reports (totalCount, idleCount, waitingCount), read when Prometheus scrapes. */
export interface PoolStats {
  total: number;
  idle: number;
  waiting: number;
}

/**
 * A physical replication slot on the primary (pg_replication_slots): whether a standby streams through it now, and how
 * far the WAL it has flushed is behind the primary's (null before it ever reported). Readable without privileges.
 */
export interface ReplicationSlot {
  slot: string;
  active: boolean;
  lagBytes: number | null;
}

export interface MetricsOptions {
  version: string;
  /** Undefined: no pool (the db_pool_* gauges are not registered). */
  poolStats?: () => PoolStats;
  /** pg_stat_archiver (backup.wal); undefined: no slipway_wal_* gauges. */
  walArchiver?: () => Promise<WalArchiver>;
  /** The primary's physical replication slots (database.standby); undefined: no slipway_db_standby_* gauges. */
  replicationSlots?: () => Promise<ReplicationSlot[]>;
  /** prom-client's process_* and nodejs_* metrics. Default true. */
  processMetrics?: boolean;
}

export interface ApiMetrics {
  readonly registry: Registry;
  /** Records one answered request; `route` is the matched pattern or undefined when none matched. */
  observe(method: string, route: string | undefined, statusCode: number, seconds: number): void;
  /** The exposition text and its content type. */
  render(): Promise<{ contentType: string; body: string }>;
}

export function createMetrics(options: MetricsOptions): ApiMetrics {
  // One registry per app (not prom-client's global one): several apps in one process (tests) stay apart.
  const registry = new Registry();
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry });
  const labelNames = ["method", "route", "status_code"] as const;
  const requests = new Counter({ name: "http_requests_total", help: "HTTP requests answered, by route and status.", labelNames, registers: [registry] });
  const errors = new Counter({ name: "http_request_errors_total", help: "HTTP requests answered with a 5xx status, by route.", labelNames, registers: [registry] });
  const duration = new Histogram({
    name: "http_request_duration_seconds",
    help: "Time from request received to response sent, by route and status.",
    labelNames,
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  new Gauge({ name: "api_info", help: "The running API's version (always 1).", labelNames: ["version"], registers: [registry] }).set(
    { version: options.version },
    1,
  );
  const poolStats = options.poolStats;
  if (poolStats) {
    const gauge = (name: string, help: string, pick: (s: PoolStats) => number) =>
      new Gauge({
        name,
        help,
        registers: [registry],
        collect() {
          this.set(pick(poolStats()));
        },
      });
    gauge("db_pool_clients", "Clients in the database pool (idle + in use).", (s) => s.total);
    gauge("db_pool_idle_clients", "Idle clients in the database pool.", (s) => s.idle);
    gauge("db_pool_waiting_clients", "Queries waiting for a database pool client.", (s) => s.waiting);
  }
  const walArchiver = options.walArchiver;
  if (walArchiver) {
    // One read per scrape for the three gauges; an unreachable database or archiving off leaves them unset (no series).
    let pending: Promise<WalArchiver | undefined> | undefined;
    const read = () => (pending ??= walArchiver().catch(() => undefined).finally(() => setTimeout(() => (pending = undefined), 1000)));
    const walGauge = (name: string, help: string, pick: (a: WalArchiver) => number | undefined) =>
      new Gauge({
        name,
        help,
        registers: [registry],
        async collect() {
          this.reset();
          const a = await read();
          const v = a && a.mode !== "off" ? pick(a) : undefined;
          if (v !== undefined) this.set(v);
        },
      });
    walGauge("slipway_wal_archive_failing", "1 when the database's last WAL archive attempt failed (pg_stat_archiver), else 0.", (a) => (walArchiveFailing(a) ? 1 : 0));
    walGauge("slipway_wal_archive_failed_total", "WAL archive attempts that failed since the statistics were reset (pg_stat_archiver.failed_count).", (a) => a.failedCount);
    walGauge("slipway_wal_archive_last_success_timestamp_seconds", "When the last WAL segment was archived (pg_stat_archiver.last_archived_time).", (a) => (a.lastArchived ? a.lastArchived.getTime() / 1000 : undefined));
  }
  const replicationSlots = options.replicationSlots;
  if (replicationSlots) {
    // Like the WAL gauges: one read per scrape for both; no slot (no standby) or no database leaves them without series.
    let pending: Promise<ReplicationSlot[]> | undefined;
    const read = () => (pending ??= replicationSlots().catch(() => []).finally(() => setTimeout(() => (pending = undefined), 1000)));
    const slotGauge = (name: string, help: string, pick: (s: ReplicationSlot) => number | null) =>
      new Gauge({
        name,
        help,
        labelNames: ["slot"],
        registers: [registry],
        async collect() {
          this.reset();
          for (const s of await read()) {
            const v = pick(s);
            if (v !== null) this.set({ slot: s.slot }, v);
          }
        },
      });
    slotGauge("slipway_db_standby_streaming", "1 when a standby streams through the physical replication slot now (pg_replication_slots.active), else 0.", (s) => (s.active ? 1 : 0));
    slotGauge("slipway_db_standby_lag_bytes", "Bytes of WAL the primary has written beyond what the slot's standby has flushed.", (s) => s.lagBytes);
  }
  return {
    registry,
    observe(method, route, statusCode, seconds) {
      const labels = { method, route: route ?? UNMATCHED_ROUTE, status_code: String(statusCode) };
      requests.inc(labels);
      duration.observe(labels, seconds);
      if (statusCode >= 500) errors.inc(labels);
    },
    async render() {
      return { contentType: registry.contentType, body: await registry.metrics() };
    },
  };
}
