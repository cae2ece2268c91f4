// Runs one argv inside a running container through dockerode's exec API: optional stdin streamed
// in, stdout streamed out (with backpressure) or collected, stderr kept, exit code returned.
// Honours DOCKER_HOST through dockerode's defaults.
import type Docker from "dockerode";
import { PassThrough, Readable, Transform, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { DockerDemux } from "./demux";
import { OpsError } from "./errors";

export interface ExecResult {
  exitCode: number;
  stdout: string; // empty when stdout was streamed to a sink
  stderr: string;
}

export function connectDocker(): Docker {
  const DockerCtor = require("dockerode") as typeof import("dockerode");
  return new DockerCtor();
}

export async function execInContainer(
  docker: Docker,
  containerName: string,
  cmd: string[],
  /** stdout: where output goes (last stage a Writable), otherwise it is collected into the result */
  io: { stdin?: Readable; stdout?: Array<Transform | Writable> } = {},
): Promise<ExecResult> {
  const container = docker.getContainer(containerName);
  let exec: Docker.Exec;
  try {
    exec = await container.exec({ Cmd: cmd, AttachStdin: !!io.stdin, AttachStdout: true, AttachStderr: true, Tty: false });
  } catch (err) {
    throw containerProblem(containerName, err);
  }
  const socket = (await exec.start({ hijack: true, stdin: !!io.stdin })) as unknown as NodeJS.ReadWriteStream & { destroy(): void };

  if (io.stdin) {
    const stdin = io.stdin;
    // The process may exit before reading all of stdin (pg_restore on a bad archive): the write
    // side then fails with EPIPE, which is not the error worth reporting — the exit code is.
    stdin.on("error", () => socket.destroy());
    stdin.pipe(socket as unknown as Writable).on("error", () => undefined);
  }

  const demux = new DockerDemux();
  const chunks: Buffer[] = [];
  const collect = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk);
      done();
    },
  });
  try {
    await pipeline([socket as unknown as Readable, demux, ...(io.stdout ?? [collect])]);
  } catch (err) {
    socket.destroy(); // the process's stdout closes, so it stops rather than runs on unseen
    throw err;
  }
  const exitCode = await waitForExit(exec);
  return { exitCode, stdout: Buffer.concat(chunks).toString("utf8"), stderr: demux.stderr };
}

// The stream can end a moment before the engine records the exit code.
async function waitForExit(exec: Docker.Exec): Promise<number> {
  for (let i = 0; i < 100; i++) {
    const info = await exec.inspect();
    if (!info.Running && info.ExitCode !== null) return info.ExitCode;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error("docker exec: the engine did not report an exit code within 5 s");
}

function containerProblem(containerName: string, err: unknown): Error {
  const status = (err as { statusCode?: number }).statusCode;
  const where = process.env.DOCKER_HOST ? ` on ${process.env.DOCKER_HOST}` : "";
  if (status === 404) {
    return new OpsError("container-not-found", `database container '${containerName}' not found${where}; check the name with \`docker ps\` and pass it as --db-container`);
  }
  if (status === 409) {
    return new OpsError("container-not-found", `database container '${containerName}'${where} is not running; start it (\`docker start ${containerName}\`) and retry`);
  }
  return err instanceof Error ? err : new Error(String(err));
}

/** A readable that yields `text` once; for feeding small inputs as stdin. */
export function textStream(text: string): Readable {
  const s = new PassThrough();
  s.end(text);
  return s;
}
