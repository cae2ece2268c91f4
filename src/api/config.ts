// Reads the demo API's configuration from the environment, once, into plain typed values.
// Secrets arrive as files (the `_FILE` convention): for any variable X, X_FILE names a file whose content, one
// trailing newline trimmed, is X's value (Docker's /run/secrets/<name>, or a file slipway wrote into the container).
import { readFileSync } from "node:fs";
import type { PoolConfig } from "pg";

export type ShutdownMode = "graceful" | "abrupt";

export interface ApiConfig {
  port: number;
  version: string;
  shutdownDelayMs: number;
  shutdownMode: ShutdownMode;
  db: PoolConfig;
  /**
   * PGCONNECT_WAIT_MS (default 0): how long a request waits for a database connection while the database cannot be
   * reached (refused, unresolvable, starting up) before it fails. The program sets it with database.standby, so the
   * requests that arrive between a primary's loss and `npm run failover` wait for the promoted standby instead of
   * failing. Only connecting waits: a statement sent on a connection that broke is never sent again.
   */
  dbConnectWaitMs: number;
}

type Env = Record<string, string | undefined>;

const FILE_SUFFIX = "_FILE";

/**
 * The environment with every `X_FILE` read into `X` (the `_FILE` keys themselves are dropped). X and X_FILE both
 * set is an error naming both; so is a file that cannot be read. A new object: process.env is left as it is.
 */
export function withFileEnv(env: Env, readFile: (path: string) => string = (p) => readFileSync(p, "utf8")): Env {
  const out: Env = {};
  for (const [key, value] of Object.entries(env)) if (!key.endsWith(FILE_SUFFIX) || key === FILE_SUFFIX) out[key] = value;
  for (const [key, path] of Object.entries(env)) {
    if (!key.endsWith(FILE_SUFFIX) || key === FILE_SUFFIX || path === undefined || path === "") continue;
    const name = key.slice(0, -FILE_SUFFIX.length);
    if (env[name] !== undefined && env[name] !== "") throw new Error(`${name} and ${key} are both set: set one of them`);
    let content: string;
    try {
      content = readFile(path);
    } catch (e) {
      throw new Error(`${key}: cannot read ${path}: ${(e as Error).message}`);
    }
    out[name] = content.replace(/\r?\n$/, "");
  }
  return out;
}

function intFrom(env: Env, key: string, fallback: number): number {
  const raw = env[key];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) {
    throw new Error(`${key} must be a non-negative integer, got "${raw}"`);
  }
  return value;
}

/** Connections each replica's pool may open (PGPOOL_MAX); stacks/policy.ts counts them against PostgreSQL's limit. */
export const DEFAULT_POOL_MAX = 10;

/** DATABASE_URL wins; otherwise the libpq-style PG* variables (unset ones fall back to pg's defaults). */
export function dbConfigFrom(env: Env): PoolConfig {
  // PGCONNECT_TIMEOUT (seconds, as libpq reads it; default 10): how long a new pool connection may take. A stopped or
  // restarting database is refused or unresolvable at once, so this only bounds a slow handshake on a loaded host.
  const common = { connectionTimeoutMillis: intFrom(env, "PGCONNECT_TIMEOUT", 10) * 1000, max: intFrom(env, "PGPOOL_MAX", DEFAULT_POOL_MAX) };
  if (env.DATABASE_URL) return { ...common, connectionString: env.DATABASE_URL };
  return {
    ...common,
    host: env.PGHOST,
    port: env.PGPORT ? intFrom(env, "PGPORT", 5432) : undefined,
    user: env.PGUSER,
    password: env.PGPASSWORD,
    database: env.PGDATABASE,
    // libpq's PGOPTIONS, e.g. "-c role=<owner>" (restore's migrations log in as a temporary member of the owner role).
    ...(env.PGOPTIONS ? { options: env.PGOPTIONS } : {}),
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
    dbConnectWaitMs: intFrom(env, "PGCONNECT_WAIT_MS", 0),
    db: dbConfigFrom(env),
  };
}
