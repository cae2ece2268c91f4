// Exec in the database container, with the operator's message when that container is missing or stopped.
import type Docker from "dockerode";
import { ContainerUnavailableError, execInContainer, type ExecResult } from "../docker";
import { OpsError } from "./errors";

export async function execInDb(docker: Docker, container: string, cmd: string[], io: Parameters<typeof execInContainer>[3] = {}): Promise<ExecResult> {
  try {
    return await execInContainer(docker, container, cmd, io);
  } catch (err) {
    if (!(err instanceof ContainerUnavailableError)) throw err;
    const where = process.env.DOCKER_HOST ? ` on ${process.env.DOCKER_HOST}` : "";
    throw new OpsError(
      "container-not-found",
      err.reason === "not-found"
        ? `database container '${container}' not found${where}; check the name with \`docker ps\` and pass it as --db-container`
        : `database container '${container}'${where} is not running; start it (\`docker start ${container}\`) and retry`,
    );
  }
}
