// ReplicaSet: N API replicas on a Docker host, replaced one at a time behind the HAProxy edge.
// A Pulumi dynamic provider. Its code is serialized into the stack state, so the closure is kept tiny: every
// method loads the rollout engine (src/rollout) from this working copy at run time, through tsx, because the
// dynamic-provider host is plain node. Pulumi ignores customTimeouts here; `rollout` carries our own.
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import type { HealthcheckSpec, NetworkAttachment, ReplicaSpec, RestartPolicy, RolloutTimeouts } from "../../src/rollout";

export interface ReplicaSetArgs {
  stack: pulumi.Input<string>;
  service: pulumi.Input<string>;
  image: pulumi.Input<string>;
  replicas: pulumi.Input<number>;
  /** Stored as a secret output. */
  env?: pulumi.Input<Record<string, pulumi.Input<string>>>;
  /** The first network is attached at create; all get their aliases (the edge resolves the alias). */
  networks: pulumi.Input<pulumi.Input<NetworkAttachment>[]>;
  labels?: pulumi.Input<Record<string, pulumi.Input<string>>>;
  memoryMb: pulumi.Input<number>;
  cpus: pulumi.Input<number>;
  restartPolicy?: pulumi.Input<RestartPolicy>;
  healthcheck: pulumi.Input<HealthcheckSpec>;
  command?: pulumi.Input<pulumi.Input<string>[]>;
  /** The HAProxy container and the backend whose slots the replicas fill. */
  edge: pulumi.Input<{ container: pulumi.Input<string>; backend: pulumi.Input<string> }>;
  rollout?: pulumi.Input<RolloutTimeouts>;
  /** unix://, tcp://, ssh://user@host; DOCKER_HOST of the provider process when omitted. */
  dockerHost?: pulumi.Input<string>;
}

/** What the provider receives and stores: the args, resolved, plus what it observed. */
export interface ReplicaSetProps {
  stack: string;
  service: string;
  image: string;
  replicas: number;
  env?: Record<string, string>;
  networks: NetworkAttachment[];
  labels?: Record<string, string>;
  memoryMb: number;
  cpus: number;
  restartPolicy?: RestartPolicy;
  healthcheck: HealthcheckSpec;
  command?: string[];
  edge: { container: string; backend: string };
  rollout?: RolloutTimeouts;
  dockerHost?: string;
  containers?: string[];
  revision?: string;
}

const ENGINE = path.resolve(__dirname, "..", "..", "src", "rollout", "index.ts");

function engine(): typeof import("../../src/rollout") {
  // The dynamic-provider host runs in the program's directory (where Pulumi.yaml is): prefer the engine of
  // the checkout running `pulumi` now, so state written from one clone works from another; fall back to the
  // path recorded when the resource was declared.
  const fs = require("node:fs") as typeof import("node:fs");
  const local = path.resolve(process.cwd(), "src", "rollout", "index.ts");
  const entry = fs.existsSync(local) ? local : ENGINE;
  // Under `pulumi up` the program runs with tsx but the dynamic-provider host does not: register it here.
  require(require.resolve("tsx/cjs/api", { paths: [entry] })).register();
  return require(entry);
}

function specOf(p: ReplicaSetProps): ReplicaSpec {
  return {
    stack: p.stack,
    service: p.service,
    image: p.image,
    replicas: p.replicas,
    env: p.env ?? {},
    networks: p.networks,
    labels: p.labels,
    memoryMb: p.memoryMb,
    cpus: p.cpus,
    restartPolicy: p.restartPolicy ?? "unless-stopped",
    healthcheck: p.healthcheck,
    command: p.command,
  };
}

function contextOf(p: ReplicaSetProps) {
  const e = engine();
  return {
    docker: e.connectDocker(p.dockerHost),
    edge: p.edge,
    timeouts: p.rollout,
    log: (line: string) => process.stderr.write(`${line}\n`),
  };
}

function outsOf(p: ReplicaSetProps, containers: string[]): ReplicaSetProps {
  return { ...p, containers, revision: engine().revisionOfSpec(specOf(p)) };
}

const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

export const replicaSetProvider: pulumi.dynamic.ResourceProvider = {
  async check(_olds: ReplicaSetProps, news: ReplicaSetProps) {
    // In a preview, values computed by other resources arrive as this placeholder: validate them at `up`.
    if (JSON.stringify(news).includes("04da6b54-80e4-46f7-96ec-b56ff0331ba9")) return { inputs: news };
    try {
      engine().validateSpec(specOf(news));
      return { inputs: news };
    } catch (e) {
      const reason = (e as Error).message;
      const property = Object.keys(news).find((k) => new RegExp(`\\b${k}\\b`).test(reason)) ?? "image";
      return { inputs: news, failures: [{ property, reason }] };
    }
  },

  async create(inputs: ReplicaSetProps) {
    const containers = await engine().converge(contextOf(inputs), specOf(inputs));
    return { id: `${inputs.stack}/${inputs.service}`, outs: outsOf(inputs, containers) };
  },

  async diff(_id: string, olds: ReplicaSetProps, news: ReplicaSetProps) {
    const replaces = (["stack", "service"] as const).filter((k) => olds[k] !== news[k]);
    const changed = (
      ["image", "replicas", "env", "networks", "labels", "memoryMb", "cpus", "restartPolicy", "healthcheck", "command", "edge", "rollout", "dockerHost"] as const
    ).filter((k) => !same(olds[k], news[k]));
    // Containers that vanished or multiplied outside Pulumi (found by read) also call for an update.
    const drifted = olds.containers !== undefined && olds.containers.length !== olds.replicas;
    return {
      changes: replaces.length > 0 || changed.length > 0 || drifted,
      replaces,
      deleteBeforeReplace: false,
    };
  },

  async update(_id: string, olds: ReplicaSetProps, news: ReplicaSetProps) {
    const containers = await engine().converge(contextOf(news), specOf(news), specOf(olds));
    return { outs: outsOf(news, containers) };
  },

  async delete(_id: string, props: ReplicaSetProps) {
    await engine().removeAll(contextOf(props), specOf(props));
  },

  async read(id: string, props: ReplicaSetProps) {
    const e = engine();
    const observed = await e.observe(e.connectDocker(props.dockerHost), props.stack, props.service);
    return { id, props: { ...props, containers: observed.filter((c) => c.running).map((c) => c.name).sort() } };
  },
};

export class ReplicaSet extends pulumi.dynamic.Resource {
  declare readonly stack: pulumi.Output<string>;
  declare readonly service: pulumi.Output<string>;
  declare readonly image: pulumi.Output<string>;
  declare readonly replicas: pulumi.Output<number>;
  declare readonly env: pulumi.Output<Record<string, string>>;
  declare readonly networks: pulumi.Output<NetworkAttachment[]>;
  declare readonly edge: pulumi.Output<{ container: string; backend: string }>;
  /** Names of the running replica containers. */
  declare readonly containers: pulumi.Output<string[]>;
  /** Hash of everything that needs new containers when it changes (not the replica count). */
  declare readonly revision: pulumi.Output<string>;

  constructor(name: string, args: ReplicaSetArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      replicaSetProvider,
      name,
      // env is secret in the stored inputs too, not only in the outputs.
      { restartPolicy: "unless-stopped", ...args, env: pulumi.secret(args.env ?? {}), containers: undefined, revision: undefined },
      { ...opts, additionalSecretOutputs: [...(opts?.additionalSecretOutputs ?? []), "env"] },
      "slipway",
      "ReplicaSet",
    );
  }
}
