// `npm run failover` as a story: observe both members → decide (plan.ts) → fence the old primary → promote the
// standby → move the `db` alias to it → record which member serves. The API's pools reconnect to `db` by themselves:
// requests that arrive meanwhile wait for a connection (PGCONNECT_WAIT_MS, database.standby.apiWaitSeconds); only
// those in flight on the lost primary fail.
//
// Fencing, so the old primary never comes back as a second writer: its restart policy set to `no`, stopped, cut off
// the backend network, and `standby.signal` written into its data directory (with FENCE_MARKER saying why) — started
// by hand or re-created by `pulumi up` on the same volume, PostgreSQL itself starts it read-only, in recovery.
import type Docker from "dockerode";
import { isStatus, tarFiles } from "../docker";
import { PGDATA, walEgressNetwork } from "../backup/wal";
import { AFTER_PROMOTE_SQL, FENCE_MARKER, PROMOTE_SQL, STANDBY_SLOT } from "../postgres/standby";
import { DB_HOST, pollUntil } from "../vocabulary";
import { decideFailover, type FailoverTarget, type Observed } from "./plan";
import { inRecovery, inspectMember, isFenced, sqlOn } from "./members";

const DEFAULT_NETWORKS = new Set(["bridge", "host", "none"]);

export interface FailoverOptions {
  docker: Docker;
  target: FailoverTarget;
  /** go ahead although the primary still runs (a planned switchover) */
  yes: boolean;
  log: (line: string) => void;
  /** records the promoted member as the serving one in the stack's config (the CLI: Automation API setConfig) */
  record: (serving: FailoverTarget["standbyMember"]) => Promise<void>;
  now?: () => Date;
}

export interface FailoverResult {
  promoted: string;
  fenced: string;
  /** from the start of the fence to the alias on the promoted member */
  seconds: number;
}

export async function failover(opts: FailoverOptions): Promise<FailoverResult> {
  const { docker, target, log } = opts;
  const seen = await observe(docker, target);
  const decision = decideFailover(target, seen, opts.yes);
  if (!decision.go) throw new Error(decision.why);
  const started = Date.now();
  const network = await backendNetwork(docker, target);

  await fence(docker, target.primary, { stop: decision.stopPrimary, exists: seen.primary.exists, network, log, now: opts.now ?? (() => new Date()) });
  await promote(docker, target, log);
  await moveAlias(docker, target.standby, network, log);
  await joinEgress(docker, target.standby, walEgressNetwork(target.prefix), log);
  const seconds = (Date.now() - started) / 1000;
  await opts.record(target.standbyMember);
  log(`failover: ${target.standby} is the primary (the stack's database.standby.serving is now ${target.standbyMember}); ${target.primary} is fenced. Next: RUNBOOK "The database host is gone", after the failover`);
  return { promoted: target.standby, fenced: target.primary, seconds };
}

async function observe(docker: Docker, t: FailoverTarget): Promise<Observed> {
  const [p, s] = await Promise.all([inspectMember(docker, t.primary), inspectMember(docker, t.standby)]);
  const recovery = s?.State.Running ? await inRecovery(docker, t.standby, t.dbUser) : undefined;
  return {
    primary: { exists: p !== undefined, running: p?.State.Running === true },
    standby: {
      exists: s !== undefined,
      running: s?.State.Running === true,
      ...(s ? { state: s.State.Status, fenced: await isFenced(docker, t.standby) } : {}),
      ...(recovery !== undefined ? { inRecovery: recovery } : {}),
    },
  };
}

/** The network the standby is on (the stack's backend network, where the `db` alias lives). */
async function backendNetwork(docker: Docker, t: FailoverTarget): Promise<string> {
  const s = await docker.getContainer(t.standby).inspect();
  const networks = Object.keys(s.NetworkSettings.Networks ?? {}).filter((n) => !DEFAULT_NETWORKS.has(n));
  const backend = networks.find((n) => n === `${t.prefix}-backend`) ?? networks[0];
  if (backend === undefined) throw new Error(`the standby ${t.standby} is on no network: cannot give it the ${DB_HOST} alias`);
  return backend;
}

