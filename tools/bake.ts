// Reads docker-bake.hcl the way `docker buildx bake --print` does, for engines without buildx (the legacy
// builder here): the subset the file uses — `variable` blocks with a default (overridden by an environment
// variable of the same name), `group` and `target` blocks, string / list / map attributes, "${VAR}"
// interpolation, `inherits` — and nothing else; anything outside that subset is an error, never a guess.
//
//   node --import tsx tools/bake.ts --print [TARGET|GROUP...]        JSON like `docker buildx bake --print`
//   node --import tsx tools/bake.ts --build-args TARGET               `docker build` arguments, NUL-separated
// Options: --file F (default docker-bake.hcl beside this repo's root), --set VAR=VALUE (repeatable; wins
// over the environment).
import { readFileSync } from "node:fs";
import path from "node:path";

export type Value = string | number | boolean | Value[] | { [key: string]: Value } | { ref: string };

export interface Block {
  type: string;
  label: string | undefined;
  attrs: Record<string, Value>;
  line: number;
}

export interface BakeTarget {
  context: string;
  dockerfile: string;
  target?: string;
  args: Record<string, string>;
  tags: string[];
  labels: Record<string, string>;
}

export interface BakeDefinition {
  group: Record<string, { targets: string[] }>;
  target: Record<string, BakeTarget>;
}

class BakeError extends Error {}

/** Tokenises and parses the HCL subset into blocks. Errors name the line. */
export function parseHcl(text: string, file = "docker-bake.hcl"): Block[] {
  let pos = 0;
  let line = 1;
  const fail = (msg: string): never => {
    throw new BakeError(`${file}:${line}: ${msg}`);
  };
  const skip = (newlines: boolean): void => {
    for (;;) {
      const c = text[pos];
      if (c === "\n") {
        if (!newlines) return;
        line++;
        pos++;
      } else if (c === " " || c === "\t" || c === "\r") pos++;
      else if (c === "#" || (c === "/" && text[pos + 1] === "/")) {
        while (pos < text.length && text[pos] !== "\n") pos++;
      } else if (c === "/" && text[pos + 1] === "*") {
        const end = text.indexOf("*/", pos + 2);
        if (end < 0) fail("unterminated /* comment");
        for (const ch of text.slice(pos, end)) if (ch === "\n") line++;
        pos = end + 2;
      } else return;
    }
  };
  const ident = (): string => {
    const m = /^[A-Za-z_][A-Za-z0-9_-]*/.exec(text.slice(pos));
    if (!m) fail(`expected a name, found ${JSON.stringify(text.slice(pos, pos + 10))}`);
    pos += m![0].length;
    return m![0];
  };
  const string = (): string => {
    if (text[pos] !== '"') fail("expected a string");
    pos++;
    let out = "";
    for (;;) {
      const c = text[pos];
      if (c === undefined || c === "\n") fail("unterminated string");
      pos++;
      if (c === '"') return out;
      if (c === "\\") {
        const e = text[pos++];
        const map: Record<string, string> = { n: "\n", t: "\t", '"': '"', "\\": "\\" };
        if (!(e in map)) fail(`unsupported escape \\${e}`);
        out += map[e];
      } else out += c;
    }
  };
  const expect = (ch: string): void => {
    if (text[pos] !== ch) fail(`expected "${ch}", found ${JSON.stringify(text.slice(pos, pos + 10))}`);
    pos++;
  };
  const value = (): Value => {
    skip(true);
    const c = text[pos];
    if (c === '"') return string();
    if (c === "[") {
      pos++;
      const items: Value[] = [];
      for (;;) {
        skip(true);
        if (text[pos] === "]") {
          pos++;
          return items;
        }
        items.push(value());
        skip(true);
        if (text[pos] === ",") pos++;
        else if (text[pos] !== "]") fail('expected "," or "]" in a list');
      }
    }
    if (c === "{") {
      pos++;
      const obj: Record<string, Value> = {};
      for (;;) {
        skip(true);
        if (text[pos] === "}") {
          pos++;
          return obj;
        }
        const key = text[pos] === '"' ? string() : ident();
        skip(false);
        if (text[pos] === "=" || text[pos] === ":") pos++;
        else fail(`expected "=" after map key ${key}`);
        obj[key] = value();
        skip(false);
        if (text[pos] === ",") pos++;
      }
    }
    const num = /^-?[0-9]+(\.[0-9]+)?/.exec(text.slice(pos));
    if (num) {
      pos += num[0].length;
      return Number(num[0]);
    }
    const name = ident();
    if (name === "true" || name === "false") return name === "true";
    if (text[pos] === "(") fail(`function calls (${name}(…)) are outside the subset tools/bake.ts reads`);
    return { ref: name };
  };

  const blocks: Block[] = [];
  for (;;) {
    skip(true);
    if (pos >= text.length) return blocks;
    const blockLine = line;
    const type = ident();
    skip(false);
    const label = text[pos] === '"' ? string() : undefined;
    skip(false);
    expect("{");
    const attrs: Record<string, Value> = {};
    for (;;) {
      skip(true);
      if (text[pos] === "}") {
        pos++;
        break;
      }
      const key = ident();
      skip(false);
      if (text[pos] !== "=") fail(`expected "=" after ${key} (nested blocks are outside the subset)`);
      pos++;
      if (key in attrs) fail(`${key} set twice`);
      attrs[key] = value();
    }
    blocks.push({ type, label, attrs, line: blockLine });
  }
}

