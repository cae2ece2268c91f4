// Fuzz the loader from the committed stack files: random typos, deletions, wrong types, out-of-range
// numbers, unknown keys and objects replaced by scalars. Every result must be a valid config or a
// StackConfigError naming the stack whose every violation is a `slipway:` key — never another exception.
// A valid result must not have dropped any key it was given (strictness). Seeded: SLIPWAY_FUZZ_SEED=<n>
// replays a run; the seed is printed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { loadStackConfig, StackConfigError } from "../../stacks/load";

const SEED = Number(process.env.SLIPWAY_FUZZ_SEED ?? 20_251_031);
const RUNS_PER_FILE = 500;
const root = join(__dirname, "..", "..");

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Container = Json[] | { [key: string]: Json };

/** mulberry32: a small seeded PRNG, uniform in [0, 1). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function stackFile(stack: string): { [key: string]: Json } {
  const doc = parse(readFileSync(join(root, `Pulumi.${stack}.yaml`), "utf8")) as { config: Record<string, Json> };
  return Object.fromEntries(Object.entries(doc.config).map(([k, v]) => [k.replace(/^slipway:/, ""), v]));
}

function isContainer(v: unknown): v is Container {
  return typeof v === "object" && v !== null;
}

/** Sets an own, enumerable property even for names such as `__proto__`. */
function put(obj: Container, key: string | number, value: Json): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

function fuzzer(random: () => number) {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_-.";

  function typo(name: string): string {
    const i = Math.floor(random() * Math.max(1, name.length));
    switch (pick(["insert", "delete", "substitute", "transpose", "case", "snake", "suffix"] as const)) {
      case "insert":
        return name.slice(0, i) + pick([...letters]) + name.slice(i);
      case "delete":
        return name.length > 1 ? name.slice(0, i) + name.slice(i + 1) : name + "x";
      case "substitute":
        return name.slice(0, i) + pick([...letters]) + name.slice(i + 1);
      case "transpose":
        return i + 1 < name.length ? name.slice(0, i) + name[i + 1] + name[i] + name.slice(i + 2) : name + "s";
      case "case":
        return name.toUpperCase() === name ? name.toLowerCase() : name.toUpperCase();
      case "snake":
        return name.replace(/[A-Z]/g, (c) => "_" + c.toLowerCase()) + (/[A-Z]/.test(name) ? "" : "_");
      case "suffix":
        return name + pick(["Seconds", "Ms", "s", "2", ".x"]);
    }
  }

  function randomScalar(): Json {
    return pick<Json>([
      null, true, false, 0, -1, 1, 0.5, 1.5, 7, 65536, 1e12, -0, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY,
      "", " ", "3", "true", "null", "/up", "staging", "production", "slipway/api:latest", "x".repeat(300), "🙂", "{}",
    ]);
  }

  function randomValue(depth = 0): Json {
    const r = random();
    if (depth > 2 || r < 0.6) return randomScalar();
    if (r < 0.8) return Array.from({ length: Math.floor(random() * 3) }, () => randomValue(depth + 1));
    const out: { [key: string]: Json } = {};
    for (let i = Math.floor(random() * 3); i > 0; i--) put(out, randomKey(), randomValue(depth + 1));
    return out;
  }

  function randomKey(siblings: readonly string[] = []): string {
    const r = random();
    if (r < 0.4 && siblings.length > 0) return typo(pick(siblings));
    if (r < 0.55) return pick(["__proto__", "constructor", "toString", "hasOwnProperty", "valueOf", "prototype", "0", "", " ", "a.b", "secretEnv"]);
    return Array.from({ length: 1 + Math.floor(random() * 12) }, () => pick([...letters])).join("");
  }

  function outOfRange(v: Json): Json {
    if (typeof v === "number") return pick([-1, 0, -v, v * 1000, v + 0.5, 1e9, Number.MAX_SAFE_INTEGER + 2, Number.NaN, Number.POSITIVE_INFINITY]);
    if (typeof v === "string") return pick(["", v + " ", v.toUpperCase(), "relative/path", "-x", v.repeat(50)]);
    if (typeof v === "boolean") return v ? 1 : 0;
    return randomScalar();
  }

  /** Every [container, key] slot of the tree, the root's keys included. */
  function slots(node: Container, out: [Container, string | number][] = []): [Container, string | number][] {
    for (const key of Array.isArray(node) ? node.keys() : Object.keys(node)) {
      out.push([node, key]);
      const child = (node as Record<string | number, Json>)[key];
      if (isContainer(child)) slots(child, out);
    }
    return out;
  }

  function containers(root: Container): Container[] {
    return [root, ...slots(root).map(([c, k]) => (c as Record<string | number, Json>)[k]).filter(isContainer)];
  }

  /** Applies one random mutation to `root` in place; returns what it did, for failure messages. */
  function mutate(root: { [key: string]: Json }): string {
    const all = slots(root);
    const [parent, key] = pick(all);
    const value = (parent as Record<string | number, Json>)[key]!;
    const kind = pick(["rename", "delete", "retype", "range", "unknown", "scalar", "wrap", "empty"] as const);
    switch (kind) {
      case "rename": {
        if (Array.isArray(parent)) return mutate(root);
        const to = typo(String(key));
        delete parent[key as string];
        put(parent, to, value);
        return `rename ${String(key)} -> ${JSON.stringify(to)}`;
      }
      case "delete":
        if (Array.isArray(parent)) parent.splice(key as number, 1);
        else delete parent[key as string];
        return `delete ${String(key)}`;
      case "retype": {
        const to = isContainer(value) ? randomScalar() : randomValue();
        put(parent, key, to);
        return `retype ${String(key)} -> ${JSON.stringify(to)}`;
      }
      case "range": {
        const to = outOfRange(value);
        put(parent, key, to);
        return `range ${String(key)} -> ${JSON.stringify(to)}`;
      }
      case "unknown": {
        const target = pick(containers(root));
        const name = randomKey(Array.isArray(target) ? [] : Object.keys(target));
        const v = randomValue();
        if (Array.isArray(target)) target.push(v);
        else put(target, name, v);
        return `add ${JSON.stringify(name)} = ${JSON.stringify(v)}`;
      }
      case "scalar": {
        const to = randomScalar();
        put(parent, key, to);
        return `scalar ${String(key)} -> ${JSON.stringify(to)}`;
      }
      case "wrap":
        put(parent, key, [value]);
        return `wrap ${String(key)} in an array`;
      case "empty": {
        const to = Array.isArray(value) ? [] : isContainer(value) ? {} : randomScalar();
        put(parent, key, to);
        return `empty ${String(key)}`;
      }
    }
  }

  return { mutate, random };
}

