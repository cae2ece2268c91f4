// `npm run reseed -- --stack S --yes` — the other database member a hot standby again (src/failover/reseed.ts): thin,
// over the stack's outputs and config (which members, which engine) and its lock on the Docker host.
import { LOCK_DEFAULTS } from "../../stacks/schema";
import { connectDocker } from "../docker";
import { withStackLock } from "../docker/stack-lock";
import { failoverTarget } from "../failover/plan";
import { reseed } from "../failover/reseed";
import { RESEED_DEFAULT_TIMEOUT_SECONDS, RESEED_VERB } from "../failover/verb";
import { selectStack } from "../release/stack";
import { intFlag, runVerb, stringFlag } from "./args";

void runVerb(RESEED_VERB, async (values) => {
  const name = stringFlag(values, "stack")!;
  const stack = await selectStack(name).catch((e: Error) => {
    throw new Error(`no Pulumi stack "${name}" here (${e.message.split("\n")[0]})`);
  });
  const [outputs, config] = await Promise.all([stack.outputs(), stack.getAllConfig()]);
  const target = failoverTarget(name, outputs, config);
  const docker = connectDocker(target.dockerHost);
  const log = (line: string) => console.error(line);
  const waitMs = intFlag(values, "stack-lock-wait", LOCK_DEFAULTS.waitSeconds) * 1000;
  const timeoutMs = intFlag(values, "timeout", RESEED_DEFAULT_TIMEOUT_SECONDS, 1) * 1000;
  const result = await withStackLock(docker, { prefix: target.prefix, holder: "reseed", waitMs, log }, () =>
    reseed({ docker, target, yes: values.yes === true, timeoutMs, log }),
  );
  console.log(result.seeded
    ? `reseed of ${name}: ${target.standby} is a standby of ${target.primary}, streaming (${result.seconds.toFixed(1)} s)`
    : `reseed of ${name}: ${target.standby} streams from ${target.primary} already; nothing done`);
});
