// The Swarm target's shapes and names, and the exact Docker Engine API requests for the API's release services and
// the one-off tasks (roles, migrations). Pure: built here and unit-tested; the executor (release.ts, tasks.ts) sends
// them through the manager. A release is one Swarm service per revision, in one of two colour slots (`<stack>-api-a`,
// `<stack>-api-b`): the edge's config names both (a server-template each), so it never changes across releases.
import { checkSecretName, secretFileEnv, secretPath } from "../docker";
import { checkName, EDGE_BACKEND, keyedDigest, LABEL_RESOURCE, LABEL_REVISION, LABEL_ROLE, LABEL_STACK, logConfig, type LogRotation, revisionOf, revisionShort } from "../vocabulary";

export const COLOURS = ["a", "b"] as const;
export type Colour = (typeof COLOURS)[number];

/** The other colour: where the next release goes. */
export function otherColour(c: Colour): Colour {
  return c === "a" ? "b" : "a";
}

/** The API service of a colour; the edge resolves `tasks.<this>`. */
export function apiServiceName(stack: string, colour: Colour): string {
  return `${checkName("stack", stack)}-api-${colour}`;
}

/** The edge's server-template prefix for a colour: slots `<colour>1..<colour><n>` of the one backend. */
export function slotPrefix(colour: Colour): string {
  return colour;
}

/** Whether the edge's slot (server) `name` is one of `colour`'s (`<prefix><n>`). */
export function isSlotOf(colour: Colour, name: string): boolean {
  const prefix = slotPrefix(colour);
  return name.startsWith(prefix) && /^\d+$/.test(name.slice(prefix.length));
}

export interface SwarmHealthcheck {
  test: string[];
  intervalMs: number;
  timeoutMs: number;
  retries: number;
  startPeriodMs: number;
}

/** Where the edge is and how the release reaches its runtime API (over the control network, through a relay). */
/** HAProxy's runtime API on each edge task's control-network address (never published). */
export const RUNTIME_API_PORT = 9999;

/** The overlay network `name` (edge, backend, control) of the stack with this prefix. */
export function overlayName(prefix: string, name: "edge" | "backend" | "control"): string {
  return `${prefix}-${name}`;
}

/** How a release and `status` reach every edge task of the stack with this prefix (the relay runs `relayImage`). */
export function swarmEdgeTarget(prefix: string, relayImage: string): SwarmEdgeTarget {
  return { service: `${prefix}-edge`, backend: EDGE_BACKEND, controlNetwork: overlayName(prefix, "control"), runtimePort: RUNTIME_API_PORT, relayImage };
}

export interface SwarmEdgeTarget {
  /** The edge's global service. */
  service: string;
  /** The backend every colour's server-template belongs to. */
  backend: string;
  /** The attachable overlay only the edge and the relay are on. */
  controlNetwork: string;
  /** The runtime API's TCP port on the edge tasks' control-network address (never published). */
  runtimePort: number;
  /** An image with socat (the edge image): the relay container on the manager. */
  relayImage: string;
}

export interface SwarmReleaseSpec {
  stack: string;
  image: string;
  replicas: number;
  env: Record<string, string>;
  /** Values that reach the tasks as Swarm secrets mounted at /run/secrets/<NAME>; the env has NAME_FILE only. */
  secrets: Record<string, string>;
  /** The per-stack key secrets enter the revision (and their Swarm names) under. */
  secretsKey: string;
  /** The edge network (first: the edge reaches the tasks there) and the backend network, by name. */
  networks: string[];
  labels: Record<string, string>;
  memoryMb: number;
  cpus: number;
  healthcheck: SwarmHealthcheck;
  /** Placement constraints beside the spread over nodes (swarm.apiPlacement). */
  placement: string[];
  stopGraceSeconds: number;
  logs?: LogRotation;
}

/** The numeric owner the secret files get (the image's user), resolved by the executor. */
export interface FileOwner {
  uid: number;
  gid: number;
}

/** Everything that needs a new service when it changes: the whole spec, secrets only as their HMAC. */
export function releaseRevision(spec: SwarmReleaseSpec): string {
  const { secrets, secretsKey, ...rest } = spec;
  return revisionOf({ ...rest, secrets: keyedDigest(secretsKey, secrets) });
}

export function validateReleaseSpec(spec: SwarmReleaseSpec): SwarmReleaseSpec {
  const where = `swarm release ${spec.stack}`;
  checkName("stack", spec.stack);
  if (!spec.image) throw new Error(`${where}: image is empty`);
  if (!Number.isInteger(spec.replicas) || spec.replicas < 1) throw new Error(`${where}: replicas must be a whole number >= 1`);
  if (spec.networks.length === 0) throw new Error(`${where}: needs the edge network`);
  if (spec.secretsKey.length < 16) throw new Error(`${where}: secretsKey must be at least 16 characters`);
  for (const name of Object.keys(spec.secrets)) {
    checkSecretName(name);
    for (const clash of [name, `${name}_FILE`]) if (clash in spec.env) throw new Error(`${where}: env: ${clash} is also a secret; set it in one place`);
  }
  return spec;
}

/**
 * A Swarm secret's name: `<owner>-<NAME>-<HMAC of the value>` (12 hex). Secrets are immutable in Swarm, so a new
 * value is a new secret; the name tells nothing about the value to whoever lacks the stack's key.
 */
