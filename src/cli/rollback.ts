// `npm run rollback` — put a stack back on an earlier release from its `pulumi stack history`: the API image
// and the API settings (slipway:api) as that release ran them, through the same one-at-a-time rollout as any
// deploy. Migrations are expand/contract (RUNBOOK.md), so the older API runs against the newer schema.
// Thin: the verb is src/release/rollback.ts.
import { ReleaseError } from "../release/history";
import { listReleases, rollback } from "../release/rollback";
import { selectStack } from "../release/stack";
import { intFlag, runVerb, stringFlag, UsageError, type VerbSpec } from "./args";

const spec: VerbSpec = {
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
};

void runVerb(spec, async (values) => {
  const name = stringFlag(values, "stack")!;
  const to = values.to === undefined ? undefined : intFlag(values, "to", 0, 1);
  const steps = values.steps === undefined ? undefined : intFlag(values, "steps", 1, 1);
  if (to !== undefined && steps !== undefined) throw new UsageError("give either --to or --steps, not both");
  const stack = await selectStack(name);
  if (values.list) {
    console.log(await listReleases(stack));
    return;
  }
  const result = await rollback(stack, {
    to,
    steps,
    reason: stringFlag(values, "reason"),
    withEdge: values["with-edge"] === true,
    dryRun: values["dry-run"] === true,
    log: (s) => process.stdout.write(s),
  }).catch((e: Error) => {
    throw e instanceof ReleaseError ? new Error(`refused: ${e.message}`) : e;
  });
  if (!result.outputs) {
    console.log(`dry run: nothing changed; the update message would be "${result.plan.message}"`);
    return;
  }
  console.log(`\nrolled back ${name} to #${result.to.position} ${result.to.images.api}: ${String(result.outputs.edgeUrl)}/health`);
});
