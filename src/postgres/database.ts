// Which database and role to use inside a DB container: explicit values win, otherwise the
// container's own POSTGRES_DB / POSTGRES_USER (the postgres image's defaults: user 'postgres',
// database = user). Connections go over the container's local socket, so no password is needed.
import type Docker from "dockerode";
import type { Database } from "./commands";
import { engineName } from "./db-exec";
import { OpsError } from "./errors";

export function databaseFromEnv(env: readonly string[], explicit: Partial<Database>): Database {
  const vars = new Map(env.map((e) => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)] as const));
  const user = explicit.user ?? vars.get("POSTGRES_USER") ?? "postgres";
  return { user, database: explicit.database ?? vars.get("POSTGRES_DB") ?? user };
}

export async function resolveDatabase(docker: Docker, containerName: string, explicit: Partial<Database>): Promise<Database> {
  if (explicit.user && explicit.database) return { user: explicit.user, database: explicit.database };
  let env: string[] = [];
  try {
    env = (await docker.getContainer(containerName).inspect()).Config.Env ?? [];
  } catch (err) {
    // a missing container is reported, with advice, by the first exec; an engine that does not answer, here
    if ((err as { statusCode?: number }).statusCode === undefined) {
      throw new OpsError("container-not-found", `cannot reach the Docker engine${engineName(docker)} to find container '${containerName}': ${(err as Error).message}`);
    }
  }
  return databaseFromEnv(env, explicit);
}
