// `npm run reseed` as a story: the standby again after a failover (or after a standby fell too far behind). Observe
// both members → decide (plan.ts decideReseed: only with --yes, never over a second primary) → stop the other member,
// its restart policy off while it is worked on → a fresh slot on the serving member → a throwaway container of the
// member's image on its data volume and the backend network empties the directory and copies the serving member's
// into it with pg_basebackup through the slot (src/postgres/standby.ts reseedScript) → the member back on the backend
// network (no `db` alias), its restart policy as the stack declares it, started: a standby streaming from `db` →
// synchronous commits again when the stack asks for them. Nothing in the stack's declarations changes: the next
// `pulumi up` replaces no database container and the preview after it is empty.
import type Docker from "dockerode";
import { randomBytes } from "node:crypto";
import { containerLogs, isStatus, readContainerFile, tail, tarFiles } from "../docker";
import { PGDATA } from "../backup/wal";
import { REPLICATION_PASSFILE, DATA_PASSFILE, RESEED_PASSFILE_UPLOAD, reseedScript, STANDBY_APPLICATION, STANDBY_SLOT, synchronousSql } from "../postgres/standby";
import { DB_HOST, LABEL_ROLE, LABEL_STACK, pollUntil } from "../vocabulary";
import { inRecovery, inspectMember, isFenced, sqlOn } from "./members";
import { decideReseed, type FailoverTarget, type ReseedObserved } from "./plan";

export interface ReseedOptions {
  docker: Docker;
  target: FailoverTarget;
  yes: boolean;
  /** how long the copy and the standby's first streaming may take */
  timeoutMs: number;
  log: (line: string) => void;
}

export interface ReseedResult {
  /** false: it streamed already, nothing was done */
  seeded: boolean;
  seconds: number;
}

const ROLE_RESEED = "reseed";

export async function reseed(o: ReseedOptions): Promise<ReseedResult> {
  const { docker, target: t, log } = o;
  const started = Date.now();
  const seen = await observe(docker, t);
  const decision = decideReseed(t, seen, o.yes);
  if (!decision.go) {
    if (decision.done) {
      log(`reseed: ${decision.why}`);
      return { seeded: false, seconds: 0 };
    }
    throw new Error(decision.why);
  }
  const serving = sqlOn(docker, t.primary, t.dbUser);
  const other = docker.getContainer(t.standby);
  const info = await other.inspect();
  const volume = info.Mounts.find((m) => m.Destination === PGDATA && m.Type === "volume")?.Name;
  if (!volume) throw new Error(`${t.standby} has no data volume at ${PGDATA}: nothing to seed; nothing was changed`);
  const network = await backendNetwork(docker, t.primary, t.prefix);
  const passfile = await replicationPassfile(docker, [t.primary, t.standby]);

  await other.update({ RestartPolicy: { Name: "no", MaximumRetryCount: 0 } });
  if (decision.stopOther) {
    log(`reseed: stopping ${t.standby}`);
    await other.stop({ t: 30 }).catch((e: unknown) => (isStatus(e, 304) ? undefined : Promise.reject(e)));
  }
  // A fresh slot: one a lost standby left behind may hold WAL back, or be lost itself.
  await serving(`SELECT count(pg_drop_replication_slot('${STANDBY_SLOT}')) FROM pg_replication_slots WHERE slot_name = '${STANDBY_SLOT}' AND NOT active`);
  await serving(`SELECT count(pg_create_physical_replication_slot('${STANDBY_SLOT}')) FROM (SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = '${STANDBY_SLOT}')) s`);
  log(`reseed: slot ${STANDBY_SLOT} fresh on ${t.primary}; copying ${t.primary}'s data into ${volume} (pg_basebackup)`);
  await copyInto(docker, { prefix: t.prefix, image: info.Image, volume, network, passfile, timeoutMs: o.timeoutMs });

  const connected = Object.keys((await other.inspect()).NetworkSettings.Networks ?? {}).includes(network);
  if (!connected) await docker.getNetwork(network).connect({ Container: t.standby });
  await other.update({ RestartPolicy: { Name: t.restartPolicy, MaximumRetryCount: 0 } });
  await other.start().catch((e: unknown) => (isStatus(e, 304) ? undefined : Promise.reject(e)));
  log(`reseed: ${t.standby} started on ${network} (no ${DB_HOST} alias), restart policy ${t.restartPolicy}; waiting for it to stream`);
  const streaming = `SELECT count(*) FROM pg_stat_replication WHERE application_name = '${STANDBY_APPLICATION}' AND state = 'streaming'`;
  await pollUntil(async () => ((await serving(streaming).catch(() => "0")) === "1" ? true : undefined), {
    timeoutMs: o.timeoutMs,
    intervalMs: 1000,
    onTimeout: () => new Error(`${t.standby} does not stream from ${t.primary} after ${o.timeoutMs} ms: docker logs ${t.standby}`),
  });
  if (t.synchronous) {
    await serving(synchronousSql(true));
    await serving("SELECT pg_reload_conf()");
    log(`reseed: synchronous commits on ${t.primary} wait for ${t.standby} again`);
  }
  const seconds = (Date.now() - started) / 1000;
  log(`reseed: ${t.standby} is a standby of ${t.primary}, streaming (${seconds.toFixed(1)} s)`);
  return { seeded: true, seconds };
}

