// `npm run rollback` — put a stack back on the release before the current one, read from
// `pulumi stack history`, with the same one-at-a-time rollout as any deploy. Migrations are
// expand/contract (RUNBOOK.md), so the older API runs against the newer schema.
import { rollbackTarget } from "../release/history";
import { deploy, history, openStack, setImages } from "../release/stack";
import { intFlag, runVerb, stringFlag, type VerbSpec } from "./args";

const spec: VerbSpec = {
  name: "rollback",
  summary: "Redeploy the images of an earlier successful release of a stack (from its Pulumi history).",
  flags: {
    stack: { type: "string", value: "<stack>", description: "stack to roll back", required: true },
    steps: { type: "string", value: "<n>", description: "how many releases back (default 1: the previous one)" },
    "dry-run": { type: "boolean", description: "print the target release and stop" },
  },
  notes: ["A release is a run of successful updates with the same API image; config-only updates do not count."],
};

void runVerb(spec, async (values) => {
  const name = stringFlag(values, "stack")!;
  const stack = await openStack(name);
  const { from, to } = rollbackTarget(name, await history(stack), intFlag(values, "steps", 1, 1));
  console.log(`rollback ${name}: ${from.images.api} → ${to.images.api} (release of ${to.startTime.toISOString()}, "${to.message}")`);
  if (values["dry-run"]) return;
  await setImages(stack, to.images);
  const outputs = await deploy(stack, `rollback to ${to.images.api}`, (s) => process.stdout.write(s));
  console.log(`\nrolled back ${name} to ${to.images.api}: ${String(outputs.edgeUrl)}/health`);
});
