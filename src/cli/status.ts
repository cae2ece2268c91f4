// `npm run status` — what runs on a stack and whether it is healthy: per replica its revision, image, container
// state and health, and its slot at the edge (UP/DRAIN/MAINT/DOWN, weight); the blue-green standby and its expiry;
// site maintenance; the last backup's age and whether it was verified by restore; the last deploys. Exits 1 naming
// what is unhealthy, so it serves as a smoke test in CI and for on-call. Thin: src/status gathers and judges.
import { selectStack } from "../release/stack";
import { observe } from "../status/observe";
import { formatReport, judge } from "../status/report";
import { intFlag, runVerb, stringFlag, type VerbSpec } from "./args";

const spec: VerbSpec = {
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
    "backup.maxAgeDays (or none, when maxAgeDays is set); a last backup whose verification failed.",
  ],
};

void runVerb(spec, async (values) => {
  const name = stringFlag(values, "stack")!;
  const deploys = intFlag(values, "deploys", 5, 0);
  const report = await observe(await selectStack(name), name, { deploys });
  const now = new Date();
  const verdict = judge(report, now);
  if (values.json) console.log(JSON.stringify({ ...report, ...verdict }, null, 2));
  else console.log(formatReport(report, verdict, now));
  if (!verdict.healthy) process.exitCode = 1;
});
