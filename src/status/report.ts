// What runs on a stack, and whether it is healthy: the report `npm run status` prints, and the decision it exits
// with. Pure: observe.ts gathers the facts (Docker, the edge's runtime API, the stack's outputs and history, the
// backup directory); here they are judged and drawn as a table.
import { ADMIN_FORCED_DRAIN, ADMIN_FORCED_MAINT, OP_RUNNING } from "../edge/runtime-api";

/** A replica's slot at the edge: UP (serving), DRAIN (no new requests), MAINT (taken out), DOWN (failing checks). */
export type EdgeState = "UP" | "DRAIN" | "MAINT" | "DOWN" | "absent";

export interface ReplicaStatus {
  /** The container (one host), or `<service>.<task id>` (swarm). */
  container: string;
  /** The node a swarm task runs on. */
  node?: string;
  /** Docker's view: running/exited/…, and the health check's status (none when the image has no check). */
  state: string;
  health: string;
  image: string;
  revision: string;
  /** The edge's slot serving this replica's address (`api/s1`), its state and weight; absent when no slot has it. */
  slot?: string;
  edge: EdgeState;
  weight?: number;
}

export interface StandbyStatus {
  revision: string;
  containers: string[];
  /** ISO time after which the next update removes it. */
  until: string;
}

export interface BackupStatus {
  dump: string;
  takenAt: string;
  /** verified = restored into a throwaway database with the same rows; failed; never (no record, or another file's). */
  verification: "verified" | "failed" | "never";
}

export interface DeployStatus {
  position: number;
  startTime: string;
  kind: string;
  result: string;
  image?: string;
  message: string;
}

/** The stack's PostgreSQL (target docker): the serving member, the hot standby (database.standby), WAL archiving (backup.wal). */
export interface DatabaseStatus {
  primary: { container: string; state: string };
  standby?: { container: string; state: string; streaming: boolean; replication?: string; lagBytes?: number };
  /** backup.wal: what the serving member's pg_stat_archiver says (the /health check's judgement) */
  walArchive?: { ok: true } | { ok: false; error: string };
}

export interface StatusReport {
  stack: string;
  /** Where it runs: the stack's dockerHost, or the local engine / DOCKER_HOST. */
  host: string;
  /** The API image the last update deployed (the `image` output). */
  image?: string;
  replicas: ReplicaStatus[];
  /** How many replicas the stack declares (the `replicas` output), where fewer can run than it lists (swarm). */
  wanted?: number;
  standby?: StandbyStatus;
  /** Site maintenance at the edge (npm run maintenance): its message, undefined when off. */
  maintenance?: string;
  /** Swarm: the edge tasks disagree on maintenance (one started after it was set): where it is on and where off. */
  maintenanceSplit?: string;
  /** Swarm, blue-green: the edge tasks (by node) where the idle standby takes traffic (a new edge task starts with every slot ready). */
  standbyTraffic?: string[];
  database?: DatabaseStatus;
  /** The stack's backup settings: its directory and the age limit (maxAgeDays), when it has a backup section. */
  backup?: { dir: string; maxAgeDays?: number; last?: BackupStatus };
  /** The last updates, newest first. */
  deploys: DeployStatus[];
}

export interface Verdict {
  healthy: boolean;
  /** One line per problem, each naming what is unhealthy. */
  problems: string[];
}

const DAY_MS = 86_400_000;
/** HAProxy's srv_admin_state bits: maintenance forced, inherited, from config, by resolution, by health (0x01|0x02|0x04|0x20|0x40); drain forced or inherited (0x08|0x10). */
const MAINT_BITS = ADMIN_FORCED_MAINT | 0x02 | 0x04 | 0x20 | 0x40;
const DRAIN_BITS = ADMIN_FORCED_DRAIN | 0x10;

/** The decision: unhealthy when a replica is not running and healthy and UP at the edge, when the last backup is older
 *  than backup.maxAgeDays (or there is none, or its proof failed), when a blue-green standby outlived its window, when
 *  the database is not running, its hot standby does not stream, or its WAL archiving fails, when edge tasks disagree on
 *  maintenance or the blue-green standby takes traffic at one of them (swarm). */
