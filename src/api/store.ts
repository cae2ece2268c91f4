// The API's database access: a pg pool behind the few queries the routes need.
import { Pool, type PoolClient, type PoolConfig, type QueryResult, type QueryResultRow } from "pg";
import type { PoolStats, ReplicationSlot } from "./metrics";
import { isDatabaseUnavailable, type WalArchiver } from "./health";

export interface Item {
  id: number;
  name: string;
  created_at: string;
}

export interface Store {
  /** Resolves when the database answers `select 1` within timeoutMs. */
  ping(timeoutMs: number): Promise<void>;
  insertItem(name: string): Promise<Item>;
  listItems(): Promise<Item[]>;
  close(): Promise<void>;
  /** pg_stat_archiver and archive_mode (backup.wal): what /health and /metrics say about WAL archiving. */
  walArchiver?(): Promise<WalArchiver>;
  /** The physical replication slots (database.standby): what /metrics says about the standby. */
  replicationSlots?(): Promise<ReplicationSlot[]>;
  /** The pool's client counts, for the /metrics gauges; absent on stores without a pool. */
  poolStats?(): PoolStats;
}

export function pgStore(config: PoolConfig, onIdleError: (error: Error) => void, options: { connectWaitMs?: number } = {}): Store {
  const pool = new Pool(config);
  // An idle client losing its connection (database restart) must not crash the process.
  pool.on("error", onIdleError);
  const waitMs = options.connectWaitMs ?? 0;
  /** A pool client, retrying for up to waitMs while the database cannot be reached (nothing was sent yet). */
  const connect = async (): Promise<PoolClient> => {
    const deadline = Date.now() + waitMs;
    for (;;) {
      try {
        return await pool.connect();
      } catch (error) {
        if (!isDatabaseUnavailable(error) || Date.now() >= deadline) throw error;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  };
  /** pool.query, but connecting as `connect` does; like pool.query, a client that saw an error is not reused. */
  const query = async <R extends QueryResultRow>(text: string, values?: unknown[]): Promise<QueryResult<R>> => {
    if (waitMs === 0) return pool.query<R>(text, values);
    const client = await connect();
    // A checked-out client whose connection breaks (the primary lost mid-query) emits 'error' besides failing the
    // query; unheard, that event would crash the replica (pool.query listens for it itself). The query's rejection
    // carries the error; the listener stays, as the event may come after it.
    if (client.listenerCount("error") === 0) client.on("error", () => undefined);
    try {
      const result = await client.query<R>(text, values);
      client.release();
      return result;
    } catch (error) {
      client.release(error as Error);
      throw error;
    }
  };
  return {
    async ping(timeoutMs) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      });
      try {
        await Promise.race([pool.query("select 1"), timeout]);
      } finally {
        clearTimeout(timer);
      }
    },
    async insertItem(name) {
      const result = await query<Item>(
        "insert into items (name) values ($1) returning id, name, created_at",
        [name],
      );
      return result.rows[0];
    },
    async listItems() {
      const result = await query<Item>("select id, name, created_at from items order by id limit 1000");
      return result.rows;
    },
    async walArchiver() {
      const result = await pool.query<{ mode: string; failed: string; last_archived: Date | null; last_failed: Date | null; last_failed_wal: string | null }>(
        "select current_setting('archive_mode') as mode, failed_count as failed, last_archived_time as last_archived, last_failed_time as last_failed, last_failed_wal from pg_stat_archiver",
      );
      const row = result.rows[0]!;
      return { mode: row.mode, failedCount: Number(row.failed), lastArchived: row.last_archived, lastFailed: row.last_failed, lastFailedWal: row.last_failed_wal };
    },
    async replicationSlots() {
      const result = await pool.query<{ slot: string; active: boolean; lag: string | null }>(
        "select slot_name as slot, active, pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::text as lag from pg_replication_slots where slot_type = 'physical' and not pg_is_in_recovery()",
      );
      return result.rows.map((r) => ({ slot: r.slot, active: r.active, lagBytes: r.lag === null ? null : Math.max(0, Number(r.lag)) }));
    },
    close: () => pool.end(),
    poolStats: () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }),
  };
}
