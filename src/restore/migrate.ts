// The deploy's migration step (infra/components/deploy-steps.ts: `docker run --rm --network <backend> <api image>
// node dist/api/migrate.js`) as restore runs it after a restore: a one-off container of the running API image (by
// ID: nothing is pulled), on the database's network, as the stack's database role (the database container's
// POSTGRES_USER / POSTGRES_DB / POSTGRES_PASSWORD; the password goes into the container's environment only),
// through our Docker client so a remote dockerHost works. Removed however it ends.
import type Docker from "dockerode";
import { randomBytes } from "node:crypto";
import { containerLogs, tail } from "../docker";
import { LABEL_ROLE, LABEL_STACK, ROLES } from "../vocabulary";
import { databaseFromEnv } from "../postgres/database";
import { OpsError } from "../postgres/errors";

export const MIGRATE_COMMAND = ["node", "dist/api/migrate.js"];

export interface MigrateOptions {
  /** The stack's Docker name prefix (its slipway.stack label). */
  prefix: string;
  dbContainer: string;
  imageId: string;
  network: string;
  timeoutMs?: number;
  log?: (line: string) => void;
}

/** The environment of the migration container: libpq variables that reach `dbContainer` by its name on the network. */
export function migrateEnv(dbContainer: string, dbEnv: readonly string[]): string[] {
  const db = databaseFromEnv(dbEnv, {});
  const password = dbEnv.find((e) => e.startsWith("POSTGRES_PASSWORD="))?.slice("POSTGRES_PASSWORD=".length);
  return [`PGHOST=${dbContainer}`, `PGUSER=${db.user}`, `PGDATABASE=${db.database}`, ...(password === undefined ? [] : [`PGPASSWORD=${password}`])];
}

/** Runs the migrations; returns their log, throws OpsError("migrate-failed") with the log's tail when they fail. */
export async function runMigrations(docker: Docker, opts: MigrateOptions): Promise<string> {
  const log = opts.log ?? (() => undefined);
  const timeoutMs = opts.timeoutMs ?? 10 * 60_000;
  const dbEnv = (await docker.getContainer(opts.dbContainer).inspect()).Config.Env ?? [];
  const name = `${opts.prefix}-restore-migrate-${randomBytes(4).toString("hex")}`;
  const container = await docker.createContainer({
    name,
    Image: opts.imageId,
    Cmd: MIGRATE_COMMAND,
    Env: migrateEnv(opts.dbContainer, dbEnv),
    Labels: { [LABEL_STACK]: opts.prefix, [LABEL_ROLE]: ROLES.migrate },
    HostConfig: { NetworkMode: opts.network, AutoRemove: false },
  });
  try {
    log(`migrating: ${MIGRATE_COMMAND.join(" ")} in ${name} on network ${opts.network}`);
    await container.start();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new OpsError("migrate-failed", `the migrations in ${name} did not finish within ${timeoutMs} ms`)), timeoutMs);
    });
    const exit = (await Promise.race([container.wait(), timeout]).finally(() => clearTimeout(timer))) as { StatusCode: number };
    const output = await containerLogs(docker, name);
    if (exit.StatusCode !== 0) {
      throw new OpsError("migrate-failed", `the migrations of the running API image failed (exit ${exit.StatusCode}) in ${name}:\n${tail(output.trim(), 20)}`);
    }
    return output;
  } finally {
    await container.remove({ force: true }).catch(() => undefined);
  }
}
