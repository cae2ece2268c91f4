// `npm run status` — what runs on a stack and whether it is healthy: per replica its revision, image, container
// state and health, and its slot at the edge (UP/DRAIN/MAINT/DOWN, weight); the blue-green standby and its expiry;
// site maintenance; the last backup's age and whether it was verified by restore; the last deploys. Exits 1 naming
// what is unhealthy, so it serves as a smoke test in CI and for on-call. Thin: src/status gathers and judges; its flags
// are declared once in src/status/verb.ts.
import { selectStack } from "../release/stack";
import { observe } from "../status/observe";
import { formatReport, judge } from "../status/report";
import { STATUS_VERB } from "../status/verb";
import { intFlag, runVerb, stringFlag } from "./args";

void runVerb(STATUS_VERB, async (values) => {
  const name = stringFlag(values, "stack")!;
  const deploys = intFlag(values, "deploys", 5, 0);
  const report = await observe(await selectStack(name), name, { deploys });
  const now = new Date();
  const verdict = judge(report, now);
  if (values.json) console.log(JSON.stringify({ ...report, ...verdict }, null, 2));
  else console.log(formatReport(report, verdict, now));
  if (!verdict.healthy) process.exitCode = 1;
});
