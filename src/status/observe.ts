// Gathers what `npm run status` reports, at the edges: the stack's outputs, config and history (Automation API),
// the replicas' containers on the stack's Docker engine (its dockerHost, local or remote over ssh/tcp), their
// slots in the edge's HAProxy (runtime API, through docker exec), site maintenance, and the newest backup in
// the stack's backup directory with its verification record; on a swarm, the serving release's tasks and their slots
// at every edge task, through the manager (swarm.ts). report.ts judges it.
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import type Docker from "dockerode";
import type { Stack } from "@pulumi/pulumi/automation";
import { backupSchema, databaseSchema } from "../../stacks/schema";
import { parseChecksumFile, checksumFileName } from "../backup/checksum";
import { backupOfFile, VERIFIED_SUFFIX } from "../backup/names";
import { verificationState } from "../backup/proof-record";
import { connectDocker, execInContainer, isStatus } from "../docker";
import { maintenanceState } from "../edge/maintenance";
import { runningEdges } from "../edge/proxy";
import { edgeRuntime, type ServerState } from "../edge/runtime-api";
import { IMAGES_KEY, objectOf, updates, type HistoryEntry } from "../release/history";
import { describeHost } from "../release/host";
import { EDGE_BACKEND, LABEL_REVISION, prefixOfDbContainer } from "../vocabulary";
import { walArchiveCheck } from "../api/health";
import { memberSql, STANDBY_APPLICATION } from "../postgres/standby";
import { edgeStateOf, type BackupStatus, type DatabaseStatus, type ReplicaStatus, type StatusReport } from "./report";
import { swarmReplicas } from "./swarm";

const stringOf = (v: { value: unknown } | undefined): string | undefined => (typeof v?.value === "string" && v.value !== "" ? v.value : undefined);

/** The newest finished backup of `prefix` in `dir`, with what its verification record says. */
export async function lastBackup(dir: string, prefix: string): Promise<BackupStatus | undefined> {
  const files = await readdir(dir).catch((e: NodeJS.ErrnoException) => {
    if (e.code === "ENOENT") return [] as string[];
    throw new Error(`cannot read the backup directory ${dir}: ${e.message}`);
  });
  const dumps = files
    .map((f) => backupOfFile(f))
    .filter((b): b is NonNullable<typeof b> => b !== undefined && !b.partial && b.prefix === prefix && files.includes(b.dump))
    .sort((a, b) => b.takenAt.getTime() - a.takenAt.getTime());
  const newest = dumps[0];
  if (!newest) return undefined;
  const read = (f: string) => readFile(join(dir, f), "utf8").catch(() => undefined);
  const sum = parseChecksumFile((await read(checksumFileName(newest.dump))) ?? "");
  const record = await read(`${newest.dump}${VERIFIED_SUFFIX}`);
  const verification = sum ? verificationState(record, newest.dump, sum.sha256).state : "never";
  return { dump: newest.dump, takenAt: newest.takenAt.toISOString(), verification };
}

async function replicaStatus(docker: Docker, name: string, slots: ServerState[]): Promise<ReplicaStatus> {
  const c = await docker
    .getContainer(name)
    .inspect()
    .catch((e: unknown) => {
      if (isStatus(e, 404)) return undefined;
      throw e;
    });
  if (!c) return { container: name, state: "missing", health: "-", image: "-", revision: "-", edge: "absent" };
  const addrs = Object.values(c.NetworkSettings?.Networks ?? {}).map((n) => n.IPAddress).filter((a) => !!a);
  const slot = slots.find((s) => s.addr !== null && addrs.includes(s.addr));
  return {
    container: name,
    state: c.State.Status,
    health: c.State.Health?.Status ?? "none",
    image: c.Config.Image,
    revision: c.Config.Labels?.[LABEL_REVISION] ?? "-",
    ...(slot ? { slot: `${slot.backend}/${slot.name}`, edge: edgeStateOf(slot.adminState, slot.opState), weight: slot.weight } : { edge: "absent" as const }),
  };
}

/**
 * The serving member, its hot standby as the serving member's pg_stat_replication sees it, and its WAL archiving
 * (pg_stat_archiver, judged as the API's /health judges it) — SQL as the superuser on the local socket, through docker exec.
 */
async function databaseStatus(docker: Docker, primary: string, standby: string | undefined, config: Record<string, { value: unknown } | undefined>): Promise<DatabaseStatus> {
  const raw = config["slipway:database"]?.value;
  const user = databaseSchema.safeParse(typeof raw === "string" ? JSON.parse(raw) : (raw ?? {})).data?.user ?? "app";
  const stateOf = (name: string) => docker.getContainer(name).inspect().then((c) => c.State.Status, (e: unknown) => (isStatus(e, 404) ? "missing" : Promise.reject(e)));
  const primaryState = await stateOf(primary);
  const sql = async (statement: string) => {
    const r = await execInContainer(docker, primary, memberSql({ user }, statement), { user: "postgres" }).catch(() => undefined);
    return r?.exitCode === 0 ? r.stdout.trim() : undefined;
  };
  const out: DatabaseStatus = { primary: { container: primary, state: primaryState } };
  if (standby) {
    const row = primaryState === "running" ? await sql(`SELECT state || '|' || coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint, 0) FROM pg_stat_replication WHERE application_name = '${STANDBY_APPLICATION}'`) : undefined;
    const [replication, lag] = (row ?? "").split("|");
    out.standby = {
      container: standby,
      state: await stateOf(standby),
      streaming: replication === "streaming",
      ...(replication ? { replication } : {}),
      ...(lag !== undefined && lag !== "" ? { lagBytes: Number(lag) } : {}),
    };
  }
  if (primaryState === "running") {
    const a = await sql("SELECT current_setting('archive_mode') || '|' || failed_count || '|' || coalesce(last_archived_time::text, '') || '|' || coalesce(last_failed_time::text, '') || '|' || coalesce(last_failed_wal, '') FROM pg_stat_archiver");
    if (a) {
      const [mode, failed, archived, failedAt, failedWal] = a.split("|");
      const check = walArchiveCheck({ mode: mode ?? "off", failedCount: Number(failed), lastArchived: archived ? new Date(archived) : null, lastFailed: failedAt ? new Date(failedAt) : null, lastFailedWal: failedWal || null });
      if (check) out.walArchive = check.ok ? { ok: true } : { ok: false, error: check.error ?? "archiving WAL fails" };
    }
  }
  return out;
}

