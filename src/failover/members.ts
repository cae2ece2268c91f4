// What `npm run failover` and `npm run reseed` ask of a database member, through its Docker engine: its container (or
// none), SQL as the superuser on its local socket, whether it is in recovery, whether a failover fenced it.
import type Docker from "dockerode";
import { execInContainer, isStatus, readContainerFile } from "../docker";
import { PGDATA } from "../backup/wal";
import { FENCE_MARKER, memberSql } from "../postgres/standby";

/** The member's container, or undefined when there is none. */
export function inspectMember(docker: Docker, name: string): Promise<Docker.ContainerInspectInfo | undefined> {
  return docker.getContainer(name).inspect().catch((e: unknown) => (isStatus(e, 404) ? undefined : Promise.reject(e)));
}

/** One statement as the superuser on a member's local socket; its output, trimmed; throws with the member's answer. */
export function sqlOn(docker: Docker, container: string, dbUser: string): (statement: string) => Promise<string> {
  return async (statement) => {
    const r = await execInContainer(docker, container, memberSql({ user: dbUser }, statement), { user: "postgres" });
    if (r.exitCode !== 0) throw new Error(`${container}: ${statement}: ${(r.stderr || r.stdout).trim()}`);
    return r.stdout.trim();
  };
}

/** pg_is_in_recovery() of a running member; undefined when it does not answer on its local socket. */
export async function inRecovery(docker: Docker, container: string, dbUser: string): Promise<boolean | undefined> {
  const out = await sqlOn(docker, container, dbUser)("SELECT pg_is_in_recovery()").catch(() => "");
  return out === "t" ? true : out === "f" ? false : undefined;
}

/** Whether a member's data directory holds the failover's fence marker (read from the container, running or not). */
export async function isFenced(docker: Docker, container: string): Promise<boolean> {
  return (await readContainerFile(docker.getContainer(container), `${PGDATA}/${FENCE_MARKER}`)) !== undefined;
}
