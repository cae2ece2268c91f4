// Secrets as files, never in a container's environment: before a container starts, each secret is written into it
// as /run/secrets/<NAME> (mode 0400, owned by the user the container runs as, in a 0500 directory of that user), and
// the environment carries only NAME_FILE=/run/secrets/<NAME> — the `_FILE` convention the API reads (src/api/config.ts)
// and the path Docker Swarm mounts its secrets at. Nothing of the value is in `docker inspect`, a label or a name.
import type Docker from "dockerode";
import { readContainerFile, tarFiles } from "./tar";

/** Where secrets live inside a container (Docker Swarm's path too). */
export const SECRETS_DIR = "/run/secrets";

/** A secret's file path inside the container. */
export function secretPath(name: string): string {
  return `${SECRETS_DIR}/${name}`;
}

/** The environment entries that point at the secrets' files: `NAME_FILE=/run/secrets/NAME`. */
export function secretFileEnv(names: readonly string[]): string[] {
  return [...names].sort().map((n) => `${n}_FILE=${secretPath(n)}`);
}

/** A variable name a secret may have (it becomes a file name and part of a variable name). */
export function checkSecretName(name: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error(`secret "${name}" must be a variable name: letters, digits and '_', not starting with a digit`);
  return name;
}

export interface Ids {
  uid: number;
  gid: number;
}

/** Where the archive is uploaded: the parent of SECRETS_DIR (a volume of its own in a read-only container). */
export const SECRETS_PARENT = "/run";

/** The archive to upload at SECRETS_PARENT: secrets/ (0500) and one 0400 file per secret, all owned by `ids`. */
export function secretsArchive(secrets: Record<string, string>, ids: Ids): Buffer {
  const dir = SECRETS_DIR.slice(SECRETS_PARENT.length + 1);
  return tarFiles([
    { path: `${dir}/`, content: "", dir: true, mode: 0o500, ...ids },
    ...Object.keys(secrets).sort().map((name) => ({ path: `${dir}/${checkSecretName(name)}`, content: secrets[name], mode: 0o400, ...ids })),
  ]);
}

/**
 * The numeric user and group a container runs as, from its Config.User ("", "1000", "1000:1000", "node",
 * "node:node"): names are looked up in the container's own /etc/passwd and /etc/group (read from the created,
 * not yet started, container). Pure: `readFile` hands over a file of the container, or undefined.
 */
export async function resolveIds(user: string, readFile: (path: string) => Promise<string | undefined>): Promise<Ids> {
  const [u = "", g] = user.split(":");
  if (u === "" || u === "root") return { uid: 0, gid: g !== undefined && /^\d+$/.test(g) ? Number(g) : 0 };
  let uid: number;
  let gid: number | undefined;
  if (/^\d+$/.test(u)) {
    uid = Number(u);
  } else {
    const line = (await readFile("/etc/passwd"))?.split("\n").find((l) => l.split(":")[0] === u);
    if (!line) throw new Error(`user "${u}" of the container is not in its /etc/passwd: cannot give it its secret files`);
    const fields = line.split(":");
    uid = Number(fields[2]);
    gid = Number(fields[3]);
  }
  if (g !== undefined && g !== "") {
    if (/^\d+$/.test(g)) gid = Number(g);
    else {
      const line = (await readFile("/etc/group"))?.split("\n").find((l) => l.split(":")[0] === g);
      if (!line) throw new Error(`group "${g}" of the container is not in its /etc/group: cannot give it its secret files`);
      gid = Number(line.split(":")[2]);
    }
  }
  return { uid, gid: gid ?? uid };
}

/** Writes `secrets` into the created (not yet started) container, owned by the user it will run as. */
export async function putSecretFiles(container: Docker.Container, secrets: Record<string, string>): Promise<void> {
  if (Object.keys(secrets).length === 0) return;
  const user = (await container.inspect()).Config.User ?? "";
  const ids = await resolveIds(user, (path) => readContainerFile(container, path));
  // At /run, not /: Docker refuses an upload into a read-only root filesystem, but not into a volume mounted there.
  await container.putArchive(secretsArchive(secrets, ids), { path: SECRETS_PARENT });
}
