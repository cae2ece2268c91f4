// The API's database access: a pg pool behind the few queries the routes need.
import { Pool, type PoolConfig } from "pg";
import type { PoolStats } from "./metrics";

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
    close: () => pool.end(),
    poolStats: () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }),
  };
}
