// The one way slipway reaches a Docker engine: `dockerHost` as the stack names it (unix://, tcp://, https://,
// ssh://user@host), or — when the stack names none — what the operator's environment says (DOCKER_HOST and
// DOCKER_TLS_VERIFY / DOCKER_CERT_PATH, which dockerode reads itself).
import type Docker from "dockerode";

export function connectDocker(dockerHost?: string): Docker {
  const DockerCtor = require("dockerode") as typeof Docker;
  if (!dockerHost) return new DockerCtor();
  const url = new URL(dockerHost);
  switch (url.protocol) {
    case "unix:":
      return new DockerCtor({ socketPath: url.pathname });
    case "tcp:":
    case "http:":
      return new DockerCtor({ host: url.hostname, port: Number(url.port) || 2375, protocol: "http" });
    case "https:":
      return new DockerCtor({ host: url.hostname, port: Number(url.port) || 2376, protocol: "https" });
    case "ssh:":
      return new DockerCtor({
        protocol: "ssh",
        host: url.hostname,
        port: Number(url.port) || 22,
        username: url.username || undefined,
        sshOptions: { agent: process.env.SSH_AUTH_SOCK },
      } as Docker.DockerOptions);
    default:
      throw new Error(`dockerHost "${dockerHost}": use unix://, tcp://, https:// or ssh://`);
  }
}

/** Whether a dockerode error is an HTTP status from the engine in `codes` (404 gone, 304 already stopped…). */
export function isStatus(e: unknown, ...codes: number[]): boolean {
  return codes.includes((e as { statusCode?: number } | undefined)?.statusCode ?? 0);
}

/** A .catch() handler that swallows the given engine statuses and rethrows anything else. */
export function ignoreStatus(...codes: number[]) {
  return (e: unknown): void => {
    if (!isStatus(e, ...codes)) throw e;
  };
}
