// Conformance of the provider plugins we build with the official ones: what slipway uses of each
// package, where the official schema.json comes from, how a fixture is trimmed from it, and the
// comparison (names, types, secret-ness, replace-on-change, required-ness, enums, defaults) of an
// official schema with the one our plugin reports. Used by tools/toolchain/trim-schema.ts and
// test/e2e/plugin-conformance.test.ts; the documented exceptions live in tools/toolchain/PLUGINS.md.
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";

export const repoRoot = resolve(__dirname, "..", "..", "..");
export const fixturesDir = join(repoRoot, "test", "fixtures", "plugin-schemas");
export const pluginsDoc = join(repoRoot, "tools", "toolchain", "PLUGINS.md");

// ---- the Pulumi package schema, as far as the comparison reads it ---------------------------------

export interface PropertySpec {
  type?: string;
  $ref?: string;
  items?: PropertySpec;
  additionalProperties?: PropertySpec;
  oneOf?: PropertySpec[];
  secret?: boolean;
  willReplaceOnChanges?: boolean;
  /** pulumi-go-provider's spelling (command), kept next to willReplaceOnChanges by the schema. */
  replaceOnChanges?: boolean;
  const?: unknown;
  default?: unknown;
  defaultInfo?: unknown;
  [key: string]: unknown;
}

export interface EnumValueSpec {
  name?: string;
  value: unknown;
  [key: string]: unknown;
}

export interface ObjectTypeSpec {
  type?: string;
  properties?: Record<string, PropertySpec>;
  required?: string[];
  enum?: EnumValueSpec[];
  [key: string]: unknown;
}

export interface ResourceSpec {
  properties?: Record<string, PropertySpec>;
  required?: string[];
  inputProperties?: Record<string, PropertySpec>;
  requiredInputs?: string[];
  stateInputs?: ObjectTypeSpec;
  [key: string]: unknown;
}

export interface FunctionSpec {
  inputs?: ObjectTypeSpec;
  outputs?: ObjectTypeSpec;
  [key: string]: unknown;
}

export interface PackageSchema {
  name: string;
  version?: string;
  config?: { variables?: Record<string, PropertySpec>; defaults?: string[] };
  provider?: ResourceSpec;
  resources?: Record<string, ResourceSpec>;
  functions?: Record<string, FunctionSpec>;
  types?: Record<string, ObjectTypeSpec>;
  [key: string]: unknown;
}

// ---- what slipway uses -----------------------------------------------------------------------------

export type PluginName = "docker" | "command" | "random";

export interface PluginScope {
  plugin: PluginName;
  /** = `pulumi.version` of the pinned npm package = the plugin version we build. */
  version: string;
  /** The official schema.json a fixture is trimmed from (sha256 of the untrimmed file). */
  upstream: { repo: string; tag: string; commit: string; path: string; sha256: string };
  /** Resources compared in full (every input, output and state property, and the types they reach). */
  resources: string[];
  functions: string[];
  /** The npm module's classes slipway may construct, e.g. `Container` or `local.Command` (for the unit test). */
  classes: Record<string, string>;
  /** How the run-time replace probe (replace-probe.ts) changes each input, and what it expects. */
  probe: ProbePlan;
}

export interface ProbePlan {
  /**
   * `modify`: the property goes from one value to another. `add`: from unset to a value — how
   * pulumi-go-provider's diff (command, ours and upstream's) applies replaceOnChanges: only to a
   * change of the top-level value, not to one of its elements (`triggers[0]` is an update).
   */
  mode: "modify" | "add";
  /**
   * `schema`: a change replaces iff the official schema marks the property (or a nested field the
   * change touches) willReplaceOnChanges/replaceOnChanges. `every-input`: every input replaces
   * (terraform-provider-random's RequiresReplace plan modifiers; a bridged plugin-framework provider
   * carries no replace flags in its schema, so the schema cannot say it).
   */
  oracle: "schema" | "every-input";
  /** Inputs that must carry the same value as the probed one (random's deprecated `number` = `numeric`). */
  linked?: Record<string, string>;
}

