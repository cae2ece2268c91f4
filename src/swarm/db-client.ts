// The database of a swarm stack, reached from the manager (target swarm): PostgreSQL runs as a service on whichever
// node is labelled for it, where no verb can `docker exec`, and the superuser logs in on that node's local socket
// only. A backup therefore runs its tools (pg_dump, psql, pg_restore reading the archive through) in a short-lived
// client container on the manager dockerHost names, attached to the stack's backend overlay (attachable), of the
// database service's own image, logging in as the owner role — it owns every object of the database, so its dump is
// the whole database. Its password is a file in the container (PGPASSFILE, 0400), never in its environment or
// `docker inspect`. The container has the service's memory/CPU limits (the throwaway a verification restores into
// copies them) and is removed however the work ends (src/docker/short-lived.ts).
import type Docker from "dockerode";
import { randomBytes } from "node:crypto";
import { execInContainer, putSecretFiles, secretPath, tail } from "../docker";
import { shortLivedLabels, withShortLived } from "../docker/short-lived";
import type { Database } from "../postgres/commands";
import { OpsError } from "../postgres/errors";
import { DB_HOST, DB_ROLES, LABEL_STACK, ROLES, sleep } from "../vocabulary";

const PASSFILE = "PGPASSFILE";

export interface DbClientTarget {
  /** The stack's prefix (labels, the container's name). */
  prefix: string;
  /** The database's Swarm service. */
  service: string;
  /** The attachable overlay the service is on (its alias DB_HOST there). */
  network: string;
  /** The owner role's password. */
  password: string;
}

/** What the manager says of the database service: its image, database and limits. */
export interface DbServiceFacts {
  image: string;
  database: string;
  memoryBytes?: number;
  nanoCpus?: number;
}

/** Pure: the service's facts from `docker service inspect` (its Spec). */
export function dbServiceFacts(service: string, spec: { TaskTemplate?: { ContainerSpec?: { Image?: string; Env?: string[] }; Resources?: { Limits?: { MemoryBytes?: number; NanoCPUs?: number } } } }): DbServiceFacts {
  const container = spec.TaskTemplate?.ContainerSpec;
  if (!container?.Image) throw new OpsError("container-not-found", `database service '${service}' has no image in its spec`);
  const env = new Map((container.Env ?? []).map((e) => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)] as const));
  const limits = spec.TaskTemplate?.Resources?.Limits;
  return {
    image: container.Image,
    database: env.get("POSTGRES_DB") ?? env.get("POSTGRES_USER") ?? "postgres",
    ...(limits?.MemoryBytes ? { memoryBytes: limits.MemoryBytes } : {}),
    ...(limits?.NanoCPUs ? { nanoCpus: limits.NanoCPUs } : {}),
  };
}

/**
 * Pure: the client container. It sleeps (the image's entrypoint runs any command but `postgres` as it is); libpq's
 * environment points psql and pg_dump at the service as the owner, the password file is uploaded before it starts.
 * POSTGRES_USER/POSTGRES_DB say which role and database to use, as a database container's do (src/postgres/database.ts).
 */
export function dbClientSpec(target: Omit<DbClientTarget, "password">, facts: DbServiceFacts, image: string, name: string): Docker.ContainerCreateOptions {
  return {
    name,
    Image: image,
    Cmd: ["sleep", "infinity"],
    Env: [`PGHOST=${DB_HOST}`, `${PASSFILE}=${secretPath(PASSFILE)}`, `POSTGRES_USER=${DB_ROLES.owner}`, `POSTGRES_DB=${facts.database}`],
    Labels: { ...shortLivedLabels(ROLES.dbClient), [LABEL_STACK]: target.prefix },
    HostConfig: {
      NetworkMode: target.network,
      AutoRemove: false,
      ...(facts.memoryBytes ? { Memory: facts.memoryBytes, MemorySwap: facts.memoryBytes } : {}),
      ...(facts.nanoCpus ? { NanoCpus: facts.nanoCpus } : {}),
    },
  };
}

