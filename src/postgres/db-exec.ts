// Exec in the database container, with the operator's message when that container is missing or stopped.
import type Docker from "dockerode";
import { ContainerUnavailableError, execInContainer, type ExecResult } from "../docker";
import { OpsError } from "./errors";

export async function execInDb(docker: Docker, container: string, cmd: string[], io: Parameters<typeof execInContainer>[3] = {}): Promise<ExecResult> {
  try {
    return await execInContainer(docker, container, cmd, io);
  } catch (err) {
    if (!(err instanceof ContainerUnavailableError)) throw err;
    const where = engineName(docker);
    throw new OpsError(
      "container-not-found",
      err.reason === "not-found"
        ? `database container '${container}' not found${where}; check the name with \`docker ps\` and pass it as --db-container`
        : `database container '${container}'${where} is not running; start it (\`docker start ${container}\`) and retry`,
    );
  }
}

/** " on <engine>" for a remote engine (the stack's dockerHost or DOCKER_HOST), "" for the local socket. */
export function engineName(docker: Docker): string {
  // docker-modem's socketPath is a function when it defaults to the local socket
  const modem = (docker as unknown as { modem?: { host?: unknown; port?: unknown; protocol?: unknown; socketPath?: unknown } }).modem ?? {};
  if (typeof modem.host === "string" && modem.host) return ` on ${typeof modem.protocol === "string" ? modem.protocol : "tcp"}://${modem.host}${modem.port ? `:${String(modem.port)}` : ""}`;
  if (typeof modem.socketPath === "string" && modem.socketPath !== "/var/run/docker.sock") return ` on unix://${modem.socketPath}`;
  return "";
}
