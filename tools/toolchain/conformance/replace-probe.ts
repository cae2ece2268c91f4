// Replace-on-change at run time: for every top-level input property of a resource, a Diff of the
// resource with only that property changed, against what the official schema says (the property's
// willReplaceOnChanges/replaceOnChanges, or that of any nested field the change touches). The schema
// comparison checks what our plugin *says*; this checks what it *does* (the bridge decides replaces
// from the Terraform schema, which a mapping could make disagree with the generated schema).
import type { PackageSchema, ProbePlan, PropertySpec } from "./schema";
import type { DiffResult, PropertyMap } from "./provider-rpc";

export interface ProbeCase {
  resource: string;
  property: string;
  /** Base inputs (required inputs) with the property at its first value… */
  olds: PropertyMap;
  /** …and at its second value. */
  news: PropertyMap;
  /** What the official schema implies: a change of these values replaces the resource. */
  expectReplace: boolean;
  /** The schema paths whose replace flag made expectReplace true. */
  replacingPaths: string[];
}

export interface ProbeOutcome {
  changed: boolean;
  replaced: boolean;
}

const TYPE_REF = "#/types/";
const MAX_DEPTH = 6;

interface Sample {
  value: unknown;
  /** Paths (relative to the probed property) whose schema says a change replaces. */
  replacing: string[];
}

/**
 * Two different values (variant 0 and 1) for a property of the official schema, every nested field
 * filled, or undefined when no value can be written (assets, archives, too deep).
 */
export function sampleValue(schema: PackageSchema, p: PropertySpec, variant: 0 | 1, path = "", depth = 0): Sample | undefined {
  if (depth > MAX_DEPTH) return undefined;
  const here = p.willReplaceOnChanges || p.replaceOnChanges ? [path] : [];
  const wrap = (inner: Sample | undefined, value: (v: unknown) => unknown): Sample | undefined =>
    inner && { value: value(inner.value), replacing: [...here, ...inner.replacing] };
  if (p.$ref) {
    if (p.$ref === "pulumi.json#/Any" || p.$ref === "pulumi.json#/Json") return { value: `conformance-${variant}`, replacing: here };
    if (!p.$ref.startsWith(TYPE_REF)) return undefined; // assets and archives
    const t = schema.types?.[decodeURIComponent(p.$ref.slice(TYPE_REF.length))];
    if (!t) return undefined;
    if (t.enum) {
      const values = t.enum.map((e) => e.value);
      return { value: values[variant % values.length], replacing: here };
    }
    const value: PropertyMap = {};
    const replacing = [...here];
    for (const [name, sub] of Object.entries(t.properties ?? {})) {
      const s = sampleValue(schema, sub, variant, `${path}.${name}`, depth + 1);
      if (!s) {
        if (t.required?.includes(name)) return undefined;
        continue;
      }
      value[name] = s.value;
      replacing.push(...s.replacing);
    }
    return { value, replacing };
  }
  if (p.oneOf?.length) return wrap(sampleValue(schema, p.oneOf[0], variant, path, depth + 1), (v) => v);
  switch (p.type) {
    case "string":
      return { value: `conformance-${variant}`, replacing: here };
    case "integer":
      return { value: 100 + variant, replacing: here };
    case "number":
      return { value: 1.5 + variant, replacing: here };
    case "boolean":
      return { value: variant === 1, replacing: here };
    case "array":
      return p.items ? wrap(sampleValue(schema, p.items, variant, `${path}[0]`, depth + 1), (v) => [v]) : undefined;
    case "object":
      return p.additionalProperties
        ? wrap(sampleValue(schema, p.additionalProperties, variant, `${path}.key`, depth + 1), (v) => ({ key: v }))
        : { value: { key: `conformance-${variant}` }, replacing: here };
    default:
      return undefined;
  }
}

/**
 * One case per top-level input property of `resource` in the official schema (`skipped`: properties
 * no value can be written for), changed as `plan` says, with the outcome the plan's oracle expects.
 */
export function probeCases(upstream: PackageSchema, resource: string, plan: ProbePlan): { cases: ProbeCase[]; skipped: string[] } {
  const spec = upstream.resources?.[resource];
  if (!spec) throw new Error(`${resource} is not in the official schema`);
  const inputs = spec.inputProperties ?? {};
  const cases: ProbeCase[] = [];
  const skipped: string[] = [];
  for (const [name, p] of Object.entries(inputs)) {
    const base: PropertyMap = {};
    for (const req of spec.requiredInputs ?? []) {
      if (req === name) continue;
      const s = sampleValue(upstream, inputs[req], 0);
      if (s) base[req] = s.value;
    }
    const a = sampleValue(upstream, p, 0, name);
    const b = sampleValue(upstream, p, 1, name);
    if (!a || !b) {
      skipped.push(name);
      continue;
    }
    const linked = plan.linked?.[name];
    const olds: PropertyMap = plan.mode === "add" ? { ...base } : { ...base, [name]: a.value };
    const news: PropertyMap = { ...base, [name]: b.value };
    if (linked) {
      if (plan.mode === "modify") olds[linked] = a.value;
      news[linked] = b.value;
    }
    cases.push({
      resource,
      property: name,
      olds,
      news,
      expectReplace: plan.oracle === "every-input" || b.replacing.length > 0,
      replacingPaths: plan.oracle === "every-input" ? [name] : b.replacing,
    });
  }
  return { cases, skipped };
}

const under = (key: string, property: string) => key === property || key.startsWith(`${property}.`) || key.startsWith(`${property}[`);

/** Whether a Diff shows a change of `property`, and whether that change replaces the resource. */
export function outcomeFor(property: string, diff: DiffResult): ProbeOutcome {
  const detailed = Object.entries(diff.detailed).filter(([k]) => under(k, property));
  const changed = diff.diffs.some((k) => under(k, property)) || detailed.length > 0;
  const replaced = diff.replaces.some((k) => under(k, property)) || detailed.some(([, kind]) => kind.endsWith("_REPLACE"));
  return { changed, replaced };
}
