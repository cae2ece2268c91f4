// `npm run maintenance -- --stack S on|off [--message M]` — the edge answers every request with 503, Retry-After
// and the message, while the replicas and the database keep running untouched (for a restore, a risky migration,
// an incident). Through HAProxy's runtime API: no reload, no restart; a later deploy keeps the state.
import { connectDocker } from "../docker";
import { DEFAULT_MAINTENANCE_MESSAGE, setMaintenance } from "../edge/maintenance";
import { LABEL_STACK } from "../vocabulary";
import { selectStack } from "../release/stack";
import { refuseSwarm } from "../release/target";
import { runVerb, stringFlag, type VerbSpec } from "./args";

const spec: VerbSpec = {
  name: "maintenance",
  summary: "Put a stack's edge in maintenance mode (503 + Retry-After + message for every request) or take it out.",
  flags: {
    stack: { type: "string", value: "<stack>", description: "the Pulumi stack (staging, production)", required: true },
    message: { type: "string", value: "<text>", description: `shown to clients (default: "${DEFAULT_MAINTENANCE_MESSAGE}")` },
  },
  positional: { name: "state", choices: ["on", "off"] },
  notes: ["Replicas keep running; `curl <edgeUrl>/health` answers 503 with the message while it is on."],
};

void runVerb(spec, async (values) => {
  const name = stringFlag(values, "stack")!;
  const stack = await selectStack(name).catch((e: Error) => {
    throw new Error(`no Pulumi stack "${name}" here (${e.message.split("\n")[0]})`);
  });
  refuseSwarm(name, await stack.getAllConfig(), "maintenance mode");
  const outputs = await stack.outputs();
  const edge = outputs.edgeContainer?.value;
  if (typeof edge !== "string" || edge === "") throw new Error(`stack "${name}" has no running edge (output edgeContainer): deploy it first`);
  const dockerHost = await stack.getConfig("slipway:dockerHost").then((v) => v.value, () => undefined);
  const docker = connectDocker(dockerHost);
  // The edge's containers carry the stack's Docker prefix as a label.
  const prefix = (await docker.getContainer(edge).inspect()).Config.Labels[LABEL_STACK];
  if (!prefix) throw new Error(`edge container ${edge} has no slipway.stack label`);
  const on = values.state === "on";
  const edges = await setMaintenance(docker, prefix, on, stringFlag(values, "message") ?? DEFAULT_MAINTENANCE_MESSAGE);
  console.log(`maintenance ${on ? "ON" : "off"} for ${name} (${edges.join(", ")})`);
});