/** The Swarm labels of a service (its slipway.stack names the stack lock), or undefined when there is no such service. */
export async function serviceLabels(docker: Docker, service: string): Promise<Record<string, string> | undefined> {
  const info = (await docker.getService(service).inspect().catch((err: { statusCode?: number }) => {
    if (err.statusCode === 404) return undefined;
    throw err;
  })) as { Spec?: { Labels?: Record<string, string> } } | undefined;
  return info ? (info.Spec?.Labels ?? {}) : undefined;
}

/**
 * Runs `work` with a client container of the stack's database (its name, and the role and database to use), made on
 * the manager and removed afterwards. Refuses, naming what to do, when the service does not exist, its image is not on
 * the manager, or the database does not answer over the overlay within `readyTimeoutMs`.
 */
export async function withDbClient<T>(
  docker: Docker,
  target: DbClientTarget,
  opts: { readyTimeoutMs?: number; log?: (line: string) => void; /** what uses it, in log lines ("backup", "restore") */ run?: string },
  work: (client: { name: string; db: Database }) => Promise<T>,
): Promise<T> {
  const log = opts.log ?? (() => undefined);
  if (!/^[A-Za-z0-9]+$/.test(target.password)) throw new OpsError("invalid-input", "the owner role's password must be letters and digits (what slipway generates)");
  const inspected = (await docker.getService(target.service).inspect().catch((err: { statusCode?: number; message?: string }) => {
    if (err.statusCode === 404) throw new OpsError("container-not-found", `database service '${target.service}' not found on the swarm; deploy the stack first (npm run promote)`);
    if (err.statusCode === 503) throw new OpsError("container-not-found", `the Docker engine dockerHost names is not a swarm manager (${err.message ?? "503"}); point slipway:dockerHost at a manager`);
    throw err;
  })) as { Spec: Parameters<typeof dbServiceFacts>[1] };
  const facts = dbServiceFacts(target.service, inspected.Spec);
  const image = await imageOnManager(docker, facts.image);
  const name = `${target.prefix}-db-client-${randomBytes(4).toString("hex")}`;
  const db = { user: DB_ROLES.owner, database: facts.database };
  const create = async () => {
    log(`starting ${name} on the manager (image ${image}, network ${target.network}): the database's tools, as ${db.user}`);
    const container = await docker.createContainer(dbClientSpec(target, facts, image, name));
    // host:port:database:user:password — any of the service's databases, as the owner only.
    await putSecretFiles(container, { [PASSFILE]: `${DB_HOST}:5432:*:${db.user}:${target.password}\n` });
  };
  const start = async () => {
    await docker.getContainer(name).start();
    await waitAnswers(docker, name, db, opts.readyTimeoutMs ?? 120_000, target);
  };
  const kind = { noun: "database client container", run: opts.run ?? "backup" };
  return withShortLived(docker, { name, role: ROLES.dbClient, kind, log }, { create, start }, () => work({ name, db }));
}

/** The image's reference on the manager: as the service names it, else without its digest (images loaded, not pulled). */
async function imageOnManager(docker: Docker, ref: string): Promise<string> {
  const candidates = [ref, ref.replace(/@sha256:[0-9a-f]+$/, "")];
  for (const candidate of candidates) {
    const found = await docker.getImage(candidate).inspect().then(() => true, () => false);
    if (found) return candidate;
  }
  throw new OpsError("container-not-found", `the database's image ${ref} is not on the manager, where the backup runs its tools: pull it there (docker pull ${candidates[1]}) and retry`);
}

/** pg_isready, then a login, over the overlay; the last answer is in the error. */
async function waitAnswers(docker: Docker, name: string, db: Database, timeoutMs: number, target: DbClientTarget): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await execInContainer(docker, name, ["psql", "--no-psqlrc", "--quiet", "--tuples-only", "--no-align", "--username", db.user, "--dbname", db.database, "--command", "select 1"]);
    if (r.exitCode === 0) return;
    if (Date.now() > deadline) {
      throw new OpsError("container-not-found", `the database service '${target.service}' did not answer ${db.user}'s login over ${target.network} from the manager within ${timeoutMs} ms: ${tail(r.stderr.trim(), 5)}`);
    }
    await sleep(1000);
  }
}
