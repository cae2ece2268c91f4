// Gathers what `npm run status` reports, at the edges: the stack's outputs, config and history (Automation API),
// the replicas' containers on the stack's Docker engine (its dockerHost, local or remote over ssh/tcp), their
// slots in the edge's HAProxy (runtime API, through docker exec), site maintenance, and the newest backup in
// the stack's backup directory with its verification record; on a swarm, the serving release's tasks and their slots
// at every edge task, through the manager (swarm.ts). report.ts judges it.
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import type Docker from "dockerode";
import type { Stack } from "@pulumi/pulumi/automation";
import { backupSchema } from "../../stacks/schema";
import { parseChecksumFile, checksumFileName } from "../backup/checksum";
import { backupOfFile, VERIFIED_SUFFIX } from "../backup/names";
import { verificationState } from "../backup/proof-record";
import { connectDocker, isStatus } from "../docker";
import { maintenanceState } from "../edge/maintenance";
import { runningEdges } from "../edge/proxy";
import { edgeRuntime, type ServerState } from "../edge/runtime-api";
import { IMAGES_KEY, objectOf, updates, type HistoryEntry } from "../release/history";
import { describeHost } from "../release/host";
import { EDGE_BACKEND, LABEL_REVISION, prefixOfDbContainer } from "../vocabulary";
import { edgeStateOf, type BackupStatus, type ReplicaStatus, type StatusReport } from "./report";
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
  let wanted: number | undefined;
  if (stringOf(config["slipway:target"]) === "swarm") {
    // The serving release's service (the one name in apiContainers) through the manager; no maintenance verb there.
    const edgeImage = objectOf(config[IMAGES_KEY])?.edge;
    if (typeof edgeImage !== "string" || !edgeImage) throw new Error(`stack "${stackName}": ${IMAGES_KEY}.edge is not set; the status report needs it for the relay to the edge tasks`);
    replicas = containers[0] ? await swarmReplicas(docker, prefix, containers[0], edgeImage) : [];
    wanted = typeof outputs.replicas?.value === "number" ? outputs.replicas.value : undefined;
  } else {
    const edges = await runningEdges(docker, prefix);
    const slots = edges[0] ? await edgeRuntime(docker, edges[0]).serversState(EDGE_BACKEND) : [];
    replicas = await Promise.all(containers.map((name) => replicaStatus(docker, name, slots)));
    maintenance = edges[0] ? await maintenanceState(docker, prefix) : undefined;
  }

  const standbyRaw = outputs.apiStandby?.value as { revision?: string; containers?: string[]; until?: string } | null | undefined;
  const standby = standbyRaw && typeof standbyRaw.until === "string" ? { revision: standbyRaw.revision ?? "-", containers: standbyRaw.containers ?? [], until: standbyRaw.until } : undefined;

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
    ...(settings ? { backup: { dir: settings.dir, ...(settings.maxAgeDays !== undefined ? { maxAgeDays: settings.maxAgeDays } : {}), ...(last ? { last } : {}) } } : {}),
    deploys,
  };
}
