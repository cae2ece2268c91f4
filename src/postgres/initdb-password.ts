// The superuser's initdb password: it only serves the database's first start (the deploy's roles step then clears it,
// src/postgres/roles.ts), and it reaches the database container as a file (POSTGRES_PASSWORD_FILE, the postgres
// image's `_FILE` convention), never in its environment, where `docker inspect` shows it.
//
// A database container created before this kept the password in its environment, and Docker cannot change a
// container's environment: only a replacement removes it. A staging database is replaced on its next deploy (a few
// seconds without the database, which the API rides out). A production one is protected, and replacing it is a
// deliberate act (RUNBOOK.md §2): it keeps its environment, with a warning on every deploy, until its stack sets
// `database.convertPasswordEnv: true` and unprotects it for that one deploy.
import type Docker from "dockerode";
import { secretPath } from "../docker/secret-files";

/** The secret's name: the file's name, and the variable its `_FILE` form points at it with. */
export const INITDB_PASSWORD_SECRET = "POSTGRES_PASSWORD";
/** Where the file is inside the database container, on one host and on a swarm (a Swarm secret) alike. */
export const INITDB_PASSWORD_FILE = secretPath(INITDB_PASSWORD_SECRET);
/**
 * The file's mode: the official image reads it as root, the Debian stand-in (images/local/postgres) as postgres, so
 * readable by both — the only two users of the database container — and by nobody outside it.
 */
export const INITDB_PASSWORD_FILE_MODE = "0444";

export type InitdbPasswordDelivery = "file" | "env";

/** The environment entry of a container created with the password in its environment. */
export function passwordInEnv(env: readonly string[]): boolean {
  return env.some((e) => e.startsWith("POSTGRES_PASSWORD="));
}

/**
 * How the database container gets its password, from what runs now (`existingInEnv`: a container of this name exists
 * with the password in its environment). Pure. `warning` is for the deploy's output when a legacy container is kept.
 */
export function initdbPasswordDelivery(input: { existingInEnv: boolean; production: boolean; convert: boolean; container: string }): { delivery: InitdbPasswordDelivery; warning?: string } {
  if (!input.existingInEnv || !input.production || input.convert) return { delivery: "file" };
  return {
    delivery: "env",
    warning: `database container ${input.container} was created with its (dead) initdb password in its environment, where \`docker inspect\` shows it; ` +
      "it is kept, because replacing a production database is a deliberate act: in a quiet hour set database.convertPasswordEnv: true and follow RUNBOOK.md §2 \"The database's password in its environment\"",
  };
}

/** Whether the container `name` exists with the password in its environment (false when it does not exist). */
export async function containerHasPasswordInEnv(docker: Docker, name: string): Promise<boolean> {
  try {
    return passwordInEnv((await docker.getContainer(name).inspect()).Config.Env ?? []);
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) return false;
    throw err;
  }
}
