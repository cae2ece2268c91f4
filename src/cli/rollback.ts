// `npm run rollback` — put a stack back on an earlier release from its `pulumi stack history`: the API image
// and the API settings (slipway:api) as that release ran them, through the same one-at-a-time rollout as any
// deploy. Migrations are expand/contract (RUNBOOK.md), so the older API runs against the newer schema.
// Thin: the verb is src/release/rollback.ts; its flags are declared once in src/release/rollback-verb.ts.
import { ReleaseError } from "../release/history";
import { listReleases, rollback } from "../release/rollback";
import { selectStack } from "../release/stack";
import { ROLLBACK_VERB } from "../release/rollback-verb";
import { intFlag, runVerb, stringFlag, UsageError } from "./args";

void runVerb(ROLLBACK_VERB, async (values) => {
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