function isRef(v: Value): v is { ref: string } {
  return typeof v === "object" && v !== null && !Array.isArray(v) && "ref" in v && Object.keys(v).length === 1;
}

/** Resolves variables, interpolation, inherits and groups into what `bake --print` shows. */
export function resolveBake(
  blocks: Block[],
  env: Record<string, string | undefined>,
  requested: string[] = ["default"],
  file = "docker-bake.hcl",
): BakeDefinition {
  const vars: Record<string, string> = {};
  const groups: Record<string, string[]> = {};
  const raw: Record<string, Block> = {};
  const fail = (b: Block, msg: string): never => {
    throw new BakeError(`${file}:${b.line}: ${b.type} "${b.label}": ${msg}`);
  };
  for (const b of blocks) {
    if (!b.label) throw new BakeError(`${file}:${b.line}: ${b.type} block without a name`);
    if (b.type === "variable") {
      const d = b.attrs.default ?? "";
      if (typeof d !== "string" && typeof d !== "number" && typeof d !== "boolean") fail(b, "default must be a string");
      vars[b.label] = env[b.label] ?? String(d);
    } else if (b.type === "group") {
      const t = b.attrs.targets;
      if (!Array.isArray(t) || !t.every((x) => typeof x === "string")) fail(b, "targets must be a list of strings");
      groups[b.label] = t as string[];
    } else if (b.type === "target") {
      if (raw[b.label]) fail(b, "defined twice");
      raw[b.label] = b;
    } else throw new BakeError(`${file}:${b.line}: "${b.type}" blocks are outside the subset tools/bake.ts reads`);
  }
  const interpolate = (b: Block, s: string): string =>
    s.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => {
      if (!(name in vars)) fail(b, `unknown variable ${name}`);
      return vars[name];
    });
  const str = (b: Block, key: string, v: Value): string => {
    if (isRef(v)) {
      if (!(v.ref in vars)) fail(b, `${key}: unknown variable ${v.ref}`);
      return vars[v.ref];
    }
    if (typeof v === "string") return interpolate(b, v);
    if (typeof v === "number" || typeof v === "boolean") return String(v);
    return fail(b, `${key} must be a string`);
  };
  const list = (b: Block, key: string, v: Value): string[] =>
    Array.isArray(v) ? v.map((x) => str(b, key, x)) : fail(b, `${key} must be a list`);
  const map = (b: Block, key: string, v: Value): Record<string, string> => {
    if (typeof v !== "object" || v === null || Array.isArray(v) || isRef(v)) return fail(b, `${key} must be a map`);
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, str(b, `${key}.${k}`, x)]));
  };

  const done = new Map<string, BakeTarget>();
  const targetOf = (name: string, chain: string[] = []): BakeTarget => {
    const cached = done.get(name);
    if (cached) return cached;
    const b = raw[name];
    if (!b) throw new BakeError(`${file}: no target "${name}"${chain.length ? ` (inherited by ${chain.at(-1)})` : ""}`);
    if (chain.includes(name)) fail(b, `inherits itself (${[...chain, name].join(" → ")})`);
    let t: BakeTarget = { context: ".", dockerfile: "Dockerfile", args: {}, tags: [], labels: {} };
    for (const parent of b.attrs.inherits ? list(b, "inherits", b.attrs.inherits) : []) {
      const p = targetOf(parent, [...chain, name]);
      t = { ...t, ...p, args: { ...t.args, ...p.args }, labels: { ...t.labels, ...p.labels }, tags: [...p.tags] };
    }
    for (const [key, v] of Object.entries(b.attrs)) {
      if (key === "inherits") continue;
      else if (key === "context" || key === "dockerfile" || key === "target") t[key] = str(b, key, v);
      else if (key === "args" || key === "labels") t[key] = { ...t[key], ...map(b, key, v) };
      else if (key === "tags") t.tags = list(b, key, v);
      else fail(b, `attribute "${key}" is outside the subset tools/bake.ts reads`);
    }
    done.set(name, t);
    return t;
  };

  const out: BakeDefinition = { group: {}, target: {} };
  const expand = (name: string, seen: string[]): string[] => {
    if (groups[name]) {
      if (seen.includes(name)) throw new BakeError(`${file}: group "${name}" contains itself`);
      out.group[name] = { targets: groups[name] };
      return groups[name].flatMap((n) => expand(n, [...seen, name]));
    }
    return [name];
  };
  for (const name of requested.flatMap((n) => expand(n, []))) {
    if (!name.startsWith("_") || requested.includes(name)) out.target[name] = targetOf(name);
  }
  return out;
}

