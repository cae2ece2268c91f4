// The one engine loader of the dynamic providers (ReplicaSet → src/rollout, EdgeProxy → src/edge, SwarmRelease and SwarmTask → src/swarm). A dynamic
// provider's code is serialized into the stack state with its closure, so the closure stays tiny: each method
// calls loadEngine, which loads the engine from the working copy at run time: compiled ahead (infra/build.js, the
// build the program itself runs from, keyed by the sources' content), or through tsx where no build can be made —
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
  const checkout = path.dirname(path.dirname(path.dirname(fs.realpathSync(entry))));
  // Checkouts from before infra/build.js: through tsx, registered once per process (each registration stacks another
  // compile hook, and loading a module then costs exponentially more).
  const builder = path.join(checkout, "infra", "build.js");
  if (fs.existsSync(builder)) {
    const { loadCompiled } = require(builder) as { loadCompiled(dir: string, rel: string, log: (line: string) => void): unknown };
    return loadCompiled(checkout, `src/${room}/index`, (line) => process.stderr.write(`${line}\n`)) as T;
  }
  const registered = process as unknown as { slipwayTsxRegistered?: boolean };
  if (!registered.slipwayTsxRegistered) {
    require(require.resolve("tsx/cjs/api", { paths: [entry] })).register();
    registered.slipwayTsxRegistered = true;
  }
  return require(entry) as T;
}

/**
 * The input the SDK adds to every dynamic resource: its provider's code, serialized. A change of it is a change of
 * slipway, not of the resource (each method loads the engine of the checkout running `pulumi` anyway): the diffs skip
 * it and no spec (hence no revision) holds it, so another checkout's or another build's serialization of the same
 * provider is no update and rolls nothing.
 */
export const PROVIDER_CODE = "__provider";

/**
 * The inputs the dynamic-provider host hands over, without the provider's code. (No computed key in a destructuring
 * pattern: Pulumi's closure serializer does not see the variables such a key names.)
 */
export function withoutProviderCode<T extends object>(inputs: T): T {
  const copy = { ...inputs } as Record<string, unknown>;
  delete copy[PROVIDER_CODE];
  return copy as T;
}