/** Every key the input gives (outside the free-form api.env and the secret secretEnv) is in the output. */
function keysKept(input: Json, output: unknown, path: string): string | undefined {
  if (!isContainer(input)) return undefined;
  if (!isContainer(output)) return `${path}: input is a container, output is not`;
  if (path === "slipway:api.env") return undefined;
  for (const key of Array.isArray(input) ? input.keys() : Object.keys(input)) {
    if (path === "slipway:" && key === "secretEnv") continue;
    const child = typeof key === "number" ? `${path}[${key}]` : `${path}${path.endsWith(":") ? "" : "."}${key}`;
    if (!Object.hasOwn(output, key)) return `${child}: accepted but not in the parsed config`;
    const problem = keysKept((input as Record<string | number, Json>)[key]!, (output as Record<string | number, unknown>)[key], child);
    if (problem) return problem;
  }
  return undefined;
}

for (const stack of ["staging", "production"]) {
  test(`fuzz ${stack}: ${RUNS_PER_FILE} mutated stack files load or fail with a StackConfigError naming slipway: keys`, (t) => {
    t.diagnostic(`seed ${SEED} (replay with SLIPWAY_FUZZ_SEED=${SEED})`);
    const base = stackFile(stack);
    const { mutate, random } = fuzzer(prng(SEED + (stack === "production" ? 1 : 0)));
    const outcomes = { valid: 0, invalid: 0 };
    for (let run = 0; run < RUNS_PER_FILE; run++) {
      const values = structuredClone(base);
      const steps = Array.from({ length: 1 + Math.floor(random() * 3) }, () => mutate(values));
      const input = structuredClone(values);
      const where = `seed ${SEED}, ${stack} run ${run}: ${steps.join("; ")}`;
      let cfg: unknown;
      try {
        cfg = loadStackConfig(stack, values);
      } catch (e) {
        if (!(e instanceof StackConfigError)) assert.fail(`${where}: threw ${e instanceof Error ? e.stack : String(e)}`);
        outcomes.invalid++;
        assert.equal(e.stack, stack, where);
        assert.ok(e.message.includes(`stack "${stack}"`), `${where}: message does not name the stack:\n${e.message}`);
        assert.ok(e.violations.length > 0, `${where}: no violations`);
        for (const v of e.violations) {
          assert.ok(v.key.startsWith("slipway:"), `${where}: violation key ${JSON.stringify(v.key)}`);
          assert.ok(typeof v.message === "string" && v.message.length > 0, `${where}: empty message for ${v.key}`);
          assert.ok(e.message.includes(`${v.key}: ${v.message}`), `${where}: ${v.key} missing from the message`);
        }
        continue;
      }
      outcomes.valid++;
      const dropped = keysKept(input, cfg, "slipway:");
      assert.equal(dropped, undefined, `${where}: ${dropped}`);
    }
    t.diagnostic(`${outcomes.valid} valid, ${outcomes.invalid} refused`);
    assert.ok(outcomes.invalid > RUNS_PER_FILE / 2, "most mutations should be refused");
  });
}