export function secretName(owner: string, name: string, value: string, key: string): string {
  const tail = `-${keyedDigest(key, { name, value }).slice(0, 12)}`;
  // Swarm allows 64 characters: the owner and the variable name are cut, never the digest.
  const head = `${owner}-${checkSecretName(name).toLowerCase().replace(/_/g, "-")}`.slice(0, SWARM_NAME_MAX - tail.length).replace(/[-_.]+$/, "");
  return `${head}${tail}`;
}

/** The longest name Swarm accepts for a secret or a service. */
export const SWARM_NAME_MAX = 64;

const ns = (ms: number) => Math.round(ms * 1e6);

export interface SecretRef {
  name: string;
  /** The file name under /run/secrets (the variable name). */
  file: string;
  id: string;
}

/** A secret reference as Swarm mounts it: /run/secrets/<file>, 0400, owned by the image's user. */
function secretMount(ref: SecretRef, owner: FileOwner) {
  return { SecretID: ref.id, SecretName: ref.name, File: { Name: ref.file, UID: String(owner.uid), GID: String(owner.gid), Mode: 0o400 } };
}

/**
 * The service of one release: replicated `replicas`, endpoint mode dnsrr (no IPVS needed; the edge resolves
 * `tasks.<name>`), spread over nodes, restarted by Swarm on any exit, the health check of the image contract, no
 * capabilities, a read-only root filesystem with a /tmp tmpfs, secrets as files only.
 */
export function apiServiceSpec(spec: SwarmReleaseSpec, colour: Colour, secrets: SecretRef[], owner: FileOwner) {
  const revision = releaseRevision(spec);
  const name = apiServiceName(spec.stack, colour);
  const labels = { ...spec.labels, [LABEL_STACK]: spec.stack, [LABEL_ROLE]: "api", [LABEL_RESOURCE]: "api", [LABEL_REVISION]: revision };
  return {
    Name: name,
    Labels: labels,
    TaskTemplate: {
      ContainerSpec: {
        Image: spec.image,
        Labels: labels,
        Env: [...Object.entries(spec.env).map(([k, v]) => `${k}=${v}`), ...secretFileEnv(secrets.map((s) => s.file))],
        Secrets: secrets.map((s) => secretMount(s, owner)),
        Healthcheck: {
          Test: spec.healthcheck.test,
          Interval: ns(spec.healthcheck.intervalMs),
          Timeout: ns(spec.healthcheck.timeoutMs),
          Retries: spec.healthcheck.retries,
          StartPeriod: ns(spec.healthcheck.startPeriodMs),
        },
        ReadOnly: true,
        CapabilityDrop: ["ALL"],
        Mounts: [{ Type: "tmpfs", Target: "/tmp", TmpfsOptions: { SizeBytes: 64 * 1024 * 1024 } }],
        StopGracePeriod: ns(spec.stopGraceSeconds * 1000),
      },
      Resources: { Limits: { MemoryBytes: Math.round(spec.memoryMb * 1024 * 1024), NanoCPUs: Math.round(spec.cpus * 1e9) } },
      RestartPolicy: { Condition: "any", Delay: ns(2000) },
      Placement: { Constraints: spec.placement, Preferences: [{ Spread: { SpreadDescriptor: "node.id" } }] },
      Networks: spec.networks.map((Target) => ({ Target })),
      ...(spec.logs ? { LogDriver: { Name: logConfig(spec.logs).Type, Options: logConfig(spec.logs).Config } } : {}),
    },
    Mode: { Replicated: { Replicas: spec.replicas } },
    EndpointSpec: { Mode: "dnsrr" },
  };
}

/** A task that runs once to its exit (roles, migrations): restart condition none, one replica. */
export interface OneOffSpec {
  stack: string;
  /** What it is (`roles`, `migrate`): part of its service name. */
  name: string;
  image: string;
  command: string[];
  env: Record<string, string>;
  /** Secret values, mounted as /run/secrets/<NAME> (the env carries NAME_FILE). */
  secrets: Record<string, string>;
  /** The key the secrets' Swarm names are made with. */
  secretsKey: string;
  constraints: string[];
  networks: string[];
  /** Named volumes (on the node the constraints pick). */
  mounts: { source: string; target: string }[];
  /** How long the task may take from creation to exit (the image may have to be pulled). */
  timeoutMs: number;
  labels: Record<string, string>;
}

export function oneOffServiceName(spec: Pick<OneOffSpec, "stack" | "name">, run: string): string {
  return `${checkName("stack", spec.stack)}-${checkName("task", spec.name)}-${run}`;
}

export function oneOffServiceSpec(spec: OneOffSpec, run: string, secrets: SecretRef[], owner: FileOwner) {
  const labels = { ...spec.labels, [LABEL_STACK]: spec.stack, [LABEL_ROLE]: spec.name };
  return {
    Name: oneOffServiceName(spec, run),
    Labels: labels,
    TaskTemplate: {
      ContainerSpec: {
        Image: spec.image,
        Labels: labels,
        Command: spec.command,
        Env: [...Object.entries(spec.env).map(([k, v]) => `${k}=${v}`), ...secretFileEnv(secrets.map((s) => s.file))],
        Secrets: secrets.map((s) => secretMount(s, owner)),
        Mounts: spec.mounts.map((m) => ({ Type: "volume", Source: m.source, Target: m.target })),
      },
      RestartPolicy: { Condition: "none" },
      Placement: { Constraints: spec.constraints },
      Networks: spec.networks.map((Target) => ({ Target })),
    },
    Mode: { Replicated: { Replicas: 1 } },
    EndpointSpec: { Mode: "dnsrr" },
  };
}

/** A secret's file path in a task (as the one-host target's). */
export { secretPath };

/** A short form of a revision for logs. */
export { revisionShort };
