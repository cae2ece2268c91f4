// What a replica set is (the typed spec shared by the provider and the executor), its revision, and the exact
// Docker create options for one replica. Pure: building the request is tested; sending it is the executor's job.
import type Docker from "dockerode";
import type { RestartPolicy } from "../../stacks/schema";
import { checkSecretName, SECRETS_PARENT, secretFileEnv } from "../docker";
import { checkName, containerName, keyedDigest, LABEL_REPLICA, LABEL_RESOURCE, LABEL_REVISION, LABEL_STACK, logConfig, type LogRotation, revisionOf } from "../vocabulary";

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
  /**
   * Secret values by variable name: each reaches a replica as the file /run/secrets/<NAME> (0400, the container
   * user's), written before it starts; its environment carries only NAME_FILE. Never in env, labels or names.
   */
  secrets?: Record<string, string>;
  /** The per-stack random key the secrets enter the revision under (keyedDigest); required with `secrets`. */
  secretsKey?: string;
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

/**
 * The fields that, when changed, need new containers. `replicas` is not one of them. Secret values never enter the
 * hash directly: only their HMAC under the stack's secretsKey does, so a changed secret still rolls the replicas.
 * A spec without secrets hashes exactly as before they existed (an earlier revision is still found by its hash).
 */
export function revisionOfSpec(spec: ReplicaSpec): string {
  const { replicas: _replicas, secrets, secretsKey, ...rest } = spec;
  if (secrets === undefined) return revisionOf(rest);
  if (!secretsKey) throw new Error(`replica set ${spec.stack}/${spec.service}: secrets need a secretsKey (the key their digest is made with)`);
  return revisionOf({ ...rest, secrets: keyedDigest(secretsKey, secrets) });
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
  for (const name of Object.keys(spec.secrets ?? {})) {
    try {
      checkSecretName(name);
    } catch (e) {
      throw new Error(`${where}: secrets: ${(e as Error).message}`);
    }
    for (const clash of [name, `${name}_FILE`]) {
      if (clash in spec.env) throw new Error(`${where}: env: ${clash} is also a secret (secrets: ${name}); set it in one place`);
    }
  }
  if (spec.secrets && !spec.secretsKey) throw new Error(`${where}: secrets need a secretsKey (the key their digest is made with)`);
  for (const v of spec.volumes ?? []) {
    if (!v.target.startsWith("/")) throw new Error(`${where}: volumes: target "${v.target}" must be an absolute path`);
  }
  return spec;
}

const ms = (n: number) => Math.round(n * 1e6); // Docker wants nanoseconds

/**
 * How every replica runs, whatever the stack says: a read-only root filesystem (writable: a /tmp tmpfs, the /run
 * volume holding the secret files, and api.volumes), no Linux capabilities (the API listens above 1024 as a
 * non-root user) and no privilege gain through setuid binaries. Not part of the revision: existing replicas are not
 * rolled for it; each replica a deploy starts from now on runs this way.
 */
export const LOCKED_DOWN = {
  ReadonlyRootfs: true,
  CapDrop: ["ALL"],
  SecurityOpt: ["no-new-privileges"],
  Tmpfs: { "/tmp": "rw,noexec,nosuid,size=64m" },
} as const;

/** Create options for replica `replica`; the first network is attached at create, the rest before start. */
export function createOptions(spec: ReplicaSpec, replica: number): Docker.ContainerCreateOptions {
  const revision = revisionOfSpec(spec);
  const [first] = spec.networks;
  return {
    name: containerName(spec.stack, spec.service, revision, replica),
    Image: spec.image,
    ...(spec.command ? { Cmd: spec.command } : {}),
    Env: [...Object.entries(spec.env).map(([k, v]) => `${k}=${v}`), ...secretFileEnv(Object.keys(spec.secrets ?? {}))],
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
      ...LOCKED_DOWN,
      Memory: Math.round(spec.memoryMb * 1024 * 1024),
      NanoCpus: Math.round(spec.cpus * 1e9),
      RestartPolicy: { Name: spec.restartPolicy, ...(spec.restartPolicy === "on-failure" ? { MaximumRetryCount: 3 } : {}) },
      NetworkMode: first.name,
      ...(spec.logs ? { LogConfig: logConfig(spec.logs) } : {}),
      Mounts: [
        // /run: a volume of the container's own (removed with it), so the secret files can be written into it
        // before start although the root filesystem is read-only (src/docker/secret-files.ts).
        { Type: "volume" as const, Source: "", Target: SECRETS_PARENT },
        ...(spec.volumes ?? []).map((v) => ({ Type: v.source.startsWith("/") ? ("bind" as const) : ("volume" as const), Source: v.source, Target: v.target, ReadOnly: v.readOnly })),
      ],
    },
    NetworkingConfig: { EndpointsConfig: { [first.name]: { Aliases: first.aliases ?? [] } } },
  };
}
