// The operator verbs' shared argument handling: declare flags once, get parsed values, `--help`
// text and usage errors that name the flag. A thin layer over node's util.parseArgs.
import { parseArgs } from "node:util";

export type { FlagSpec, FlagValues, VerbSpec } from "../vocabulary/verbs";
export { verbArgv, verbCommand } from "../vocabulary/verbs";
import type { VerbSpec } from "../vocabulary/verbs";

export type Values = Record<string, string | boolean | undefined>;

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** undefined when --help was asked for (print usage, exit 0). Throws UsageError otherwise. */
export function parseVerbArgs(argv: string[], spec: VerbSpec): Values | undefined {
  const options: Record<string, { type: "string" | "boolean" }> = { help: { type: "boolean" } };
  for (const [name, flag] of Object.entries(spec.flags)) options[name] = { type: flag.type };
  let values: Values;
  try {
    let positionals: string[];
    ({ values, positionals } = parseArgs({ args: argv, options, strict: true, allowPositionals: !!spec.positional }));
    if (spec.positional && !values.help) {
      const { name, choices } = spec.positional;
      if (positionals.length !== 1 || !choices.includes(positionals[0]!)) {
        throw new UsageError(`expected one of ${choices.join("|")}${positionals.length ? `, got '${positionals.join(" ")}'` : ""}`);
      }
      values = { ...values, [name]: positionals[0] };
    }
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError((err as Error).message);
  }
  if (values.help) return undefined;
  for (const [name, flag] of Object.entries(spec.flags)) {
    if (flag.required && (values[name] === undefined || values[name] === "")) throw new UsageError(`missing --${name} ${flag.value ?? ""}`.trim());
    const problem = typeof values[name] === "string" ? valueProblem(name, values[name]) : undefined;
    if (problem) throw new UsageError(`--${name}: ${problem}`);
  }
  return { ...values };
}

/** The longest value a flag takes (a path, a message): anything longer is refused before it reaches a shell, a file or Docker. */
export const MAX_FLAG_LENGTH = 1024;
/** Flags that name a stack, a container, a database or a role: letters, digits, '_', '.', '-' only. */
const NAME_FLAGS = new Set(["stack", "db-container", "database", "user", "environment", "pushgateway"]);
/** Flags that are paths on the operator's machine: no '..' segment (say where, not how to climb there). */
const PATH_FLAGS = new Set(["file", "dir"]);

/** Why a flag's value is refused (hostile or mistaken input), or undefined. Pure; every verb gets it through parseVerbArgs. */
export function valueProblem(flag: string, value: string): string | undefined {
  if (value.length > MAX_FLAG_LENGTH) return `too long (${value.length} characters; at most ${MAX_FLAG_LENGTH})`;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(value)) return "contains control characters (a newline, NUL, escape…)";
  if (NAME_FLAGS.has(flag) && value !== "" && !/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(value)) {
    return `'${value}' is not a name: letters, digits, '_', '.', '-' only, starting with a letter or digit`;
  }
  if (PATH_FLAGS.has(flag) && value.split("/").includes("..")) return `'${value}' has a '..' segment; give the path without it (e.g. absolute)`;
  return undefined;
}

export function usage(spec: VerbSpec): string {
  const synopsis = Object.entries(spec.flags)
    .map(([name, f]) => {
      const text = f.type === "string" ? `--${name} ${f.value ?? "<value>"}` : `--${name}`;
      return f.required ? text : `[${text}]`;
    })
    .join(" ");
  const width = Math.max(...Object.entries(spec.flags).map(([n, f]) => n.length + (f.value?.length ?? 0))) + 6;
  const lines = Object.entries(spec.flags).map(([name, f]) => `  ${`--${name} ${f.value ?? ""}`.padEnd(width)}${f.description}`);
  const words = spec.positional ? `${synopsis} ${spec.positional.choices.join("|")}` : synopsis;
  return [`${spec.summary}`, "", `usage: npm run ${spec.name} -- ${words}`, "", ...lines, ...(spec.notes ? ["", ...spec.notes] : [])].join("\n");
}

/** A whole number ≥ min from a string flag, or `fallback` when absent. */
export function intFlag(values: Values, name: string, fallback: number, min = 0): number {
  const raw = values[name];
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (typeof raw !== "string" || !/^\d+$/.test(raw) || n < min || !Number.isSafeInteger(n)) {
    throw new UsageError(`--${name} must be a whole number ≥ ${min}${Number.isSafeInteger(n) ? "" : ` and ≤ ${Number.MAX_SAFE_INTEGER}`}, got '${String(raw).slice(0, 40)}'`);
  }
  return n;
}

export function stringFlag(values: Values, name: string): string | undefined {
  const v = values[name];
  return typeof v === "string" ? v : undefined;
}

/**
 * Runs a verb's main: prints --help, usage errors (exit 2) and failures (exit 1) as one readable
 * message; stack traces only with SLIPWAY_DEBUG=1.
 */
export async function runVerb(spec: VerbSpec, main: (values: Values) => Promise<void>, argv = process.argv.slice(2)): Promise<void> {
  try {
    const values = parseVerbArgs(argv, spec);
    if (!values) {
      console.log(usage(spec));
      return;
    }
    await main(values);
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`${spec.name}: ${err.message}\n\n${usage(spec)}`);
      process.exitCode = 2;
      return;
    }
    console.error(`${spec.name} failed: ${(err as Error).message ?? String(err)}`);
    if (process.env.SLIPWAY_DEBUG) console.error(err);
    process.exitCode = 1;
  }
}
