// The API's database access: a pg pool behind the few queries the routes need.
import { Pool, type PoolConfig } from "pg";
import type { PoolStats } from "./metrics";
import type { WalArchiver } from "./health";

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
  /** The pool's client counts, for the /metrics gauges; absent on stores without a pool. */
  poolStats?(): PoolStats;
}

export function pgStore(config: PoolConfig, onIdleError: (error: Error) => void): Store {
  const pool = new Pool(config);
  // An idle client losing its connection (database restart) must not crash the process.
  pool.on("error", onIdleError);
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
      const result = await pool.query<Item>(
        "insert into items (name) values ($1) returning id, name, created_at",
        [name],
      );
      return result.rows[0];
    },
    async listItems() {
      const result = await pool.query<Item>("select id, name, created_at from items order by id limit 1000");
      return result.rows;
    },
    async walArchiver() {
      const result = await pool.query<{ mode: string; failed: string; last_archived: Date | null; last_failed: Date | null; last_failed_wal: string | null }>(
        "select current_setting('archive_mode') as mode, failed_count as failed, last_archived_time as last_archived, last_failed_time as last_failed, last_failed_wal from pg_stat_archiver",
      );
      const row = result.rows[0]!;
      return { mode: row.mode, failedCount: Number(row.failed), lastArchived: row.last_archived, lastFailed: row.last_failed, lastFailedWal: row.last_failed_wal };
    },
    close: () => pool.end(),
    poolStats: () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }),
  };
}
