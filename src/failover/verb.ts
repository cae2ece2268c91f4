// The `npm run failover` and `npm run reseed` verbs, declared once: its flags, help and notes (src/cli/failover.ts and src/cli/reseed.ts parse them).
import { LOCK_DEFAULTS } from "../../stacks/schema";
import type { VerbSpec } from "../vocabulary/verbs";

export const FAILOVER_VERB = {
  name: "failover",
  summary: "Promote a stack's hot standby (database.standby) to primary, fence the old primary and move the API to the new one.",
  flags: {
    stack: { type: "string", value: "<stack>", description: "the Pulumi stack (staging, production)", required: true },
    yes: { type: "boolean", description: "go ahead although the primary still runs (a planned switchover: it is stopped cleanly first)" },
    "stack-lock-wait": { type: "string", value: "<s>", description: `while a deploy (or another verb) holds the stack's lock on its Docker host, wait up to s seconds, then refuse naming the holder (default ${LOCK_DEFAULTS.waitSeconds}; 0: refuse at once)` },
  },
  notes: [
    "Steps: the primary's restart policy set to no, the primary stopped, standby.signal written into its data directory",
    "and the container taken off the backend network (fenced: started again, it is read-only and unreachable as db);",
    "pg_promote() on the standby (synchronous_standby_names reset there); the `db` alias moved to it; the stack's",
    "database.standby.serving set to the promoted member (Pulumi.<stack>.yaml: commit it). The next `pulumi up` replaces",
    "no database container and runs the roles, backup and migrations on the promoted member. API replicas reconnect by",
    "themselves: requests wait for a connection up to database.standby.apiWaitSeconds; only those in flight on the lost",
    "primary fail.",
    "Refused, changing nothing: a stack without database.standby.enabled (restore instead), on target swarm, a standby",
    "that is gone, stopped, fenced by an earlier failover (seed it again first: npm run reseed) or already a primary,",
    "and a primary still running without --yes.",
    "Then: RUNBOOK \"The database host is gone\" (the next deploy, no standby meanwhile, synchronous mode).",
  ],
} as const satisfies VerbSpec;

export const RESEED_DEFAULT_TIMEOUT_SECONDS = 900;

export const RESEED_VERB = {
  name: "reseed",
  summary: "Seed a stack's other database member again as a hot standby of the serving one: after a failover (the fenced old primary), or a standby too far behind.",
  flags: {
    stack: FAILOVER_VERB.flags.stack,
    yes: { type: "boolean", description: "go ahead: the other member's data directory is emptied and copied again from the serving member" },
    timeout: { type: "string", value: "<s>", description: `how long the copy and the first streaming may take, each (default ${RESEED_DEFAULT_TIMEOUT_SECONDS})` },
    "stack-lock-wait": FAILOVER_VERB.flags["stack-lock-wait"],
  },
  notes: [
    "Steps: the other member's restart policy set to no, stopped; a fresh replication slot on the serving member; a",
    "throwaway container of the member's image on its data volume empties it and copies the serving member's with",
    "pg_basebackup through the slot (as the replication role, its password a file); the member back on the backend",
    "network without the db alias, its restart policy as database.restartPolicy declares it, started: a standby",
    "streaming from db. With database.standby.synchronous, commits wait for it again. No declaration changes: the next",
    "`pulumi up` replaces no container. A failover back to it is then possible (npm run failover -- --yes: a switchover).",
    "Refused, changing nothing: without --yes, a serving member that is stopped or not a primary, an other member that",
    "runs as a primary too (two writers: stop the one whose data is wrong first), target swarm, no standby. Nothing to",
    "do when it streams already (exit 0).",
  ],
} as const satisfies VerbSpec;
