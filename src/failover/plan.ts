// What `npm run failover` decides, pure: which stack members it works on (from the stack's outputs and config), and —
// given what runs — whether it may go ahead or must refuse, naming why and what to do instead. No Docker here.
import { databaseSchema, type StandbySettings } from "../../stacks/schema";
import { prefixOfDbContainer } from "../vocabulary";

/** Stack outputs and `slipway:` config values as the Automation API returns them (objects as JSON text). */
export type Values = Record<string, { value: unknown } | undefined>;

export interface FailoverTarget {
  prefix: string;
  /** the member that serves now (the `dbContainer` output): the primary to fence */
  primary: string;
  /** the other member (the `dbStandbyContainer` output): the standby to promote */
  standby: string;
  /** which member the standby is, as database.standby.serving names it once promoted */
  standbyMember: StandbySettings["serving"];
  /** the superuser (database.user): the failover's SQL runs as it on the standby's local socket */
  dbUser: string;
  dockerHost?: string;
}

/** The stack's members and settings, or the refusal: swarm, no standby, not deployed. */
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
  if (standby.serving === "standby") {
    throw new Error(
      `stack "${stackName}" failed over already: its standby was promoted (slipway:database.standby.serving is standby) and the old primary is fenced, ` +
      `so there is no standby to promote until a new one is seeded (RUNBOOK "The database host is gone", step "a standby again")`,
    );
  }
  const primary = outputs.dbContainer?.value;
  const other = outputs.dbStandbyContainer?.value;
  if (typeof primary !== "string" || typeof other !== "string" || primary === "" || other === "") {
    throw new Error(`stack "${stackName}" has no dbContainer/dbStandbyContainer outputs: deploy it with database.standby.enabled first (npm run promote -- --stack ${stackName} ...)`);
  }
  const prefix = prefixOfDbContainer(primary);
  if (prefix === undefined) throw new Error(`stack "${stackName}": dbContainer ${primary} is not a slipway database container (<prefix>-db or <prefix>-db-standby)`);
  const dockerHost = config["slipway:dockerHost"]?.value;
  return {
    prefix,
    primary,
    standby: other,
    standbyMember: standby.serving === "db" ? "standby" : "db",
    dbUser: database.data.user,
    ...(typeof dockerHost === "string" && dockerHost !== "" ? { dockerHost } : {}),
  };
}

/** What runs, as the failover observed it just before acting. */
export interface Observed {
  primary: { exists: boolean; running: boolean };
  standby: { exists: boolean; running: boolean; state?: string; inRecovery?: boolean };
}

export type FailoverDecision = { go: true; stopPrimary: boolean } | { go: false; why: string };

/**
 * Whether to fail over. A standby that is gone, stopped or already a primary cannot be promoted; a primary that still
 * runs is stopped only when the operator says so (`--yes`: a planned switchover), since a failover is for a lost one.
 */
export function decideFailover(t: Pick<FailoverTarget, "primary" | "standby">, seen: Observed, yes: boolean): FailoverDecision {
  if (!seen.standby.exists) return { go: false, why: `the standby container ${t.standby} does not exist: nothing to promote (deploy the stack to create it; RUNBOOK "The database host is gone")` };
  if (!seen.standby.running) return { go: false, why: `the standby container ${t.standby} is not running (${seen.standby.state ?? "stopped"}): start it (docker start ${t.standby}) and run the failover again` };
  if (seen.standby.inRecovery === false) return { go: false, why: `${t.standby} is not a standby: it is a primary already (not in recovery). Nothing was changed; if a failover was interrupted, see RUNBOOK "The database host is gone"` };
  if (seen.standby.inRecovery === undefined) return { go: false, why: `${t.standby} does not answer on its local socket: cannot tell whether it is a standby; nothing was changed (docker logs ${t.standby})` };
  if (seen.primary.running && !yes) {
    return { go: false, why: `the primary ${t.primary} is still running: a failover stops and fences it. For a planned switchover pass --yes (its last WAL reaches the standby as it stops); nothing was changed` };
  }
  return { go: true, stopPrimary: seen.primary.running };
}