export const SCOPES: readonly PluginScope[] = [
  {
    plugin: "docker",
    version: "5.0.0",
    upstream: {
      repo: "pulumi/pulumi-docker",
      tag: "v5.0.0",
      commit: "c2baf6a4997f3f53052ee9284bcf2ef0cf8081ae",
      path: "provider/cmd/pulumi-resource-docker/schema.json",
      sha256: "d7732c17daaf0a68f182797d30501ea8e488bf9217c24c4524bab18b871d30a3",
    },
    resources: [
      "docker:index/container:Container",
      "docker:index/network:Network",
      "docker:index/volume:Volume",
      "docker:index/remoteImage:RemoteImage",
      "docker:index/service:Service",
      "docker:index/secret:Secret",
    ],
    functions: [],
    classes: {
      Container: "docker:index/container:Container",
      Network: "docker:index/network:Network",
      Volume: "docker:index/volume:Volume",
      RemoteImage: "docker:index/remoteImage:RemoteImage",
      Service: "docker:index/service:Service",
      Secret: "docker:index/secret:Secret",
      Provider: "pulumi:providers:docker",
    },
    probe: { mode: "modify", oracle: "schema" },
  },
  {
    plugin: "command",
    version: "1.2.1",
    upstream: {
      repo: "pulumi/pulumi-command",
      tag: "v1.2.1",
      commit: "7f3eb6f3b77cd0fa3895ba437a695dd393f7dd25",
      path: "provider/cmd/pulumi-resource-command/schema.json",
      sha256: "37e878ba1950d94a5305a1e6d19d0232161e64f98b5221d0ca2ce949fa3d3256",
    },
    resources: ["command:local:Command"],
    functions: ["command:local:run"],
    classes: {
      "local.Command": "command:local:Command",
      "local.run": "command:local:run",
      "local.runOutput": "command:local:run",
      Provider: "pulumi:providers:command",
    },
    probe: { mode: "add", oracle: "schema" },
  },
  {
    plugin: "random",
    version: "4.21.1",
    upstream: {
      repo: "pulumi/pulumi-random",
      tag: "v4.21.1",
      commit: "f2d8b029d0f708bd14bad9479e016560de9c0b6d",
      path: "provider/cmd/pulumi-resource-random/schema.json",
      sha256: "70e1c3ab9406d40184fdb321492f17245cf2712821b3a45601d0ed90a07edb9d",
    },
    resources: ["random:index/randomPassword:RandomPassword"],
    functions: [],
    classes: {
      RandomPassword: "random:index/randomPassword:RandomPassword",
      Provider: "pulumi:providers:random",
    },
    probe: { mode: "modify", oracle: "every-input", linked: { number: "numeric", numeric: "number" } },
  },
];

export function scopeOf(plugin: PluginName): PluginScope {
  const s = SCOPES.find((x) => x.plugin === plugin);
  if (!s) throw new Error(`no conformance scope for plugin ${plugin}`);
  return s;
}

export function fixturePath(scope: PluginScope): string {
  return join(fixturesDir, `${scope.plugin}-${scope.version}.json`);
}

export function readFixture(scope: PluginScope): PackageSchema {
  return JSON.parse(readFileSync(fixturePath(scope), "utf8")) as PackageSchema;
}

// ---- trimming --------------------------------------------------------------------------------------

const TYPE_REF = "#/types/";

function collectRefs(value: unknown, into: Set<string>): void {
  if (Array.isArray(value)) {
    for (const v of value) collectRefs(v, into);
  } else if (value && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) {
      if (k === "$ref" && typeof v === "string" && v.startsWith(TYPE_REF)) into.add(decodeURIComponent(v.slice(TYPE_REF.length)));
      else collectRefs(v, into);
    }
  }
}

/**
 * The official schema reduced to what `scope` names: its resources and functions, the provider and
 * its config, and every type those reach (transitively). Everything kept is kept verbatim; the
 * package-level fields (name, language, meta, …) are kept as they are.
 */
export function trimSchema(full: PackageSchema, scope: PluginScope): PackageSchema {
  const pick = <T>(all: Record<string, T> | undefined, tokens: string[], what: string): Record<string, T> => {
    const out: Record<string, T> = {};
    for (const t of tokens) {
      if (!all?.[t]) throw new Error(`${scope.plugin}: ${what} ${t} is not in the official schema`);
      out[t] = all[t];
    }
    return out;
  };
  const resources = pick(full.resources, scope.resources, "resource");
  const functions = pick(full.functions, scope.functions, "function");
  const wanted = new Set<string>();
  collectRefs([resources, functions, full.provider ?? {}, full.config ?? {}], wanted);
  const types: Record<string, ObjectTypeSpec> = {};
  const queue = [...wanted];
  while (queue.length > 0) {
    const t = queue.shift() as string;
    if (types[t]) continue;
    const spec = full.types?.[t];
    if (!spec) throw new Error(`${scope.plugin}: type ${t} is referenced but not defined in the official schema`);
    types[t] = spec;
    const more = new Set<string>();
    collectRefs(spec, more);
    for (const m of more) if (!types[m]) queue.push(m);
  }
  const sorted = <T>(o: Record<string, T>) => Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  const out: PackageSchema = { ...full };
  delete out.resources;
  delete out.functions;
  delete out.types;
  if (Object.keys(types).length > 0) out.types = sorted(types);
  out.resources = resources;
  if (Object.keys(functions).length > 0) out.functions = functions;
  return out;
}