async function fence(docker: Docker, name: string, o: { stop: boolean; exists: boolean; network: string; log: (l: string) => void; now: () => Date }): Promise<void> {
  if (!o.exists) {
    o.log(`fence: ${name} is gone (no container): nothing to fence`);
    return;
  }
  const c = docker.getContainer(name);
  // First: Docker must not restart it while we work, nor after.
  await c.update({ RestartPolicy: { Name: "no", MaximumRetryCount: 0 } });
  if (o.stop) {
    o.log(`fence: stopping ${name} (a clean shutdown sends its last WAL to the standby)`);
    await c.stop({ t: 30 }).catch((e: unknown) => (isStatus(e, 304) ? undefined : Promise.reject(e)));
  } else {
    // Docker may be restarting it right now (a restart policy acting on the crash): make sure it is down.
    await c.kill().catch((e: unknown) => (isStatus(e, 409) || isStatus(e, 304) ? undefined : Promise.reject(e)));
  }
  await pollUntil(async () => ((await c.inspect()).State.Running ? undefined : true), { timeoutMs: 60_000, onTimeout: () => new Error(`${name} did not stop within 60 s: nothing promoted; stop it (docker kill ${name}) and run the failover again`) });
  const why = `fenced by npm run failover at ${o.now().toISOString()}: another member was promoted; this data directory must not serve writes again. RUNBOOK "The database host is gone".\n`;
  // PostgreSQL only needs standby.signal to exist (and removes it, as the directory's owner, if ever promoted).
  await c.putArchive(tarFiles([
    { path: "standby.signal", content: "", mode: 0o644 },
    { path: FENCE_MARKER, content: why, mode: 0o644 },
  ]), { path: PGDATA });
  await docker.getNetwork(o.network).disconnect({ Container: name, Force: true }).catch((e: unknown) => (isStatus(e, 404) || isStatus(e, 403) ? undefined : Promise.reject(e)));
  o.log(`fence: ${name} stopped, restart policy no, off ${o.network}, standby.signal in its data directory: started again, it comes up read-only`);
}

async function promote(docker: Docker, t: FailoverTarget, log: (l: string) => void): Promise<void> {
  const sql = sqlOn(docker, t.standby, t.dbUser);
  log(`promote: ${PROMOTE_SQL} on ${t.standby}`);
  const promoted = await sql(PROMOTE_SQL);
  if (promoted !== "t") throw new Error(`${t.standby} was not promoted within 60 s (pg_promote answered '${promoted}'); its log: docker logs ${t.standby}`);
  // The setting it copied from the lost primary would make every commit wait for a standby that does not exist.
  await sql(AFTER_PROMOTE_SQL);
  await sql("SELECT pg_reload_conf()");
  // The slot a new standby (the old primary's member, re-seeded) streams through: slots are not copied by pg_basebackup.
  await sql(`SELECT count(pg_create_physical_replication_slot('${STANDBY_SLOT}')) FROM (SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = '${STANDBY_SLOT}')) s`);
  log(`promote: ${t.standby} is out of recovery (synchronous_standby_names reset, slot ${STANDBY_SLOT} ready for the next standby)`);
}

/** Docker cannot add an alias to a connected container: disconnect and connect again with it. */
async function moveAlias(docker: Docker, name: string, network: string, log: (l: string) => void): Promise<void> {
  const net = docker.getNetwork(network);
  await net.disconnect({ Container: name, Force: true });
  await net.connect({ Container: name, EndpointConfig: { Aliases: [DB_HOST] } });
  log(`alias: ${name} answers as ${DB_HOST} on ${network}`);
}

/**
 * backup.wal.offHost: the promoted member archives off the host too, so it must be on the egress network. A standby
 * created before the stack had it kept its networks (they belong to the failover: ignoreChanges). Nothing to do
 * without the network.
 */
async function joinEgress(docker: Docker, name: string, network: string, log: (l: string) => void): Promise<void> {
  if (!(await docker.getNetwork(network).inspect().then(() => true, (e: unknown) => (isStatus(e, 404) ? false : Promise.reject(e))))) return;
  const on = Object.keys((await docker.getContainer(name).inspect()).NetworkSettings.Networks ?? {});
  if (on.includes(network)) return;
  await docker.getNetwork(network).connect({ Container: name });
  log(`egress: ${name} joined ${network} (its off-host WAL repository)`);
}