async function observe(docker: Docker, t: FailoverTarget): Promise<ReseedObserved> {
  const [s, o] = await Promise.all([inspectMember(docker, t.primary), inspectMember(docker, t.standby)]);
  const servingInRecovery = s?.State.Running ? await inRecovery(docker, t.primary, t.dbUser) : undefined;
  const otherInRecovery = o?.State.Running ? await inRecovery(docker, t.standby, t.dbUser) : undefined;
  const streams = s?.State.Running && o?.State.Running
    ? (await sqlOn(docker, t.primary, t.dbUser)(`SELECT count(*) FROM pg_stat_replication WHERE application_name = '${STANDBY_APPLICATION}' AND state = 'streaming'`).catch(() => "0")) === "1"
    : false;
  return {
    serving: { running: s?.State.Running === true, ...(servingInRecovery !== undefined ? { inRecovery: servingInRecovery } : {}) },
    other: { exists: o !== undefined, running: o?.State.Running === true, ...(otherInRecovery !== undefined ? { inRecovery: otherInRecovery } : {}), streaming: streams, fenced: o ? await isFenced(docker, t.standby) : false },
  };
}

/** The backend network: the serving member's network that carries the `db` alias. */
async function backendNetwork(docker: Docker, serving: string, prefix: string): Promise<string> {
  const networks = (await docker.getContainer(serving).inspect()).NetworkSettings.Networks ?? {};
  const name = Object.keys(networks).find((n) => n === `${prefix}-backend`) ?? Object.keys(networks).find((n) => (networks[n]?.Aliases ?? []).includes("db"));
  if (!name) throw new Error(`${serving} is on no backend network: the standby could not reach it; nothing was changed`);
  return name;
}

/**
 * The replication role's passfile line: in a member that was a standby (its home, from the deploy's upload; or its data
 * directory, after a re-seed) — the serving one after a failover, the other one when a standby is seeded again in place.
 */
async function replicationPassfile(docker: Docker, members: string[]): Promise<string> {
  for (const member of members) {
    for (const path of [REPLICATION_PASSFILE, `${PGDATA}/${DATA_PASSFILE}`]) {
      const line = (await readContainerFile(docker.getContainer(member), path))?.trim();
      if (line) return `${line}\n`;
    }
  }
  throw new Error(`neither ${members.join(" nor ")} holds a replication passfile (${REPLICATION_PASSFILE} or ${PGDATA}/${DATA_PASSFILE}): deploy the stack with database.standby.enabled first; nothing was changed`);
}

/** The throwaway container that copies the serving member into the volume; removed however it ends. */
async function copyInto(docker: Docker, o: { prefix: string; image: string; volume: string; network: string; passfile: string; timeoutMs: number }): Promise<void> {
  const name = `${o.prefix}-reseed-${randomBytes(3).toString("hex")}`;
  const c = await docker.createContainer({
    name,
    Image: o.image,
    Entrypoint: ["bash", "-c"],
    Cmd: [reseedScript(PGDATA)],
    User: "root",
    Labels: { [LABEL_STACK]: o.prefix, [LABEL_ROLE]: ROLE_RESEED },
    HostConfig: { Binds: [`${o.volume}:${PGDATA}`], NetworkMode: o.network },
  });
  try {
    // The password as a file written into the created container: in no environment, no command line.
    await c.putArchive(tarFiles([{ path: RESEED_PASSFILE_UPLOAD.replace(/^\//, ""), content: o.passfile, mode: 0o600 }]), { path: "/" });
    await c.start();
    let timer: NodeJS.Timeout | undefined;
    const exit = (await Promise.race([
      c.wait(),
      new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`the copy into ${o.volume} did not finish within ${o.timeoutMs} ms`)), o.timeoutMs))),
    ]).finally(() => clearTimeout(timer))) as { StatusCode: number };
    if (exit.StatusCode !== 0) throw new Error(`the copy into ${o.volume} failed (exit ${exit.StatusCode}): ${tail(await containerLogs(docker, name), 10)}`);
  } finally {
    await c.remove({ force: true }).catch(() => undefined);
  }
}
