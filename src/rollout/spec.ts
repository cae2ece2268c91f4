// What a replica set is (the typed spec shared by the provider and the executor), its revision, and the exact
// Docker create options for one replica. Pure: building the request is tested; sending it is the executor's job.
import type Docker from "dockerode";
import type { RestartPolicy } from "../../stacks/schema";
import { checkName, containerName, LABEL_REPLICA, LABEL_RESOURCE, LABEL_REVISION, LABEL_STACK, logConfig, type LogRotation, revisionOf } from "../vocabulary";

export interface NetworkAttachment {
  name: string;
  aliases?: string[];
}

export interface HealthcheckSpec {
  /** Docker form, e.g. ["CMD", "node", "-e", "..."] or ["CMD-SHELL", "..."]. */
  test: string[];
  intervalMs: number;
  timeoutMs: number;
  retries: number;
  startPeriodMs: number;
}

export type { RestartPolicy };

export interface VolumeMount {
  /** A named Docker volume, or an absolute host path (bind mount). */
  source: string;
  /** Absolute path inside the container. */
  target: string;
  readOnly: boolean;
}

export interface ReplicaSpec {
  stack: string;
  service: string;
  image: string;
  replicas: number;
  env: Record<string, string>;
  networks: NetworkAttachment[];
  labels?: Record<string, string>;
  memoryMb: number;
  cpus: number;
  restartPolicy: RestartPolicy;
  healthcheck: HealthcheckSpec;
  /** Optional command override (e.g. for a one-off variant); the image's own CMD otherwise. */
  command?: string[];
  volumes?: VolumeMount[];
  /** Docker json-file log rotation. */
  logs?: LogRotation;
}

/** The fields that, when changed, need new containers. `replicas` is not one of them. */
export function revisionOfSpec(spec: ReplicaSpec): string {
  const { replicas: _replicas, ...rest } = spec;
  return revisionOf(rest);
}

export function validateSpec(spec: ReplicaSpec): ReplicaSpec {
  checkName("stack", spec.stack);
  checkName("service", spec.service);
  const where = `replica set ${spec.stack}/${spec.service}`;
  if (!spec.image) throw new Error(`${where}: image is empty`);
  if (!Number.isInteger(spec.replicas) || spec.replicas < 0) throw new Error(`${where}: replicas must be a whole number >= 0`);
  if (spec.networks.length === 0) throw new Error(`${where}: needs at least one network (the edge finds replicas there)`);
  if (!(spec.memoryMb > 0)) throw new Error(`${where}: memoryMb must be > 0`);
  if (!(spec.cpus > 0)) throw new Error(`${where}: cpus must be > 0`);
  if (spec.healthcheck.test.length === 0) throw new Error(`${where}: healthcheck.test is empty`);
  for (const v of spec.volumes ?? []) {
    if (!v.target.startsWith("/")) throw new Error(`${where}: volumes: target "${v.target}" must be an absolute path`);
  }
  return spec;
}

const ms = (n: number) => Math.round(n * 1e6); // Docker wants nanoseconds

/** Create options for replica `replica`; the first network is attached at create, the rest before start. */
export function createOptions(spec: ReplicaSpec, replica: number): Docker.ContainerCreateOptions {
  const revision = revisionOfSpec(spec);
  const [first] = spec.networks;
  return {
    name: containerName(spec.stack, spec.service, revision, replica),
    Image: spec.image,
    ...(spec.command ? { Cmd: spec.command } : {}),
    Env: Object.entries(spec.env).map(([k, v]) => `${k}=${v}`),
    Labels: {
      ...(spec.labels ?? {}),
      [LABEL_STACK]: spec.stack,
      [LABEL_RESOURCE]: spec.service,
      [LABEL_REVISION]: revision,
      [LABEL_REPLICA]: String(replica),
    },
    Healthcheck: {
      Test: spec.healthcheck.test,
      Interval: ms(spec.healthcheck.intervalMs),
      Timeout: ms(spec.healthcheck.timeoutMs),
      Retries: spec.healthcheck.retries,
      StartPeriod: ms(spec.healthcheck.startPeriodMs),
    },
    HostConfig: {
      Memory: Math.round(spec.memoryMb * 1024 * 1024),
      NanoCpus: Math.round(spec.cpus * 1e9),
      RestartPolicy: { Name: spec.restartPolicy, ...(spec.restartPolicy === "on-failure" ? { MaximumRetryCount: 3 } : {}) },
      NetworkMode: first.name,
      ...(spec.logs ? { LogConfig: logConfig(spec.logs) } : {}),
      ...(spec.volumes?.length
        ? { Mounts: spec.volumes.map((v) => ({ Type: v.source.startsWith("/") ? ("bind" as const) : ("volume" as const), Source: v.source, Target: v.target, ReadOnly: v.readOnly })) }
        : {}),
    },
    NetworkingConfig: { EndpointsConfig: { [first.name]: { Aliases: first.aliases ?? [] } } },
  };
}
