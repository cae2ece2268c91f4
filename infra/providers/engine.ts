// The one loader of the dynamic providers' code (ReplicaSet → src/rollout, EdgeProxy → src/edge, SwarmRelease and
// SwarmTask → src/swarm). A dynamic provider's code is serialized into the stack state with its closure, so what is
// serialized is a thin stand-in (thinProvider): each method loads the real provider from the working copy at run time,
// and its methods load their engine the same way (loadEngine): compiled ahead (infra/build.js, the build the program
// itself runs from, keyed by the sources' content), or through tsx where no build can be made — the
// dynamic-provider host is plain node.
import * as path from "node:path";

/** The checkout that declared the resource (a fallback: see loadFromCheckout). */
const DECLARED_CHECKOUT = path.resolve(__dirname, "..", "..");

/**
 * Loads `rel` (a module path without extension, relative to a checkout: `src/rollout/index`, `infra/providers/swarm`)
 * from the checkout running `pulumi` now — the dynamic-provider host runs in the program's directory, where Pulumi.yaml
 * is, so state written from one clone works from another — else from the one that declared the resource.
 */
export function loadFromCheckout<T>(rel: string): T {
  const fs = require("node:fs") as typeof import("node:fs");
  const local = path.resolve(process.cwd(), `${rel}.ts`);
  const entry = fs.existsSync(local) ? local : path.join(DECLARED_CHECKOUT, `${rel}.ts`);
  const checkout = path.resolve(fs.realpathSync(entry), ...rel.split("/").map(() => ".."));
  // Checkouts from before infra/build.js: through tsx, registered once per process (each registration stacks another
  // compile hook, and loading a module then costs exponentially more).
  const builder = path.join(checkout, "infra", "build.js");
  if (fs.existsSync(builder)) {
    const { loadCompiled } = require(builder) as { loadCompiled(dir: string, rel: string, log: (line: string) => void): unknown };
    return loadCompiled(checkout, rel, (line) => process.stderr.write(`${line}\n`)) as T;
  }
  const registered = process as unknown as { slipwayTsxRegistered?: boolean };
  if (!registered.slipwayTsxRegistered) {
    require(require.resolve("tsx/cjs/api", { paths: [entry] })).register();
    registered.slipwayTsxRegistered = true;
  }
  return require(entry) as T;
}

/** An engine room of src/ (what a provider's methods call to act), loaded as loadFromCheckout says. */
export function loadEngine<T>(room: "rollout" | "edge" | "swarm"): T {
  return loadFromCheckout<T>(`src/${room}/index`);
}

type Method = (...args: unknown[]) => Promise<unknown>;

/**
 * The provider a dynamic resource is declared with: for each method of the real one (`exported` of
 * infra/providers/`module`), a one-line stand-in that loads that module in the dynamic-provider host (loadFromCheckout)
 * and calls it. Pulumi serializes this into the state and parses it on every preview and up before the host can
 * start; the real provider's closure (its diff, its helpers: ~17 KB, ~35 functions) is loaded there instead, compiled
 * ahead like the engines.
 */
export function thinProvider<P extends object>(module: "replica-set" | "edge-proxy" | "swarm", exported: string, real: P): P {
  return Object.fromEntries(
    Object.keys(real).map((method) => [
      method,
      (...args: unknown[]) => (loadFromCheckout<Record<string, Record<string, Method>>>(`infra/providers/${module}`)[exported]![method] as Method)(...args),
    ]),
  ) as P;
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