/** The report for `stack` (selected by the caller); `deploys`: how many of the last updates to list. */
export async function observe(stack: Stack, stackName: string, opts: { deploys?: number; docker?: Docker } = {}): Promise<StatusReport> {
  const [outputs, config, history] = await Promise.all([stack.outputs(), stack.getAllConfig(), stack.history(undefined, undefined, false) as unknown as Promise<HistoryEntry[]>]);
  const dockerHost = stringOf(config["slipway:dockerHost"]);
  const docker = opts.docker ?? connectDocker(dockerHost);
  const db = stringOf(outputs.dbContainer);
  const prefix = (db ? prefixOfDbContainer(db) : undefined) ?? `slipway-${stackName}`;
  const containers = Array.isArray(outputs.apiContainers?.value) ? (outputs.apiContainers.value as string[]) : [];

  let replicas: ReplicaStatus[];
  let maintenance: string | undefined;
  let maintenanceSplit: string | undefined;
  let standbyTraffic: string[] | undefined;
  let wanted: number | undefined;
  if (stringOf(config["slipway:target"]) === "swarm") {
    // The serving release's service (the one name in apiContainers) and maintenance at every edge task, through the manager.
    const edgeImage = objectOf(config[IMAGES_KEY])?.edge;
    if (typeof edgeImage !== "string" || !edgeImage) throw new Error(`stack "${stackName}": ${IMAGES_KEY}.edge is not set; the status report needs it for the relay to the edge tasks`);
    const standbyService = (outputs.apiStandby?.value as { containers?: string[] } | null | undefined)?.containers?.[0];
    const seen = containers[0] ? await swarmReplicas(docker, prefix, containers[0], edgeImage, standbyService) : { replicas: [] };
    replicas = seen.replicas;
    maintenance = seen.maintenance;
    maintenanceSplit = seen.maintenanceSplit;
    standbyTraffic = "standbyTraffic" in seen ? seen.standbyTraffic : undefined;
    wanted = typeof outputs.replicas?.value === "number" ? outputs.replicas.value : undefined;
  } else {
    const edges = await runningEdges(docker, prefix);
    const slots = edges[0] ? await edgeRuntime(docker, edges[0]).serversState(EDGE_BACKEND) : [];
    replicas = await Promise.all(containers.map((name) => replicaStatus(docker, name, slots)));
    maintenance = edges[0] ? await maintenanceState(docker, prefix) : undefined;
  }

  const standbyRaw = outputs.apiStandby?.value as { revision?: string; containers?: string[]; until?: string } | null | undefined;
  const standby = standbyRaw && typeof standbyRaw.until === "string" ? { revision: standbyRaw.revision ?? "-", containers: standbyRaw.containers ?? [], until: standbyRaw.until } : undefined;

  const database = stringOf(config["slipway:target"]) !== "swarm" && db ? await databaseStatus(docker, db, stringOf(outputs.dbStandbyContainer), config) : undefined;

  const backupRaw = config["slipway:backup"]?.value;
  const parsed = backupRaw === undefined ? undefined : backupSchema.safeParse(typeof backupRaw === "string" ? JSON.parse(backupRaw) : backupRaw);
  const settings = parsed?.success ? parsed.data : undefined;
  const last = settings ? await lastBackup(settings.dir, prefix) : undefined;

  const deploys = updates(history)
    .reverse()
    .slice(0, opts.deploys ?? 5)
    .map((u) => ({ position: u.position, startTime: u.startTime.toISOString(), kind: u.kind, result: u.result, ...(u.images ? { image: u.images.api } : {}), message: u.message.split("\n")[0] ?? "" }));

  return {
    stack: stackName,
    host: describeHost(dockerHost),
    ...(stringOf(outputs.image) ? { image: stringOf(outputs.image) } : {}),
    replicas,
    ...(wanted !== undefined ? { wanted } : {}),
    ...(standby ? { standby } : {}),
    ...(maintenance !== undefined ? { maintenance } : {}),
    ...(maintenanceSplit !== undefined ? { maintenanceSplit } : {}),
    ...(standbyTraffic?.length ? { standbyTraffic } : {}),
    ...(database ? { database } : {}),
    ...(settings ? { backup: { dir: settings.dir, ...(settings.maxAgeDays !== undefined ? { maxAgeDays: settings.maxAgeDays } : {}), ...(last ? { last } : {}) } } : {}),
    deploys,
  };
}
