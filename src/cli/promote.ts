// `npm run promote` — deploy an image (built once, tagged with its git SHA) to a stack:
// staging first, then the very same reference to production. Runs backup → migrate → rollout
// through `pulumi up`; the image lands in Pulumi.<stack>.yaml and in the stack's history. The stack must
// exist (`pulumi stack init <name>`): a typo in --stack is an error naming the stacks there are.
import { checkPromotable, promoteMessage, promotionSource } from "../release/history";
import { imageIdOnStackHost } from "../release/host";
import { deploy, history, selectStack, setImages, stackFileEnvironment } from "../release/stack";
import { runVerb, stringFlag, type VerbSpec } from "./args";

const spec: VerbSpec = {
  name: "promote",
  summary: "Deploy an API image to a stack with `pulumi up` (backup → migrate → one-at-a-time rollout).",
  flags: {
    stack: { type: "string", value: "<stack>", description: "target stack: staging or production", required: true },
    image: { type: "string", value: "<ref>", description: "API image reference, e.g. registry/app:3f2c1a9b7d01", required: true },
    "edge-image": { type: "string", value: "<ref>", description: "also change the edge (HAProxy) image" },
    from: { type: "string", value: "<stack>", description: "stack that must have run the image first (default: the staging stack beside it when the target's slipway:environment is production, whatever its name)" },
    force: { type: "boolean", description: "skip the check that --from ran the image successfully (and was not rolled back)" },
  },
  notes: [
    "The stack must exist (create it once with `pulumi stack init <stack>`); promote never creates one.",
    "The image is written to Pulumi.<stack>.yaml (slipway:images): commit that file — it is what a later plain `pulumi up` deploys (CI commits it for you).",
    "Roll back with: npm run rollback -- --stack <stack>",
  ],
};

void runVerb(spec, async (values) => {
  const target = stringFlag(values, "stack")!;
  const image = stringFlag(values, "image")!;
  // The gate follows the target's environment (its stack file), never its name.
  const environment = stackFileEnvironment(target);
  // No stack file: a typo in --stack is said as such (the stacks there are) before anything about environments.
  if (environment === undefined && !values.force && !stringFlag(values, "from")) await selectStack(target);
  const from = values.force ? undefined : promotionSource(target, environment, stringFlag(values, "from"));
  if (from) {
    const source = await selectStack(from).catch((err: Error) => {
      const missing = `stack "${from}" does not exist.`;
      if (!err.message.startsWith(missing)) throw err;
      throw new Error(`stack "${from}" does not exist, so ${image} cannot have run there; deploy to ${from} first or pass --force.${err.message.slice(missing.length)}`);
    });
    checkPromotable(image, target, from, await history(source));
  }
  const stack = await selectStack(target);
  await setImages(stack, { api: image, edge: stringFlag(values, "edge-image") });
  // The release record: the image and, where the stack's Docker host has it, its ID (rollback checks it).
  const message = promoteMessage(image, await imageIdOnStackHost(stack, image));
  const outputs = await deploy(stack, message, (s) => process.stdout.write(s));
  console.log(`\npromoted ${image} to ${target}: ${String(outputs.edgeUrl)}/health`);
});
