// The one engine loader of the dynamic providers (ReplicaSet → src/rollout, EdgeProxy → src/edge, SwarmRelease and SwarmTask → src/swarm). A dynamic
// provider's code is serialized into the stack state with its closure, so the closure stays tiny: each method
// calls loadEngine, which loads the engine's TypeScript from the working copy at run time, through tsx, because
// the dynamic-provider host is plain node.
import * as path from "node:path";

/** The src/ directory of the checkout that declared the resource (a fallback: see loadEngine). */
const DECLARED_SRC = path.resolve(__dirname, "..", "..", "src");

export function loadEngine<T>(room: "rollout" | "edge" | "swarm"): T {
  // The dynamic-provider host runs in the program's directory (where Pulumi.yaml is): prefer the engine of the
  // checkout running `pulumi` now, so state written from one clone works from another; fall back to the path
  // recorded when the resource was declared.
  const fs = require("node:fs") as typeof import("node:fs");
  const local = path.resolve(process.cwd(), "src", room, "index.ts");
  const entry = fs.existsSync(local) ? local : path.join(DECLARED_SRC, room, "index.ts");
  // Under `pulumi up` the program runs with tsx but the dynamic-provider host does not: register it here, once per
  // process: each registration stacks another compile hook, and loading a module then costs exponentially more
  // (4 registrations: over 2 minutes for src/rollout; diff loads the engine for its one-line summary on every call).
  const registered = process as unknown as { slipwayTsxRegistered?: boolean };
  if (!registered.slipwayTsxRegistered) {
    require(require.resolve("tsx/cjs/api", { paths: [entry] })).register();
    registered.slipwayTsxRegistered = true;
  }
  return require(entry) as T;
}
