// Reads the demo API's configuration from the environment, once, into plain typed values.
import type { PoolConfig } from "pg";

export type ShutdownMode = "graceful" | "abrupt";

export interface ApiConfig {
  port: number;
  version: string;
  shutdownDelayMs: number;
  shutdownMode: ShutdownMode;
  db: PoolConfig;
}

type Env = Record<string, string | undefined>;

function intFrom(env: Env, key: string, fallback: number): number {
  const raw = env[key];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) {
    throw new Error(`${key} must be a non-negative integer, got "${raw}"`);
  }
  return value;
}

/** DATABASE_URL wins; otherwise the libpq-style PG* variables (unset ones fall back to pg's defaults). */
export function dbConfigFrom(env: Env): PoolConfig {
  // PGCONNECT_TIMEOUT (seconds, as libpq reads it; default 10): how long a new pool connection may take. A stopped or
  // restarting database is refused or unresolvable at once, so this only bounds a slow handshake on a loaded host.
  const common = { connectionTimeoutMillis: intFrom(env, "PGCONNECT_TIMEOUT", 10) * 1000, max: intFrom(env, "PGPOOL_MAX", 10) };
  if (env.DATABASE_URL) return { ...common, connectionString: env.DATABASE_URL };
  return {
    ...common,
    host: env.PGHOST,
    port: env.PGPORT ? intFrom(env, "PGPORT", 5432) : undefined,
    user: env.PGUSER,
    password: env.PGPASSWORD,
    database: env.PGDATABASE,
  };
}

export function readConfig(env: Env): ApiConfig {
  const mode = env.SHUTDOWN_MODE || "graceful";
  if (mode !== "graceful" && mode !== "abrupt") {
    throw new Error(`SHUTDOWN_MODE must be "graceful" or "abrupt", got "${mode}"`);
  }
  return {
    port: intFrom(env, "PORT", 3000),
    version: env.APP_VERSION || "dev",
    shutdownDelayMs: intFrom(env, "SHUTDOWN_DELAY_MS", 3000),
    shutdownMode: mode,
    db: dbConfigFrom(env),
  };
}
