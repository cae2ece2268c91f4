// The development tier's settings: a git-ignored `.env` (see .env.example), read once and validated with
// zod. Every key is known: an unknown one is refused, with a did-you-mean when one is close.
import { z } from "zod";
import { closestKey } from "../../stacks/suggest";

const port = () =>
  z.coerce.number({ message: "must be a port number" }).int("must be a whole number")
    .min(1, "must be a port number 1-65535").max(65535, "must be a port number 1-65535");

const LOCAL_HOSTS = new Set(["localhost", "127.0.0.1", "::1", "[::1]"]);

export const devEnvSchema = z.strictObject({
  /** Prefix of the dev containers, network and volume (<project>-api, <project>-db, <project>-pgdata). */
  SLIPWAY_DEV_PROJECT: z.string()
    .regex(/^[a-z0-9][a-z0-9_.-]{0,40}$/, "must be lower-case letters, digits, '.', '_' or '-' (at most 41)")
    .default("slipway-dev"),
  /** Host port of the API (bound to 127.0.0.1). */
  SLIPWAY_DEV_PORT: port().default(3000),
  /** The API source mounted read-only into the container, relative to the repository root. */
  SLIPWAY_DEV_API_SRC: z.string().min(1).default("src/api"),
  /** Base image of the `dev` bake target. */
  SLIPWAY_DEV_NODE_IMAGE: z.string().min(1).default("node:20-bookworm-slim"),
  /** An existing PostgreSQL server instead of the dev container (seen from inside a container). */
  SLIPWAY_DEV_DATABASE_URL: z.string()
    .refine((v) => /^postgres(ql)?:\/\//.test(v), "must be a postgres:// or postgresql:// URL")
    .refine((v) => {
      try {
        return !LOCAL_HOSTS.has(new URL(v).hostname);
      } catch {
        return false;
      }
    }, "must be a valid URL whose host the API container can reach: the API runs in a container, so use host.docker.internal for a server on this machine")
    .optional(),
  /** The dev PostgreSQL container (unused when SLIPWAY_DEV_DATABASE_URL is set). */
  SLIPWAY_DEV_POSTGRES_IMAGE: z.string().min(1).default("postgres:17"),
  SLIPWAY_DEV_POSTGRES_PASSWORD: z.string().min(1, "must not be empty").default("slipway-dev"),
  SLIPWAY_DEV_POSTGRES_DB: z.string().regex(/^[a-z_][a-z0-9_]*$/, "must be a plain lower-case identifier").default("app"),
  /** Publish the dev database on 127.0.0.1:<port> too (for psql); unset = not published. */
  SLIPWAY_DEV_POSTGRES_PORT: port().optional(),
});

export type DevEnv = z.infer<typeof devEnvSchema>;
export const DEV_KEYS = Object.keys(devEnvSchema.shape) as (keyof DevEnv)[];

export class DevEnvError extends Error {}

/** KEY=VALUE lines; blank lines and `#` comments skipped; `export ` and matching quotes allowed. */
export function parseDotenv(text: string, file = ".env"): Record<string, string> {
  const out: Record<string, string> = {};
  const errors: string[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!m) {
      errors.push(`${file}:${i + 1}: expected KEY=VALUE, got "${line}"`);
      return;
    }
    let value = m[2];
    const q = value[0];
    if ((q === '"' || q === "'") && value.length >= 2 && value.endsWith(q)) value = value.slice(1, -1);
    else value = value.replace(/\s+#.*$/, "");
    if (m[1] in out) errors.push(`${file}:${i + 1}: ${m[1]} is set twice`);
    out[m[1]] = value;
  });
  if (errors.length) throw new DevEnvError(errors.join("\n"));
  return out;
}

/** Validates the .env values; every problem is reported at once, each naming its variable. */
export function validateDevEnv(values: Record<string, string>, file = ".env"): DevEnv {
  const problems: string[] = [];
  for (const key of Object.keys(values)) {
    if ((DEV_KEYS as string[]).includes(key)) continue;
    const near = closestKey(key, DEV_KEYS);
    problems.push(`${key}: unknown key${near ? ` — did you mean ${near}?` : ` (the dev tier reads ${DEV_KEYS.join(", ")})`}`);
  }
  const known = Object.fromEntries(Object.entries(values).filter(([k, v]) => (DEV_KEYS as string[]).includes(k) && v !== ""));
  const result = devEnvSchema.safeParse(known);
  if (!result.success) {
    for (const issue of result.error.issues) {
      const key = issue.path.join(".");
      const shown = /PASSWORD|DATABASE_URL/.test(key) ? "" : ` (got "${known[key]}")`;
      problems.push(`${key}: ${issue.message}${key in known ? shown : ""}`);
    }
  }
  if (problems.length) throw new DevEnvError(`${file}: invalid development settings\n  ${problems.join("\n  ")}`);
  return result.data!;
}
