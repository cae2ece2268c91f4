// The shape of an operator verb — its flags, help and positional word — declared once, and the argv that runs it.
// The verbs (src/cli) parse it; libraries that run a verb as a command line (the backup step of the Pulumi program)
// build the argv from the same declaration, so a flag cannot exist in one place and not the other.
export interface FlagSpec {
  type: "string" | "boolean";
  /** shown in --help, e.g. "<name>" */
  value?: string;
  description: string;
  required?: boolean;
}

export interface VerbSpec {
  /** e.g. "backup" — used as `npm run <name> -- ...` */
  name: string;
  summary: string;
  flags: Record<string, FlagSpec>;
  /** One required positional word out of a fixed set (e.g. `on|off`), returned as values[positional.name]. */
  positional?: { name: string; choices: string[] };
  /** extra lines after the flag list */
  notes?: string[];
}

/** `db-container` → `dbContainer`. */
type Camel<S extends string> = S extends `${infer A}-${infer B}` ? `${A}${Capitalize<Camel<B>>}` : S;

/**
 * The flags of a verb as a typed object, one camel-cased field per flag (booleans as booleans, strings as strings
 * or numbers, required flags required): what a caller that runs the verb as a command line passes to verbArgv.
 */
export type FlagValues<F extends Record<string, FlagSpec>> = {
  [K in keyof F as F[K]["required"] extends true ? Camel<K & string> : never]: F[K]["type"] extends "boolean" ? boolean : string;
} & {
  [K in keyof F as F[K]["required"] extends true ? never : Camel<K & string>]?: F[K]["type"] extends "boolean" ? boolean : string | number;
};

const camel = (flag: string) => flag.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());

/** The flags of `values` as argv, in the order the spec declares them (what the verb itself parses). */
export function verbArgv<F extends Record<string, FlagSpec>>(flags: F, values: FlagValues<F>): string[] {
  const given = values as Record<string, string | number | boolean | undefined>;
  const known = new Set(Object.keys(flags).map(camel));
  const unknown = Object.keys(given).filter((k) => !known.has(k));
  if (unknown.length > 0) throw new Error(`no such flag: ${unknown.join(", ")}`);
  return Object.entries(flags).flatMap(([name, flag]) => {
    const v = given[camel(name)];
    if (v === undefined || v === false) return [];
    return flag.type === "boolean" ? [`--${name}`] : [`--${name}`, String(v)];
  });
}

/**
 * `npm run <verb> -- <flags>` as argv run from the repository root: node with tsx, the verb's file (src/cli/<name>.ts),
 * then the flags as the verb declares them — what a caller that runs a verb (the program's pre-deploy step, a test) spawns.
 */
export function verbCommand<F extends Record<string, FlagSpec>>(spec: { name: string; flags: F }, values: FlagValues<F>): string[] {
  return ["node", "--import", "tsx", `src/cli/${spec.name}.ts`, ...verbArgv(spec.flags, values)];
}
