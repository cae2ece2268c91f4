// `npm run failover -- --stack S [--yes]` — the hot standby becomes the primary (src/failover): thin, over the stack's
// outputs and config (which members, which engine) and its lock on the Docker host.
import { LOCK_DEFAULTS } from "../../stacks/schema";
import { connectDocker } from "../docker";
import { withStackLock } from "../docker/stack-lock";
import { failover } from "../failover/failover";
import { failoverTarget } from "../failover/plan";
import { FAILOVER_VERB } from "../failover/verb";
import { selectStack } from "../release/stack";
import { intFlag, runVerb, stringFlag } from "./args";

void runVerb(FAILOVER_VERB, async (values) => {
  const name = stringFlag(values, "stack")!;
  const stack = await selectStack(name).catch((e: Error) => {
    throw new Error(`no Pulumi stack "${name}" here (${e.message.split("\n")[0]})`);
  });
  // Both at once: each is a `pulumi` process, and writes wait meanwhile.
  const [outputs, config] = await Promise.all([stack.outputs(), stack.getAllConfig()]);
  const target = failoverTarget(name, outputs, config);
  const docker = connectDocker(target.dockerHost);
  const log = (line: string) => console.error(line);
  const waitMs = intFlag(values, "stack-lock-wait", LOCK_DEFAULTS.waitSeconds) * 1000;
  const result = await withStackLock(docker, { prefix: target.prefix, holder: "failover", waitMs, log }, () =>
    failover({
      docker,
      target,
      yes: values.yes === true,
      log,
      record: (serving) => stack.setConfig("slipway:database.standby.serving", { value: serving }, true),
    }),
  );
  console.log(`failover of ${name}: ${result.promoted} is the primary, ${result.fenced} fenced (${result.seconds.toFixed(1)} s)`);
});