/** `docker build` arguments for one resolved target (context last, paths relative to `root`). */
export function dockerBuildArgs(t: BakeTarget, root: string): string[] {
  const args = ["-f", path.resolve(root, t.context, t.dockerfile)];
  if (t.target) args.push("--target", t.target);
  for (const [k, v] of Object.entries(t.args)) args.push("--build-arg", `${k}=${v}`);
  for (const [k, v] of Object.entries(t.labels)) args.push("--label", `${k}=${v}`);
  for (const tag of t.tags) args.push("-t", tag);
  args.push(path.resolve(root, t.context));
  return args;
}

export const ROOT = path.resolve(__dirname, "..");
export const BAKE_FILE = path.join(ROOT, "docker-bake.hcl");

/** Reads and resolves the bake file (environment variables override variable defaults). */
export function loadBake(requested: string[], env: Record<string, string | undefined> = process.env, file = BAKE_FILE): BakeDefinition {
  return resolveBake(parseHcl(readFileSync(file, "utf8"), path.basename(file)), env, requested, path.basename(file));
}

function main(argv: string[]): void {
  let mode: "print" | "build-args" | undefined;
  let file = BAKE_FILE;
  const env: Record<string, string | undefined> = { ...process.env };
  const names: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--print") mode = "print";
    else if (a === "--build-args") mode = "build-args";
    else if (a === "--file") file = path.resolve(argv[++i] ?? "");
    else if (a === "--set") {
      const kv = argv[++i] ?? "";
      const eq = kv.indexOf("=");
      if (eq < 1) throw new BakeError(`--set wants VAR=VALUE, got "${kv}"`);
      env[kv.slice(0, eq)] = kv.slice(eq + 1);
    } else if (a.startsWith("-")) throw new BakeError(`unknown option ${a}`);
    else names.push(a);
  }
  if (!mode) throw new BakeError("usage: tools/bake.ts --print [TARGET...] | --build-args TARGET [--file F] [--set VAR=VALUE]");
  const def = loadBake(names.length ? names : ["default"], env, file);
  if (mode === "print") {
    process.stdout.write(JSON.stringify(def, null, 2) + "\n");
    return;
  }
  const targets = Object.keys(def.target);
  if (targets.length !== 1) throw new BakeError(`--build-args wants exactly one target, got: ${targets.join(", ") || "none"}`);
  process.stdout.write(dockerBuildArgs(def.target[targets[0]], path.dirname(file)).join("\0") + "\0");
}

if (require.main === module) {
  try {
    main(process.argv.slice(2));
  } catch (error) {
    console.error(`bake: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(error instanceof BakeError ? 2 : 1);
  }
}
