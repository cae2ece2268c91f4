// The deploy's migration step (infra/components/deploy-steps.ts: `docker run --rm --network <backend> <api image>
// node dist/api/migrate.js`) as restore runs it after a restore: a one-off container of the running API image (by
// ID: nothing is pulled), on the database's network, through our Docker client so a remote dockerHost works.
// It logs in as a temporary role made for this run over the database container's local socket (a member of the
// stack's owner role, which it switches to with PGOPTIONS, so what the migrations create belongs to the owner);
// its random password reaches the container as a pgpass file in /run/secrets (PGPASSFILE, read by every version
// of the API image), never in its environment. The container and the role are removed however it ends.
import type Docker from "dockerode";
import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { containerLogs, putSecretFiles, secretPath, tail } from "../docker";
import { DB_TEMP_ROLE_PREFIX, LABEL_ROLE, LABEL_STACK, ROLES } from "../vocabulary";
import { type Database } from "../postgres/commands";
import { databaseFromEnv } from "../postgres/database";
import { execInDb } from "../postgres/db-exec";
import { OpsError } from "../postgres/errors";
import { dropTempLoginScript, psqlAdmin, tempLoginScript } from "../postgres/roles";

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

/** The file (in /run/secrets) the temporary role's password reaches the migration container in. */
export const PGPASS_SECRET = "pgpass";

/** The environment of the migration container: libpq variables that reach `dbContainer` by its name on the network. */
export function migrateEnv(dbContainer: string, database: string, login: { user: string; role: string }): string[] {
  return [`PGHOST=${dbContainer}`, `PGUSER=${login.user}`, `PGDATABASE=${database}`, `PGOPTIONS=-c role=${login.role}`, `PGPASSFILE=${secretPath(PGPASS_SECRET)}`];
}

/** A pgpass line for exactly that host, database and user (':' and '\\' escaped as pgpass wants). */
export function pgpassLine(host: string, database: string, user: string, password: string): string {
  const esc = (s: string) => s.replace(/[\\:]/g, (c) => `\\${c}`);
  return `${esc(host)}:*:${esc(database)}:${esc(user)}:${esc(password)}\n`;
}

async function psqlScript(docker: Docker, dbContainer: string, db: Database, script: string): Promise<string> {
  const result = await execInDb(docker, dbContainer, psqlAdmin(db), { stdin: Readable.from([script]) });
  if (result.exitCode !== 0) throw new OpsError("migrate-failed", `psql in '${dbContainer}' failed (exit ${result.exitCode}): ${result.stderr.trim()}`);
  return result.stdout;
}

/** Runs the migrations; returns their log, throws OpsError("migrate-failed") with the log's tail when they fail. */
export async function runMigrations(docker: Docker, opts: MigrateOptions): Promise<string> {
  const log = opts.log ?? (() => undefined);
  const timeoutMs = opts.timeoutMs ?? 10 * 60_000;
  const db = databaseFromEnv((await docker.getContainer(opts.dbContainer).inspect()).Config.Env ?? [], {});
  const hex = randomBytes(4).toString("hex");
  const name = `${opts.prefix}-restore-migrate-${hex}`;
  const user = `${DB_TEMP_ROLE_PREFIX}${hex}`;
  const password = randomBytes(24).toString("hex");
  const role = (await psqlScript(docker, opts.dbContainer, db, tempLoginScript(user, password))).trim().split("\n").at(-1)!.trim();
  try {
    const container = await docker.createContainer({
      name,
      Image: opts.imageId,
      Cmd: MIGRATE_COMMAND,
      Env: migrateEnv(opts.dbContainer, db.database, { user, role }),
      Labels: { [LABEL_STACK]: opts.prefix, [LABEL_ROLE]: ROLES.migrate },
      HostConfig: { NetworkMode: opts.network, AutoRemove: false },
    });
    try {
      await putSecretFiles(container, { [PGPASS_SECRET]: pgpassLine(opts.dbContainer, db.database, user, password) });
      log(`migrating: ${MIGRATE_COMMAND.join(" ")} in ${name} on network ${opts.network}, as ${user} (a temporary member of ${role})`);
      return await migrate(docker, container, name, timeoutMs);
    } finally {
      await container.remove({ force: true }).catch(() => undefined);
    }
  } finally {
    await psqlScript(docker, opts.dbContainer, db, dropTempLoginScript(user)).catch((e: Error) => log(`could not drop the temporary role ${user}: ${e.message}`));
  }
}

async function migrate(docker: Docker, container: Docker.Container, name: string, timeoutMs: number): Promise<string> {
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
}
