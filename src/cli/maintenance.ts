// `npm run maintenance -- --stack S on|off [--message M]` — the edge answers every request with 503, Retry-After
// and the message, while the replicas and the database keep running untouched (for a restore, a risky migration,
// an incident). Through HAProxy's runtime API: no reload, no restart; a later deploy keeps the state. On a swarm, at
// every edge task through the manager (src/swarm/maintenance.ts).
import { connectDocker } from "../docker";
import { DEFAULT_MAINTENANCE_MESSAGE, setMaintenance } from "../edge/maintenance";
import { LABEL_STACK, prefixOfDbContainer } from "../vocabulary";
import { LOCK_DEFAULTS } from "../../stacks/schema";
import { withStackLock } from "../docker/stack-lock";
import { selectStack } from "../release/stack";
import { IMAGES_KEY, objectOf } from "../release/history";
import { relayImageOf } from "../release/target";
import { setSwarmMaintenance } from "../swarm/maintenance";
import { swarmEdgeTarget } from "../swarm/spec";
import { intFlag, runVerb, stringFlag, type VerbSpec } from "./args";

const spec: VerbSpec = {
  name: "maintenance",
  summary: "Put a stack's edge in maintenance mode (503 + Retry-After + message for every request) or take it out.",
  flags: {
    stack: { type: "string", value: "<stack>", description: "the Pulumi stack (staging, production)", required: true },
    message: { type: "string", value: "<text>", description: `shown to clients (default: "${DEFAULT_MAINTENANCE_MESSAGE}")` },
    "stack-lock-wait": { type: "string", value: "<s>", description: `while a deploy (or another verb) holds the stack's lock on its Docker host, wait up to s seconds, then refuse naming the holder (default ${LOCK_DEFAULTS.waitSeconds}; 0: refuse at once)` },
  },
  positional: { name: "state", choices: ["on", "off"] },
  notes: [
    "Replicas keep running; `curl <edgeUrl>/health` answers 503 with the message while it is on.",
    "It takes the stack's lock on the Docker host (<prefix>-lock): during a deploy it waits until the deploy is done",
    "(--stack-lock-wait), so a new edge taking over cannot miss the change.",
    "Target swarm: set at every edge task through the manager (a relay container on the control overlay); each task",
    "keeps it across a config reload; a new edge task (an edge image change, a node back) starts with it off, which",
    "`npm run status` reports — run the verb again.",
  ],
};

void runVerb(spec, async (values) => {
  const name = stringFlag(values, "stack")!;
  const stack = await selectStack(name).catch((e: Error) => {
    throw new Error(`no Pulumi stack "${name}" here (${e.message.split("\n")[0]})`);
  });
  const config = await stack.getAllConfig();
  const swarm = config["slipway:target"]?.value === "swarm";
  const outputs = await stack.outputs();
  const edge = outputs.edgeContainer?.value;
  if (typeof edge !== "string" || edge === "") throw new Error(`stack "${name}" has no running edge (output edgeContainer): deploy it first`);
  const dockerHost = config["slipway:dockerHost"]?.value;
  const docker = connectDocker(typeof dockerHost === "string" && dockerHost !== "" ? dockerHost : undefined);
  // The stack's Docker prefix, as the backup and restore verbs read it (src/release/target.ts): not from the edge
  // container the outputs name, which a deploy running now may be replacing.
  const db = outputs.dbContainer?.value;
  const prefix = (typeof db === "string" ? prefixOfDbContainer(db) : undefined) ?? (swarm ? undefined : (await docker.getContainer(edge).inspect()).Config.Labels[LABEL_STACK]);
  if (!prefix) throw new Error(`stack "${name}": no dbContainer output to take its prefix from, and edge container ${edge} has no slipway.stack label: deploy it first`);
  // Target swarm: every edge task through the manager's relay (src/swarm/maintenance.ts).
  const relayImage = swarm ? relayImageOf(name, objectOf(config[IMAGES_KEY])?.edge) : undefined;
  const on = values.state === "on";
  // Under the stack's lock: a deploy's edge handover copies the maintenance state once; a change made meanwhile would be lost.
  const waitMs = intFlag(values, "stack-lock-wait", LOCK_DEFAULTS.waitSeconds) * 1000;
  const log = (line: string) => console.error(line);
  const message = stringFlag(values, "message") ?? DEFAULT_MAINTENANCE_MESSAGE;
  const edges = await withStackLock(docker, { prefix, holder: "maintenance", waitMs, log }, () =>
    relayImage ? setSwarmMaintenance(docker, prefix, swarmEdgeTarget(prefix, relayImage), on, message) : setMaintenance(docker, prefix, on, message));
  console.log(`maintenance ${on ? "ON" : "off"} for ${name} (${edges.join(", ")})`);
});