// ---- comparison ------------------------------------------------------------------------------------

/** One difference between the official schema and ours; `id` is what the allow-list names. */
export interface Difference {
  /** `<subject>: <aspect>`, e.g. `docker:index/container:Container.healthcheck: willReplaceOnChanges`. */
  id: string;
  detail: string;
  /** Where the subject was compared: inputs, outputs, state, config, a type. */
  where: string[];
}

function renderType(p: PropertySpec | undefined): string {
  if (!p) return "none";
  if (p.$ref) return decodeURIComponent(p.$ref.replace(TYPE_REF, ""));
  if (p.oneOf) return `oneOf(${p.oneOf.map(renderType).join("|")})`;
  if (p.type === "array") return `array<${renderType(p.items)}>`;
  if (p.type === "object" && p.additionalProperties) return `map<${renderType(p.additionalProperties)}>`;
  return p.type ?? "any";
}

const json = (v: unknown) => (v === undefined ? "unset" : JSON.stringify(v));

/** PascalCase name the code generators give an enum member that has no explicit name. */
function enumMemberName(e: EnumValueSpec): string {
  if (e.name) return e.name;
  const s = String(e.value);
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/**
 * Compares every property of `scope`'s resources and functions, the provider's inputs and the
 * package config, recursing into the object types they reference, and returns each difference once.
 * `upstream` is the official (possibly trimmed) schema, `ours` what our plugin reports.
 */
export function compareSchemas(upstream: PackageSchema, ours: PackageSchema, scope: PluginScope): Difference[] {
  const found = new Map<string, Difference>();
  const add = (subject: string, aspect: string, detail: string, where: string) => {
    const id = `${subject}: ${aspect}`;
    const d = found.get(id);
    if (d) {
      if (!d.where.includes(where)) d.where.push(where);
    } else {
      found.set(id, { id, detail, where: [where] });
    }
  };
  const typesSeen = new Set<string>();

  const compareProperty = (subject: string, a: PropertySpec | undefined, b: PropertySpec | undefined, where: string) => {
    if (!a || !b) {
      add(subject, a ? "only upstream" : "only ours", a ? "not in our plugin's schema" : "not in the official schema", where);
      return;
    }
    const ta = renderType(a);
    const tb = renderType(b);
    if (ta !== tb) add(subject, "type", `upstream ${ta}, ours ${tb}`, where);
    const flags: [keyof PropertySpec, string][] = [
      ["secret", "secret"],
      ["willReplaceOnChanges", "willReplaceOnChanges"],
      ["replaceOnChanges", "replaceOnChanges"],
    ];
    for (const [key, aspect] of flags) {
      if (Boolean(a[key]) !== Boolean(b[key])) add(subject, aspect, `upstream ${Boolean(a[key])}, ours ${Boolean(b[key])}`, where);
    }
    for (const key of ["const", "default", "defaultInfo"] as const) {
      if (JSON.stringify(a[key]) !== JSON.stringify(b[key])) add(subject, key, `upstream ${json(a[key])}, ours ${json(b[key])}`, where);
    }
    if (ta !== tb) return; // the nested shapes differ already
    if (a.items) compareProperty(`${subject}[]`, a.items, b.items, where);
    if (a.additionalProperties) compareProperty(`${subject}{}`, a.additionalProperties, b.additionalProperties, where);
    if (a.$ref?.startsWith(TYPE_REF)) compareType(decodeURIComponent(a.$ref.slice(TYPE_REF.length)));
  };

  const compareProperties = (
    subject: string,
    a: Record<string, PropertySpec> | undefined,
    b: Record<string, PropertySpec> | undefined,
    where: string,
  ) => {
    const names = new Set([...Object.keys(a ?? {}), ...Object.keys(b ?? {})]);
    for (const n of [...names].sort()) compareProperty(`${subject}.${n}`, a?.[n], b?.[n], where);
  };

  const compareRequired = (subject: string, a: string[] | undefined, b: string[] | undefined, where: string, aspect = "required") => {
    const sa = new Set(a ?? []);
    const sb = new Set(b ?? []);
    for (const n of [...new Set([...sa, ...sb])].sort()) {
      if (sa.has(n) !== sb.has(n)) add(`${subject}.${n}`, aspect, `upstream ${sa.has(n)}, ours ${sb.has(n)}`, where);
    }
  };

  const compareType = (token: string) => {
    if (typesSeen.has(token)) return;
    typesSeen.add(token);
    const a = upstream.types?.[token];
    const b = ours.types?.[token];
    if (!a || !b) {
      add(token, a ? "only upstream" : "only ours", `type ${token} missing ${a ? "in ours" : "upstream"}`, "types");
      return;
    }
    if ((a.type ?? "object") !== (b.type ?? "object")) add(token, "type", `upstream ${a.type}, ours ${b.type}`, "types");
    if (a.enum || b.enum) {
      const ea = (a.enum ?? []).map((e) => `${enumMemberName(e)}=${JSON.stringify(e.value)}`).join(", ");
      const eb = (b.enum ?? []).map((e) => `${enumMemberName(e)}=${JSON.stringify(e.value)}`).join(", ");
      if (ea !== eb) add(token, "enum", `upstream [${ea}], ours [${eb}]`, "types");
    }
    compareProperties(token, a.properties, b.properties, "types");
    compareRequired(token, a.required, b.required, "types");
  };

  const compareResource = (token: string, a: ResourceSpec | undefined, b: ResourceSpec | undefined) => {
    if (!a || !b) {
      add(token, a ? "only upstream" : "only ours", `resource ${token} missing ${a ? "in ours" : "upstream"}`, "resources");
      return;
    }
    compareProperties(token, a.inputProperties, b.inputProperties, "inputs");
    compareProperties(token, a.properties, b.properties, "outputs");
    compareProperties(token, a.stateInputs?.properties, b.stateInputs?.properties, "state");
    compareRequired(token, a.requiredInputs, b.requiredInputs, "inputs", "required input");
    compareRequired(token, a.required, b.required, "outputs", "required output");
  };

  // A package without provider inputs may leave `provider` out or write `{}`: the same thing.
  compareResource(`pulumi:providers:${scope.plugin}`, upstream.provider ?? {}, ours.provider ?? {});
  compareProperties(`${scope.plugin}:config`, upstream.config?.variables, ours.config?.variables, "config");
  for (const token of scope.resources) compareResource(token, upstream.resources?.[token], ours.resources?.[token]);
  for (const token of scope.functions) {
    const a = upstream.functions?.[token];
    const b = ours.functions?.[token];
    if (!a || !b) {
      add(token, a ? "only upstream" : "only ours", `function ${token} missing ${a ? "in ours" : "upstream"}`, "functions");
      continue;
    }
    compareProperties(token, a.inputs?.properties, b.inputs?.properties, "inputs");
    compareProperties(token, a.outputs?.properties, b.outputs?.properties, "outputs");
    compareRequired(token, a.inputs?.required, b.inputs?.required, "inputs", "required input");
    compareRequired(token, a.outputs?.required, b.outputs?.required, "outputs", "required output");
  }
  return [...found.values()];
}

export function formatDifference(d: Difference): string {
  return `${d.id} (${d.detail}; in ${d.where.join(", ")})`;
}

// ---- the allow-list (a table in PLUGINS.md) --------------------------------------------------------

export interface AllowedDifference {
  plugin: PluginName;
  id: string;
  reason: string;
}

const ALLOW_LIST_HEADING = "## Conformance with the official schemas";

/**
 * The allow-list: the rows of the table under "## Conformance with the official schemas" in
 * PLUGINS.md, each `| plugin | \`difference id\` | why |`.
 */
export function readAllowList(doc = readFileSync(pluginsDoc, "utf8")): AllowedDifference[] {
  const start = doc.indexOf(ALLOW_LIST_HEADING);
  if (start < 0) throw new Error(`PLUGINS.md has no "${ALLOW_LIST_HEADING}" section`);
  const rest = doc.slice(start + ALLOW_LIST_HEADING.length);
  const end = rest.search(/^## /m);
  const section = end < 0 ? rest : rest.slice(0, end);
  const rows: AllowedDifference[] = [];
  for (const line of section.split("\n")) {
    const m = /^\|\s*(docker|command|random)\s*\|\s*`([^`]+)`\s*\|(.*)\|\s*$/.exec(line);
    if (m) rows.push({ plugin: m[1] as PluginName, id: m[2], reason: m[3].trim() });
  }
  return rows;
}
