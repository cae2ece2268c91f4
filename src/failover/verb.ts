// The `npm run failover` verb, declared once: its flags, help and notes (src/cli/failover.ts parses them).
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
    "that is gone, stopped or already a primary, a stack that failed over already (no standby until one is seeded",
    "again), and a primary still running without --yes.",
    "Then: RUNBOOK \"The database host is gone\" (the next deploy, no standby meanwhile, synchronous mode).",
  ],
} as const satisfies VerbSpec;