export function judge(report: StatusReport, now: Date): Verdict {
  const problems: string[] = [];
  if (report.replicas.length === 0) problems.push(`stack "${report.stack}" has no API replicas (is it deployed?)`);
  else if (report.wanted !== undefined && report.replicas.length < report.wanted) problems.push(`${report.replicas.length} of ${report.wanted} API replicas are scheduled`);
  for (const r of report.replicas) {
    const why: string[] = [];
    if (r.state !== "running") why.push(`container ${r.state}`);
    else if (r.health !== "healthy" && r.health !== "none") why.push(`health ${r.health}`);
    if (r.edge !== "UP") why.push(r.edge === "absent" ? "no slot at the edge" : `${r.edge} at the edge${r.slot ? ` (${r.slot})` : ""}`);
    else if (r.weight === 0) why.push(`UP at the edge but weight 0${r.slot ? ` (${r.slot})` : ""}`);
    if (why.length) problems.push(`replica ${r.container}: ${why.join(", ")}`);
  }
  if (report.maintenanceSplit) problems.push(`maintenance differs between the edge tasks (${report.maintenanceSplit}): run npm run maintenance -- --stack ${report.stack} on|off again`);
  if (report.standby && report.standbyTraffic?.length) {
    problems.push(`blue-green standby ${report.standby.containers.join(", ")} takes traffic at the edge on ${report.standbyTraffic.join(", ")} (an edge task started since the switch has every slot ready): promote or roll back once to make it idle again`);
  }
  if (report.standby && Date.parse(report.standby.until) <= now.getTime()) {
    problems.push(`blue-green standby ${report.standby.revision.slice(0, 12)} expired at ${report.standby.until} (the next update removes it)`);
  }
  const b = report.backup;
  if (b?.maxAgeDays !== undefined) {
    if (!b.last) problems.push(`no backup in ${b.dir} (backup.maxAgeDays ${b.maxAgeDays})`);
    else {
      const ageDays = (now.getTime() - Date.parse(b.last.takenAt)) / DAY_MS;
      if (ageDays > b.maxAgeDays) problems.push(`last backup ${b.last.dump} is ${ageDays.toFixed(1)} days old (backup.maxAgeDays ${b.maxAgeDays})`);
    }
  }
  if (b?.last?.verification === "failed") problems.push(`last backup ${b.last.dump} failed its verification by restore`);
  const d = report.database;
  if (d && d.primary.state !== "running") problems.push(`database ${d.primary.container}: container ${d.primary.state} (RUNBOOK "The database host is gone")`);
  if (d?.standby && !d.standby.streaming) {
    problems.push(`hot standby ${d.standby.container} is not streaming from ${d.primary.container} (container ${d.standby.state}${d.standby.replication ? `, replication ${d.standby.replication}` : ""}): no failover possible; after a failover, npm run reseed (RUNBOOK "The database host is gone")`);
  }
  if (d?.walArchive && !d.walArchive.ok) problems.push(`${d.walArchive.error} (RUNBOOK "WalArchiveFailing")`);
  return { healthy: problems.length === 0, problems };
}

function age(fromIso: string, now: Date): string {
  const s = Math.max(0, (now.getTime() - Date.parse(fromIso)) / 1000);
  if (s < 120) return `${Math.round(s)} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172_800) return `${(s / 3600).toFixed(1)} h`;
  return `${(s / 86_400).toFixed(1)} days`;
}

function table(rows: string[][]): string[] {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd());
}

/** The report as text: replicas, standby, maintenance, backup, last deploys, then the verdict. */
export function formatReport(report: StatusReport, verdict: Verdict, now: Date): string {
  const out: string[] = [`stack ${report.stack} on ${report.host}${report.image ? `, image ${report.image}` : ""}`, ""];
  out.push(
    ...table([
      ["REPLICA", ...(report.replicas.some((r) => r.node) ? ["NODE"] : []), "REVISION", "IMAGE", "CONTAINER", "HEALTH", "EDGE", "WEIGHT"],
      ...report.replicas.map((r) => [r.container, ...(report.replicas.some((x) => x.node) ? [r.node ?? "-"] : []), r.revision.slice(0, 12), r.image, r.state, r.health, r.slot ? `${r.edge} ${r.slot}` : r.edge, r.weight === undefined ? "-" : String(r.weight)]),
    ]),
  );
  out.push("");
  if (report.standby) {
    const expired = Date.parse(report.standby.until) <= now.getTime();
    out.push(`standby: ${report.standby.revision.slice(0, 12)} (${report.standby.containers.join(", ")}), ${expired ? "expired" : "expires"} ${report.standby.until}${expired ? "" : ` (in ${age(now.toISOString(), new Date(Date.parse(report.standby.until)))})`}`);
  } else out.push("standby: none");
  out.push(`maintenance: ${report.maintenance === undefined ? "off" : `ON (${report.maintenance})`}`);
  const d = report.database;
  if (d) {
    const hot = d.standby
      ? `; hot standby ${d.standby.container}: ${d.standby.streaming ? `streaming, ${d.standby.lagBytes ?? 0} bytes behind` : `NOT streaming (container ${d.standby.state})`}`
      : "";
    const wal = d.walArchive ? `; WAL archive ${d.walArchive.ok ? "ok" : "FAILING"}` : "";
    out.push(`database: ${d.primary.container} (${d.primary.state})${hot}${wal}`);
  }
  const b = report.backup;
  if (!b) out.push("backup: the stack has no backup section");
  else if (!b.last) out.push(`backup: none in ${b.dir}`);
  else out.push(`backup: ${b.last.dump}, ${age(b.last.takenAt, now)} old, ${b.last.verification === "verified" ? "verified by restore" : b.last.verification === "failed" ? "verification FAILED" : "not verified"}${b.maxAgeDays !== undefined ? ` (maxAgeDays ${b.maxAgeDays})` : ""}`);
  out.push("", "last deploys:");
  out.push(...(report.deploys.length ? table(report.deploys.map((d) => [`#${d.position}`, d.startTime, d.kind, d.result, d.image ?? "-", d.message])).map((l) => `  ${l}`) : ["  none"]));
  out.push("", verdict.healthy ? "healthy" : `UNHEALTHY:\n${verdict.problems.map((p) => `  - ${p}`).join("\n")}`);
  return out.join("\n");
}

/** The edge state of a slot from HAProxy's `show servers state` fields (admin bit field, operational state). */
export function edgeStateOf(adminState: number, opState: number): EdgeState {
  if (adminState & MAINT_BITS) return "MAINT";
  if (adminState & DRAIN_BITS) return "DRAIN";
  return opState === OP_RUNNING ? "UP" : "DOWN";
}
