// The rollout engine's public face, as loaded by the ReplicaSet dynamic provider (infra/providers) and tests:
// converge/remove/observe a replica set, and a dockerode client for a DOCKER_HOST-style address.
import type Docker from "dockerode";

export { converge, removeAll, observe } from "./executor";
export type { EdgeTarget, ExecutorContext, RolloutTimeouts } from "./executor";
export { revisionOfSpec, validateSpec } from "./spec";
export type { Step } from "./planner";
export type { ReplicaSpec, HealthcheckSpec, NetworkAttachment, RestartPolicy } from "./spec";

/**
 * A Docker client for `dockerHost` (unix://, tcp://, ssh://user@host), or for DOCKER_HOST when omitted —
 * dockerode reads that variable itself.
 */
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
