// Applies the SQL migrations in ./migrations (`node dist/api/migrate.js`); exits non-zero on failure.
// node-pg-migrate holds a Postgres advisory lock while it runs, so concurrent runs never interleave;
// a run that finds the lock taken waits (up to MIGRATE_LOCK_WAIT_MS) instead of failing at once.
import path from "node:path";
import type { RunnerOption } from "node-pg-migrate/dist/bundle";
import { dbConfigFrom, withFileEnv } from "./config";

type Env = Record<string, string | undefined>;

const MIGRATIONS_DIR = path.join(__dirname, "migrations");

function migrationOptions(env: Env, log: (msg: string) => void): RunnerOption {
  return {
    databaseUrl: dbConfigFrom(env),
    dir: MIGRATIONS_DIR,
    migrationsTable: "pgmigrations",
    direction: "up",
    count: Infinity,
    checkOrder: true,
    singleTransaction: true,
    noLock: false,
    log,
  };
}

/** node-pg-migrate's error when another run holds the advisory lock. */
function isLockBusy(error: unknown): boolean {
  return error instanceof Error && error.message.includes("Another migration is already running");
}

function log(msg: string, fields: Record<string, unknown> = {}): void {
  console.log(JSON.stringify({ time: Date.now(), msg, ...fields }));
}

async function main(env: Env): Promise<void> {
  // node-pg-migrate is ESM-only; Node >= 20.19 can require() it.
  const { runner } = require("node-pg-migrate") as typeof import("node-pg-migrate/dist/bundle");
  const deadline = Date.now() + Number(env.MIGRATE_LOCK_WAIT_MS ?? 60_000);
  for (;;) {
    try {
      const applied = await runner(migrationOptions(env, (msg) => log("migrate", { detail: msg })));
      log("migrations complete", { applied: applied.map((m) => m.name) });
      return;
    } catch (error) {
      if (!isLockBusy(error) || Date.now() > deadline) throw error;
      log("migration lock busy, waiting");
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }
}

if (require.main === module) {
  // PGPASSWORD_FILE may be /dev/stdin: the deploy step pipes the password in, so it is in no container's environment.
  Promise.resolve().then(() => main(withFileEnv(process.env))).catch((error: unknown) => {
    console.error(JSON.stringify({ time: Date.now(), msg: "migration failed", error: String(error) }));
    process.exit(1);
  });
}
