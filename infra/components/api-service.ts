// The API service: its replicas on the edge network (found by the proxy under one alias) and the
// backend network (to reach the database), replaced one (or api.rollout.surge) at a time by the ReplicaSet dynamic
// provider after the deploy steps (backup → migrate) have succeeded.
import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../../stacks/schema";
import { apiProbe } from "../../src/vocabulary";
import { ReplicaSet } from "../providers/replica-set";

export interface ApiServiceArgs {
  /** The stack's Docker name prefix (`<project>-<stack>`). */
  prefix: string;
  image: pulumi.Input<string>;
  settings: StackConfig["api"];
  edgeNetwork: pulumi.Input<string>;
  backendNetwork: pulumi.Input<string>;
  /** Name the edge resolves replicas by, on the edge network. */
  alias: string;
  /** The edge backend whose slots the replicas fill (its HAProxy containers are found by the stack label). */
  edgeBackend: string;
  env: pulumi.Input<Record<string, string>>;
  /** Values that reach the replicas as files only (src/rollout/spec.ts `secrets`), and the key of their digest. */
  secrets: pulumi.Input<Record<string, string>>;
  secretsKey: pulumi.Input<string>;
  labels: Record<string, string>;
  logs: StackConfig["logs"];
  dockerHost?: string;
}

export class ApiService extends pulumi.ComponentResource {
  readonly replicas: ReplicaSet;

  constructor(name: string, args: ApiServiceArgs, opts?: pulumi.ComponentResourceOptions) {
    super("slipway:index:ApiService", name, {}, opts);
    const s = args.settings;
    const limits = s.limits;
    this.replicas = new ReplicaSet(
      `${name}-replicas`,
      {
        stack: args.prefix,
        service: "api",
        image: args.image,
        replicas: s.replicas,
        env: args.env,
        secrets: args.secrets,
        secretsKey: args.secretsKey,
        networks: pulumi
          .all([args.edgeNetwork, args.backendNetwork])
          .apply(([edgeNet, backendNet]) => [{ name: edgeNet, aliases: [args.alias] }, { name: backendNet }]),
        labels: args.labels,
        memoryMb: limits.memoryMb,
        cpus: limits.cpus,
        restartPolicy: s.restartPolicy,
        // Docker's health check and the edge both probe the readiness path (api.healthcheck.path).
        healthcheck: {
          test: apiProbe(s.healthcheck.path, s.healthcheck.timeoutMs),
          intervalMs: s.healthcheck.intervalMs,
          timeoutMs: s.healthcheck.timeoutMs,
          retries: s.healthcheck.retries,
          startPeriodMs: s.healthcheck.startPeriodMs,
        },
        volumes: s.volumes,
        logs: args.logs,
        edge: { stack: args.prefix, backend: args.edgeBackend },
        rollout: s.rollout,
        ...(args.dockerHost ? { dockerHost: args.dockerHost } : {}),
      },
      { parent: this },
    );
    this.registerOutputs({ containers: this.replicas.containers, standby: this.replicas.standby });
  }
}
