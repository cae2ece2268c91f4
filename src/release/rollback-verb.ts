// The `npm run rollback` verb, declared once: its flags, help and notes. src/cli/rollback.ts parses them; a caller
// that runs the verb as a command line (a test, a script) builds it from the same declaration (rollbackVerb), so a
// flag cannot exist in one place and not the other.
import { type FlagValues, verbCommand, type VerbSpec } from "../vocabulary/verbs";

export const ROLLBACK_VERB = {
  name: "rollback",
  summary: "Restore an earlier release of a stack (API image + slipway:api settings) from its Pulumi history, with a rolling `pulumi up`.",
  flags: {
    stack: { type: "string", value: "<stack>", description: "stack to roll back (must exist)", required: true },
    list: { type: "boolean", description: "list every update (position, time, outcome, API image, message) and stop" },
    to: { type: "string", value: "<n>", description: "restore the release at position n of --list (default: the one before the running release)" },
    steps: { type: "string", value: "<n>", description: "go n releases back along the history (default 1); not with --to" },
    reason: { type: "string", value: "<text>", description: "why, recorded in the update message (pulumi stack history)" },
    "with-edge": { type: "boolean", description: "also restore the release's edge (HAProxy) image; by default the edge is left as it is" },
    "dry-run": { type: "boolean", description: "check (history, image on the Docker host) and print what would change, then stop" },
  },
  notes: [
    "A release is what a successful update deployed: slipway:images.api and slipway:api (replicas, limits, env,",
    "healthcheck, rollout, volumes, restartPolicy, port). Updates that changed only the edge or nothing count as",
    "the release before them; failed updates never count. slipway:images.postgres and secretEnv are never changed.",
    "Each rollback records `rollback to #<n> <image>` in its update message; rolling back again goes to the release",
    "before #<n> (two rollbacks = two releases back). Refused, with nothing changed: no earlier release, the image",
    "not on the stack's Docker host (or its tag moved), the stack locked by a running update (RUNBOOK §6).",
    "Afterwards commit Pulumi.<stack>.yaml: it now holds the restored release.",
  ],
} as const satisfies VerbSpec;

/** `npm run rollback` as argv, run from the repository root. */
export function rollbackVerb(flags: FlagValues<typeof ROLLBACK_VERB.flags>): string[] {
  return verbCommand(ROLLBACK_VERB, flags);
}
