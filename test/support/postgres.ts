// Throwaway PostgreSQL for e2e tests: a `slipway-local/postgres:17` container with a unique name,
// ready once pg_isready answers over TCP (the image's init server listens on the socket only),
// with a psql helper and cleanup that removes the container and its anonymous data volume.
import type Docker from "dockerode";
import { randomBytes } from "node:crypto";
import type { Database } from "../../src/postgres/commands";
import { connectDocker, execInContainer } from "../../src/docker";

export const POSTGRES_IMAGE = process.env.SLIPWAY_POSTGRES_IMAGE ?? "slipway-local/postgres:17";

/** Ready to accept TCP connections (the image's init server listens on the socket only). */
export function pgIsReady(db: Database): string[] {
  return ["pg_isready", "--host", "127.0.0.1", "--username", db.user, "--dbname", db.database];
}

/** One SQL string, unaligned tuples-only output, stop on the first error. */
export function psql(db: Database, sql: string): string[] {
  return ["psql", "--no-psqlrc", "--quiet", "-v", "ON_ERROR_STOP=1", "--tuples-only", "--no-align", "--username", db.user, "--dbname", db.database, "--command", sql];
}

export interface TestPostgres {
  name: string;
  db: Database;
  docker: Docker;
  /** runs SQL in the container, returns trimmed stdout; throws with stderr on failure */
  sql(statement: string): Promise<string>;
  stop(): Promise<void>;
}

export async function hasPostgresImage(docker: Docker = connectDocker()): Promise<boolean> {
  return docker
    .getImage(POSTGRES_IMAGE)
    .inspect()
    .then(
      () => true,
      () => false,
    );
}

export async function startPostgres(opts: { prefix?: string; database?: string; user?: string; timeoutMs?: number; labels?: Record<string, string> } = {}): Promise<TestPostgres> {
  const docker = connectDocker();
  const name = `${opts.prefix ?? "slipway-test-pg"}-${randomBytes(4).toString("hex")}`;
  const db = { database: opts.database ?? "slipway", user: opts.user ?? "slipway" };
  const container = await docker.createContainer({
    name,
    Image: POSTGRES_IMAGE,
    Env: [`POSTGRES_PASSWORD=${randomBytes(12).toString("hex")}`, `POSTGRES_USER=${db.user}`, `POSTGRES_DB=${db.database}`],
    Labels: { "slipway.test": "postgres", ...opts.labels },
    HostConfig: { AutoRemove: false },
  });
  const stop = async () => {
    await container.remove({ force: true, v: true }).catch(() => undefined);
  };
  try {
    await container.start();
    const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
    for (;;) {
      const ready = await execInContainer(docker, name, pgIsReady(db)).catch(() => undefined);
      if (ready?.exitCode === 0) break;
      if (Date.now() > deadline) {
        const logs = (await container.logs({ stdout: true, stderr: true, tail: 30 })).toString();
        throw new Error(`postgres container ${name} not ready after ${opts.timeoutMs ?? 60_000} ms:\n${logs}`);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  } catch (err) {
    await stop();
    throw err;
  }
  const sql = async (statement: string) => {
    const result = await execInContainer(docker, name, psql(db, statement));
    if (result.exitCode !== 0) throw new Error(`psql in ${name} failed (exit ${result.exitCode}): ${result.stderr}`);
    return result.stdout.trim();
  };
  return { name, db, docker, sql, stop };
}
