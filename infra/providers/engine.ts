// The one loader of the dynamic providers' code (ReplicaSet → src/rollout, EdgeProxy → src/edge, SwarmRelease and
// SwarmTask → src/swarm). What the state holds for a dynamic resource is a few lines of text (infra/providers/host.js):
// each method loads the real provider from the working copy at run time, and its methods load their engine the same
// way (loadEngine): compiled ahead (infra/build.js, the build the program itself runs from, keyed by the sources'
// content), or through tsx where no build can be made — the dynamic-provider host is plain node.
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";

/** The checkout that declared the resource (a fallback: see loadFromCheckout). */
const DECLARED_CHECKOUT = path.resolve(__dirname, "..", "..");

/** infra/providers/host.js: plain JavaScript, because its functions' source text is what the state holds. */
const host = require(path.join(DECLARED_CHECKOUT, "infra", "providers", "host.js")) as {
  loadFromCheckout(rel: string, declared: string): unknown;
  providerText(spec: { module: ProviderModule; exported: string; methods: string[]; declared: string }): string;
};

/**
 * Loads `rel` (a module path without extension, relative to a checkout: `src/rollout/index`, `infra/providers/swarm`)
 * from the checkout running `pulumi` now — the dynamic-provider host runs in the program's directory, where Pulumi.yaml
 * is, so state written from one clone works from another — else from the one that declared the resource.
 */
export function loadFromCheckout<T>(rel: string): T {
  return host.loadFromCheckout(rel, DECLARED_CHECKOUT) as T;
}

/** An engine room of src/ (what a provider's methods call to act), loaded as loadFromCheckout says. */
export function loadEngine<T>(room: "rollout" | "edge" | "swarm"): T {
  return loadFromCheckout<T>(`src/${room}/index`);
}

export type ProviderModule = "replica-set" | "edge-proxy" | "swarm";

/**
 * What a slipway dynamic resource's provider is declared as: `exported` of infra/providers/`module`, whose methods are
 * those of `real`. The state holds the stand-in's text (host.js providerText), parsed by the dynamic-provider host
 * before it starts; the real provider's closure (its diff, its helpers: ~17 KB, ~35 functions) is loaded there instead.
 */
export function providerCode(module: ProviderModule, exported: string, real: object): string {
  return host.providerText({ module, exported, methods: Object.keys(real), declared: DECLARED_CHECKOUT });
}

/**
 * A slipway dynamic resource: what pulumi.dynamic.Resource registers (`pulumi-nodejs:dynamic/slipway:<type>`, its
 * provider's code in the `__provider` input, run by the SDK's dynamic-provider host), declared with providerCode's
 * text instead of runtime.serializeFunction's — which loads the TypeScript compiler into every preview and up.
 */
export abstract class DynamicResource extends pulumi.CustomResource {
  constructor(code: string, type: string, name: string, props: pulumi.Inputs, opts?: pulumi.CustomResourceOptions) {
    super(`pulumi-nodejs:dynamic/slipway:${type}`, name, { ...props, [PROVIDER_CODE]: code }, opts);
  }
}

/**
 * The input the SDK adds to every dynamic resource: its provider's code, serialized. A change of it is a change of
 * slipway, not of the resource (each method loads the engine of the checkout running `pulumi` anyway): the diffs skip
 * it and no spec (hence no revision) holds it, so another checkout's or another build's serialization of the same
 * provider is no update and rolls nothing.
 */
export const PROVIDER_CODE = "__provider";

/**
 * The inputs the dynamic-provider host hands over, without the provider's code.
 */
export function withoutProviderCode<T extends object>(inputs: T): T {
  const copy = { ...inputs } as Record<string, unknown>;
  delete copy[PROVIDER_CODE];
  return copy as T;
}
