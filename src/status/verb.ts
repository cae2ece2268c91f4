// The `npm run status` verb, declared once: its flags, help and notes. src/cli/status.ts parses them; a caller that
// runs the verb as a command line (a test, a script) builds it from the same declaration (statusVerb), so a flag
// cannot exist in one place and not the other.
import { type FlagValues, verbCommand, type VerbSpec } from "../vocabulary/verbs";

export const STATUS_VERB = {
  name: "status",
  summary: "Show what runs on a stack (replicas, edge, standby, backup, last deploys); exit 1 naming what is unhealthy.",
  flags: {
    stack: { type: "string", value: "<stack>", description: "stack to report on (must exist)", required: true },
    json: { type: "boolean", description: "print the report and the verdict as JSON instead of the table" },
    deploys: { type: "string", value: "<n>", description: "how many of the last updates to list (default 5)" },
  },
  notes: [
    "Read from the stack's outputs, config and history, its Docker engine (slipway:dockerHost, local or remote),",
    "the edge's HAProxy runtime API and the stack's backup.dir. Unhealthy (exit 1): a replica not running, not",
    "healthy, or not UP with weight at the edge; a blue-green standby past its window; the last backup older than",
    "backup.maxAgeDays (or none, when maxAgeDays is set); a last backup whose verification failed; the database",
    "container not running; a hot standby (database.standby) not streaming; WAL archiving (backup.wal) failing.",
    "On a swarm (slipway:target swarm), through the manager: the serving release's tasks with their node, each UP only",
    "when UP at every edge task; fewer tasks than the stack declares is unhealthy too, and so are edge tasks that",
    "disagree on maintenance and a blue-green standby taking traffic at an edge task (one started since the switch).",
  ],
} as const satisfies VerbSpec;

/** `npm run status` as argv, run from the repository root. */
export function statusVerb(flags: FlagValues<typeof STATUS_VERB.flags>): string[] {
  return verbCommand(STATUS_VERB, flags);
}
