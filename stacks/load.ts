// Reads and validates a stack's configuration once. Pure: unit tests feed it plain objects, the program
// feeds it every `slipway:` key of the Pulumi config (namespaceConfig(pulumi.runtime.allConfig())).
import { z } from "zod";
import { configKeys, secretConfigKeys, stackConfigSchema, type StackConfig } from "./schema";
import { connectionViolations, plaintextSecretViolations, productionViolations, rolloutViolations, standbyViolations, targetViolations, productionFactViolations, type ProductionFacts, type Violation } from "./policy";
import { closestKey, normalizeKey } from "./suggest";

export const NAMESPACE = "slipway";

export class StackConfigError extends Error {
  constructor(
    readonly stack: string,
    readonly violations: Violation[],
  ) {
    super(
      `stack "${stack}" has invalid configuration:\n` +
        violations.map((v) => `  - ${v.key}: ${v.message}`).join("\n") +
        `\nFix Pulumi.${stack}.yaml (or \`pulumi config set --stack ${stack} ...\`) and run again.`,
    );
    this.name = "StackConfigError";
  }
}

/**
 * The keys of one namespace from a flat Pulumi config map (`{"slipway:api": "{\"replicas\":2}", "pulumi:tags": …}`),
 * with the namespace stripped and each value JSON-parsed where it is JSON (objects, numbers, booleans); other
 * strings (`environment: staging`) stay as they are. Keys of other namespaces are not ours and are left out.
 */
export function namespaceConfig(all: Readonly<Record<string, string>>, namespace: string = NAMESPACE): Record<string, unknown> {
  const prefix = `${namespace}:`;
  return Object.fromEntries(
    Object.entries(all)
      .filter(([key]) => key.startsWith(prefix))
      .map(([key, value]) => [key.slice(prefix.length), parseValue(value)]),
  );
}

function parseValue(value: string): unknown {
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

function keyPath(path: readonly PropertyKey[]): string {
  const [top, ...rest] = path.map(String);
  let key = `${NAMESPACE}:${top ?? ""}`;
  for (const p of rest) key += /^\d+$/.test(p) ? `[${p}]` : `.${p}`;
  return key;
}

/** Optional, default, prefault, nullable and pipes wrap the schema that has the keys. */
function unwrap(schema: z.core.$ZodType): z.core.$ZodType {
  for (;;) {
    if (schema instanceof z.ZodOptional || schema instanceof z.ZodDefault || schema instanceof z.ZodPrefault || schema instanceof z.ZodNullable) {
      schema = schema.unwrap();
    } else if (schema instanceof z.ZodPipe) {
      schema = schema.in;
    } else {
      return schema;
    }
  }
}

type Shape = Readonly<Record<string, z.core.$ZodType>>;

/** The keys (and their schemas) of the object the schema expects at `path`, or undefined if there is none. */
function shapeAt(path: readonly PropertyKey[]): Shape | undefined {
  let schema = unwrap(stackConfigSchema);
  for (const segment of path) {
    if (schema instanceof z.ZodArray && typeof segment === "number") {
      schema = unwrap(schema.element);
    } else if (schema instanceof z.ZodObject && typeof segment === "string" && Object.hasOwn(schema.shape, segment)) {
      schema = unwrap((schema.shape as Shape)[segment]!);
    } else {
      return undefined;
    }
  }
  return schema instanceof z.ZodObject ? (schema.shape as Shape) : undefined;
}

/** Paths below `shape` (through objects only) whose last key is `name` up to case, `_` and `-`. */
function nestedMatches(shape: Shape, name: string, prefix: string[] = []): string[][] {
  const out: string[][] = [];
  for (const [key, child] of Object.entries(shape)) {
    const inner = unwrap(child);
    if (!(inner instanceof z.ZodObject)) continue;
    const innerShape = inner.shape as Shape;
    for (const k of Object.keys(innerShape)) if (normalizeKey(k) === normalizeKey(name)) out.push([...prefix, key, k]);
    out.push(...nestedMatches(innerShape, name, [...prefix, key]));
  }
  return out;
}

/** The message for an unknown key `name` in the object at `parent`: the closest valid key, if one is close. */
function unknownKeyMessage(parent: readonly PropertyKey[], name: string): string {
  const shape = shapeAt(parent);
  if (!shape) return "unknown key";
  const siblings = parent.length === 0 ? [...configKeys] : Object.keys(shape);
  const close = closestKey(name, siblings);
  if (close !== undefined) return `unknown key; did you mean ${keyPath([...parent, close])}?`;
  // `pulumi config set api.replicas 3` without --path makes a top-level key named "api.replicas".
  const dot = name.indexOf(".");
  if (parent.length === 0 && dot > 0 && siblings.includes(name.slice(0, dot))) {
    return `unknown key; to set ${name.slice(dot + 1)} inside ${keyPath([name.slice(0, dot)])} use \`pulumi config set --path '${name}' VALUE\``;
  }
  // The right name one level too high, e.g. api.drainTimeoutMs for api.rollout.drainTimeoutMs.
  // The shallowest matches only: `replicas` means api.replicas, not also api.rollout.canary.replicas.
  const all = nestedMatches(shape, name);
  const depth = Math.min(...all.map((m) => m.length));
  const nested = all.filter((m) => m.length === depth);
  if (nested.length === 1) return `unknown key; did you mean ${keyPath([...parent, ...nested[0]!])}?`;
  return "unknown key";
}

function schemaViolations(issues: readonly z.core.$ZodIssue[]): Violation[] {
  const out: Violation[] = [];
  for (const issue of issues) {
    if (issue.code === "unrecognized_keys") {
      for (const name of issue.keys) out.push({ key: keyPath([...issue.path, name]), message: unknownKeyMessage(issue.path, name) });
    } else if (issue.code === "invalid_type" && issue.input === undefined) {
      out.push({ key: keyPath(issue.path), message: `is required (${issue.expected})` });
    } else {
      out.push({ key: keyPath(issue.path), message: issue.message });
    }
  }
  return out;
}

/**
 * @param stack  the Pulumi stack name (for messages)
 * @param raw    every key of the `slipway` namespace, namespace stripped, values parsed (see namespaceConfig);
 *               a key the schema does not know is an error. `secretEnv` is accepted and left out of the result:
 *               the program reads it separately, as a secret.
 * @param facts  what the program finds outside the config (how the stack file seals secrets, the Docker transport);
 *               production refuses the local default passphrase and plain tcp://. A function of the parsed config,
 *               called for production only (the passphrase check is deliberately slow).
 * @throws StackConfigError listing every violation, each naming its `slipway:` key
 */
export function loadStackConfig(stack: string, raw: Readonly<Record<string, unknown>>, facts?: (cfg: StackConfig) => ProductionFacts): StackConfig {
  const secret: readonly string[] = secretConfigKeys;
  const input = Object.fromEntries(Object.entries(raw).filter(([key, value]) => value !== undefined && !secret.includes(key)));
  const parsed = stackConfigSchema.safeParse(input, { reportInput: true });
  if (!parsed.success) throw new StackConfigError(stack, schemaViolations(parsed.error.issues));
  const cfg = parsed.data;
  const violations = [...plaintextSecretViolations(cfg), ...targetViolations(cfg, input), ...rolloutViolations(cfg, input), ...standbyViolations(cfg), ...connectionViolations(cfg), ...(cfg.environment === "production" ? productionViolations(cfg, input) : []), ...(cfg.environment === "production" && facts ? productionFactViolations(cfg, stack, facts(cfg)) : [])];
  if (violations.length > 0) throw new StackConfigError(stack, violations);
  return cfg;
}
