// The two networks of a stack: `edge` (proxy + API replicas) and `backend` (API + database,
// internal: no route out, and nothing on it is published to the host).
import * as pulumi from "@pulumi/pulumi";
import * as docker from "@pulumi/docker";

export interface NetworksArgs {
  /** Name prefix for Docker objects, e.g. "slipway-staging". */
  prefix: string;
  labels: Record<string, string>;
}

export class Networks extends pulumi.ComponentResource {
  readonly edge: docker.Network;
  readonly backend: docker.Network;

  constructor(name: string, args: NetworksArgs, opts?: pulumi.ComponentResourceOptions) {
    super("slipway:index:Networks", name, {}, opts);
    const labels = Object.entries(args.labels).map(([label, value]) => ({ label, value }));
    this.edge = new docker.Network(`${name}-edge`, { name: `${args.prefix}-edge`, labels }, { parent: this });
    this.backend = new docker.Network(
      `${name}-backend`,
      { name: `${args.prefix}-backend`, internal: true, labels },
      { parent: this },
    );
    this.registerOutputs({ edge: this.edge.name, backend: this.backend.name });
  }
}
