// A throwaway PostgreSQL to restore a dump into: the database container's own image (by ID: nothing is
// pulled), entrypoint, command and settings, no network (the restore streams over the Docker API), a
// random name, labelled slipway.role=backup-verify, with the database container's memory/CPU limits so
// it cannot take more from a production host than the database itself. Removed (with its data volume)
// however the work ends: normally, on an error, on SIGINT/SIGTERM; one left by a killed process
// (SIGKILL) is removed by the next verification on the same machine.
import type Docker from "dockerode";
import { randomBytes } from "node:crypto";
import { containerLogs, execInContainer, tail } from "../docker";
import type { Database } from "./commands";
import { OpsError } from "./errors";
import { LABEL_STACK, ROLES } from "../vocabulary";
import { SHORT_LIVED_REMOVE_TIMEOUT_MS, shortLivedLabels, withShortLived } from "../docker/short-lived";

const LABEL_DUMP = "slipway.verify.dump";
/** Durability is worthless in a database that is dropped minutes later; these make the restore faster. */
const SPEED_SETTINGS = ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"];
/** How long a removal may take on a busy engine before it is left to the next verification. */
export const THROWAWAY_REMOVE_TIMEOUT_MS = SHORT_LIVED_REMOVE_TIMEOUT_MS;
// And libpq's connection variables (PGHOST, PGPASSFILE…; not PGDATA, the image's own): the source may be a client
// (src/swarm/db-client.ts), not a server.
const SECRET_ENV = /^(POSTGRES_PASSWORD|POSTGRES_PASSWORD_FILE|POSTGRES_USER|POSTGRES_DB|PG(HOST|HOSTADDR|PORT|USER|DATABASE|PASSWORD|PASSFILE|SERVICE|SERVICEFILE|OPTIONS|SSL[A-Z]*))=/;

export interface Throwaway {
  name: string;
  image: string;
  imageName: string;
}

/**
 * Runs `work` against a fresh PostgreSQL made from `source`'s image with database and role `db`, and
 * removes that container whatever happens. `readyTimeoutMs` bounds initdb + start, `removeTimeoutMs` the removal
 * (retried until the engine no longer knows the container).
 */
export async function withThrowawayPostgres<T>(
  docker: Docker,
  opts: { source: string; db: Database; prefix: string; dump: string; readyTimeoutMs?: number; removeTimeoutMs?: number; log?: (line: string) => void },
  work: (t: Throwaway) => Promise<T>,
): Promise<T> {
  const log = opts.log ?? (() => undefined);
  const source = await docker
    .getContainer(opts.source)
    .inspect()
    .catch((err: { statusCode?: number }) => {
      if (err.statusCode === 404) throw new OpsError("container-not-found", `database container '${opts.source}' not found; pass it as --db-container`);
      throw err;
    });
  const name = `slipway-backup-verify-${randomBytes(6).toString("hex")}`;
  // The server's own command (its flags) is copied; a wrapper — the hot standby's start script, which seeds from the
  // primary and needs its passfile (src/postgres/standby.ts standbyCommand) — is not: a plain server then.
  const sourceCmd = source.Config.Cmd ?? ["postgres"];
  const cmd = sourceCmd[0] === "postgres" || sourceCmd[0]?.startsWith("-") ? sourceCmd : ["postgres"];
  const hc = source.HostConfig;
  const create = async () => {
    log(`starting throwaway PostgreSQL ${name} (image ${source.Config.Image}, no network)`);
    await docker.createContainer({
      name,
      Image: source.Image,
      Entrypoint: source.Config.Entrypoint ?? undefined,
      Cmd: [...cmd, ...SPEED_SETTINGS],
      Env: [
        ...(source.Config.Env ?? []).filter((e) => !SECRET_ENV.test(e)),
        `POSTGRES_PASSWORD=${randomBytes(18).toString("hex")}`,
        `POSTGRES_USER=${opts.db.user}`,
        `POSTGRES_DB=${opts.db.database}`,
      ],
      Labels: { ...shortLivedLabels(ROLES.backupVerify), [LABEL_STACK]: opts.prefix, [LABEL_DUMP]: opts.dump },
      HostConfig: {
        NetworkMode: "none",
        AutoRemove: false,
        ...(hc.Memory ? { Memory: hc.Memory, MemorySwap: hc.MemorySwap } : {}),
        ...(hc.NanoCpus ? { NanoCpus: hc.NanoCpus } : {}),
        ...(hc.CpuQuota ? { CpuQuota: hc.CpuQuota, CpuPeriod: hc.CpuPeriod } : {}),
        ...(hc.ShmSize ? { ShmSize: hc.ShmSize } : {}),
      },
    });
  };
  const start = async () => {
    await docker.getContainer(name).start();
    await waitReady(docker, name, opts.db, opts.readyTimeoutMs ?? 120_000);
  };
  const kind = { noun: "throwaway container", run: "verification" };
  return withShortLived(docker, { name, role: ROLES.backupVerify, kind, ...(opts.removeTimeoutMs ? { removeTimeoutMs: opts.removeTimeoutMs } : {}), log }, { create, start }, () =>
    work({ name, image: source.Image, imageName: source.Config.Image }),
  );
}

/** Ready over TCP on its loopback: the image's init server listens on the socket only, so this means initdb is over. */
async function waitReady(docker: Docker, name: string, db: Database, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const state = (await docker.getContainer(name).inspect()).State;
    if (!state.Running) {
      throw new OpsError("verify-failed", `the throwaway PostgreSQL ${name} stopped before it was ready (exit ${state.ExitCode}):\n${tail(await containerLogs(docker, name), 20)}`);
    }
    const ready = await execInContainer(docker, name, ["pg_isready", "--host", "127.0.0.1", "--username", db.user, "--dbname", db.database]).catch(() => undefined);
    if (ready?.exitCode === 0) return;
    if (Date.now() > deadline) {
      throw new OpsError("verify-failed", `the throwaway PostgreSQL ${name} was not ready after ${timeoutMs} ms:\n${tail(await containerLogs(docker, name), 20)}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}
