// What `npm run failover` and `npm run reseed` decide, pure: which stack members it works on (from the stack's outputs and config), and —
// given what runs — whether it may go ahead or must refuse, naming why and what to do instead. No Docker here.
import { databaseSchema, type RestartPolicy, type StandbySettings } from "../../stacks/schema";
import { memberNames } from "../postgres/standby";
import { prefixOfDbContainer } from "../vocabulary";

/** Stack outputs and `slipway:` config values as the Automation API returns them (objects as JSON text). */
export type Values = Record<string, { value: unknown } | undefined>;

export interface FailoverTarget {
  prefix: string;
  /** the member that serves now (database.standby.serving): the primary to fence, or to seed a standby from */
  primary: string;
  /** the other member: the standby to promote, or to seed again */
  standby: string;
  /** which member the standby is, as database.standby.serving names it once promoted */
  standbyMember: StandbySettings["serving"];
  /** the superuser (database.user): the failover's SQL runs as it on the standby's local socket */
  dbUser: string;
  /** database.restartPolicy: what a re-seeded member gets back (a fenced one has `no`) */
  restartPolicy: RestartPolicy;
  /** database.standby.synchronous: switched on again on the serving member once a re-seeded standby streams */
  synchronous: boolean;
  dockerHost?: string;
}

/**
 * The stack's members and settings, or the refusal: swarm, no standby, not deployed. The primary is the member that
 * serves now, whichever it is (a stack that failed over once fails back the same way, once its other member is a
 * standby again: `npm run reseed`).
 */
export function failoverTarget(stackName: string, outputs: Values, config: Values): FailoverTarget {
  if (config["slipway:target"]?.value === "swarm") {
    throw new Error(`stack "${stackName}" runs on target swarm, where slipway declares no hot standby yet (README "Target swarm"): there is nothing to fail over to`);
  }
  const json = (v: unknown): unknown => (typeof v === "string" ? JSON.parse(v) : v);
  const database = databaseSchema.safeParse(json(config["slipway:database"]?.value) ?? {});
  if (!database.success) throw new Error(`stack "${stackName}" has invalid database settings: ${database.error.issues.map((i) => `slipway:database.${i.path.join(".")}: ${i.message}`).join("; ")}`);
  const standby = database.data.standby;
  if (!standby.enabled) {
    throw new Error(
      `stack "${stackName}" has no hot standby (slipway:database.standby.enabled is not true): there is nothing to promote. ` +
      `To bring a lost database back, restore it (npm run restore -- --stack ${stackName} --to-latest with backup.wal, or --file with a dump; RUNBOOK "The database host is gone"); ` +
      `to have a standby next time, set database.standby.enabled: true and deploy`,
    );
  }
  // The outputs name the members as of the last `pulumi up`; which one serves is the stack file's (the failover writes
  // it at once, the outputs follow at the next up): a re-seed or a failover back right after a failover needs it.
  const deployed = outputs.dbContainer?.value;
  if (typeof deployed !== "string" || deployed === "" || typeof outputs.dbStandbyContainer?.value !== "string") {
    throw new Error(`stack "${stackName}" has no dbContainer/dbStandbyContainer outputs: deploy it with database.standby.enabled first (npm run promote -- --stack ${stackName} ...)`);
  }
  const prefix = prefixOfDbContainer(deployed);
  if (prefix === undefined) throw new Error(`stack "${stackName}": dbContainer ${deployed} is not a slipway database container (<prefix>-db or <prefix>-db-standby)`);
  const members = memberNames(prefix);
  const [primary, other] = standby.serving === "db" ? [members.db, members.standby] : [members.standby, members.db];
  const dockerHost = config["slipway:dockerHost"]?.value;
  return {
    prefix,
    primary,
    standby: other,
    standbyMember: standby.serving === "db" ? "standby" : "db",
    dbUser: database.data.user,
    restartPolicy: database.data.restartPolicy,
    synchronous: standby.synchronous,
    ...(typeof dockerHost === "string" && dockerHost !== "" ? { dockerHost } : {}),
  };
}

