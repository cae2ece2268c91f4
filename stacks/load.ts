// Reads and validates a stack's configuration once. Pure apart from the `read` callback, so unit
// tests feed it plain objects and the program feeds it `pulumi.Config`.
import { z } from "zod";
import { configKeys, stackConfigSchema, type StackConfig } from "./schema";
import { plaintextSecretViolations, productionViolations, type Violation } from "./policy";

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

function issuePath(path: readonly PropertyKey[]): string {
  const [top, ...rest] = path.map(String);
  let key = `slipway:${top ?? ""}`;
  for (const p of rest) key += /^\d+$/.test(p) ? `[${p}]` : `.${p}`;
  return key;
}

/**
 * @param stack  the Pulumi stack name (for messages)
 * @param read   returns the parsed value of a top-level `slipway:` key, or undefined
 */
export function loadStackConfig(stack: string, read: (key: string) => unknown): StackConfig {
  const raw: Record<string, unknown> = {};
  for (const key of configKeys) {
    const value = read(key);
    if (value !== undefined) raw[key] = value;
  }
  const parsed = stackConfigSchema.safeParse(raw);
  if (!parsed.success) {
    throw new StackConfigError(
      stack,
      parsed.error.issues.map((i: z.core.$ZodIssue) => ({ key: issuePath(i.path), message: i.message })),
    );
  }
  const cfg = parsed.data;
  const violations = [...plaintextSecretViolations(cfg), ...(cfg.environment === "production" ? productionViolations(cfg) : [])];
  if (violations.length > 0) throw new StackConfigError(stack, violations);
  return cfg;
}
