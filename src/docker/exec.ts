// Runs one argv inside a running container through dockerode's exec API: optional stdin streamed
// in, stdout streamed out (with backpressure) or collected, stderr kept, exit code returned.
// The one exec path of slipway: the edge's runtime API, backups and restores all go through it.
import type Docker from "dockerode";
import { PassThrough, Readable, Transform, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { DockerDemux } from "./demux";

/** The container to exec in does not exist (404) or is not running (409). */
export class ContainerUnavailableError extends Error {
  constructor(
    readonly container: string,
    readonly reason: "not-found" | "not-running",
  ) {
    super(`container '${container}' ${reason === "not-found" ? "not found" : "is not running"}`);
    this.name = "ContainerUnavailableError";
  }
}

export interface ExecResult {
  exitCode: number;
  stdout: string; // empty when stdout was streamed to a sink
  stderr: string;
}

export async function execInContainer(
  docker: Docker,
  containerName: string,
  cmd: string[],
  /** stdout: where output goes (last stage a Writable), otherwise it is collected into the result */
  /** user: run as this user of the container (docker exec -u) instead of the container's own */
  io: { stdin?: Readable; stdout?: Array<Transform | Writable>; user?: string } = {},
): Promise<ExecResult> {
  const container = docker.getContainer(containerName);
  let exec: Docker.Exec;
  try {
    exec = await container.exec({ Cmd: cmd, AttachStdin: !!io.stdin, AttachStdout: true, AttachStderr: true, Tty: false, ...(io.user ? { User: io.user } : {}) });
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
  if (status === 404) return new ContainerUnavailableError(containerName, "not-found");
  if (status === 409) return new ContainerUnavailableError(containerName, "not-running");
  return err instanceof Error ? err : new Error(String(err));
}

/**
 * Runs `cmd` with `input` (if any) on stdin and returns stdout as text; a non-zero exit or no answer
 * within `timeoutMs` is an error naming the container, the command and its stderr.
 */
export async function execText(docker: Docker, container: string, cmd: string[], input?: string, timeoutMs = 10_000): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${container}: "${cmd.join(" ")}" gave no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    const result = await Promise.race([execInContainer(docker, container, cmd, input === undefined ? {} : { stdin: textStream(input) }), timeout]);
    if (result.exitCode !== 0) throw new Error(`${container}: "${cmd.join(" ")}" exited ${result.exitCode}: ${result.stderr.trim() || result.stdout.trim()}`);
    return result.stdout;
  } finally {
    clearTimeout(timer);
  }
}

/** A readable that yields `text` once; for feeding small inputs as stdin. */
function textStream(text: string): Readable {
  const s = new PassThrough();
  s.end(text);
  return s;
}