/** What runs, as the failover observed it just before acting. */
export interface Observed {
  primary: { exists: boolean; running: boolean };
  standby: { exists: boolean; running: boolean; state?: string; inRecovery?: boolean; /** its data directory holds the fence marker */ fenced?: boolean };
}

export type FailoverDecision = { go: true; stopPrimary: boolean } | { go: false; why: string };

/**
 * Whether to fail over. A standby that is gone, stopped or already a primary cannot be promoted; a primary that still
 * runs is stopped only when the operator says so (`--yes`: a planned switchover), since a failover is for a lost one.
 */
export function decideFailover(t: Pick<FailoverTarget, "primary" | "standby">, seen: Observed, yes: boolean): FailoverDecision {
  if (!seen.standby.exists) return { go: false, why: `the standby container ${t.standby} does not exist: nothing to promote (deploy the stack to create it; RUNBOOK "The database host is gone")` };
  if (seen.standby.fenced) return { go: false, why: `${t.standby} was fenced by a failover: it is no standby until it is seeded again from the primary (npm run reseed; RUNBOOK "The database host is gone"); nothing was changed` };
  if (!seen.standby.running) return { go: false, why: `the standby container ${t.standby} is not running (${seen.standby.state ?? "stopped"}): start it (docker start ${t.standby}) and run the failover again` };
  if (seen.standby.inRecovery === false) return { go: false, why: `${t.standby} is not a standby: it is a primary already (not in recovery). Nothing was changed; if a failover was interrupted, see RUNBOOK "The database host is gone"` };
  if (seen.standby.inRecovery === undefined) return { go: false, why: `${t.standby} does not answer on its local socket: cannot tell whether it is a standby; nothing was changed (docker logs ${t.standby})` };
  if (seen.primary.running && !yes) {
    return { go: false, why: `the primary ${t.primary} is still running: a failover stops and fences it. For a planned switchover pass --yes (its last WAL reaches the standby as it stops); nothing was changed` };
  }
  return { go: true, stopPrimary: seen.primary.running };
}

/** What `npm run reseed` observed: the serving member, and the other one it would seed again. */
export interface ReseedObserved {
  serving: { running: boolean; inRecovery?: boolean };
  other: { exists: boolean; running: boolean; inRecovery?: boolean; streaming: boolean; fenced: boolean };
}

export type ReseedDecision = { go: true; stopOther: boolean } | { go: false; done?: true; why: string };

/**
 * Whether to seed the other member again. It empties that member's data directory, so: only with `yes`, only from a
 * serving member that is a primary, never over a member that runs as a primary itself (a second writer: which data is
 * right is a person's call), and not when it streams already (nothing to do).
 */
export function decideReseed(t: Pick<FailoverTarget, "primary" | "standby">, seen: ReseedObserved, yes: boolean): ReseedDecision {
  if (!seen.serving.running) return { go: false, why: `the serving member ${t.primary} is not running: a standby is seeded from it (start it, or fail over to the other member first); nothing was changed` };
  if (seen.serving.inRecovery !== false) return { go: false, why: `the serving member ${t.primary} is not a primary (${seen.serving.inRecovery ? "in recovery" : "no answer on its local socket"}): nothing to seed from; nothing was changed` };
  if (!seen.other.exists) return { go: false, why: `${t.standby} does not exist: deploy the stack (pulumi up) to create it, then run the re-seed; nothing was changed` };
  if (seen.other.running && seen.other.inRecovery === false) {
    return { go: false, why: `${t.standby} runs as a primary too: two writers. Stop it (docker stop ${t.standby}) once you know which data is right, then run the re-seed; nothing was changed` };
  }
  if (seen.other.streaming) return { go: false, done: true, why: `${t.standby} is a standby streaming from ${t.primary} already: nothing to do` };
  if (!yes) {
    return {
      go: false,
      why: `a re-seed empties ${t.standby}'s data directory${seen.other.fenced ? " (fenced by the failover: what it wrote that never reached the new primary is lost with it)" : ""} and copies ${t.primary}'s into it. Pass --yes to go ahead; nothing was changed`,
    };
  }
  return { go: true, stopOther: seen.other.running };
}
