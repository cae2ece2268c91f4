// The networks of a stack: `edge` (proxy + API replicas) and `backend` (API + database,
// internal: no route out, and nothing on it is published to the host).
import * as pulumi from "@pulumi/pulumi";
import * as docker from "@pulumi/docker";
import { walEgressNetwork } from "../../src/backup/wal";

export interface NetworksArgs {
  /** Name prefix for Docker objects, e.g. "slipway-staging". */
  prefix: string;
  labels: Record<string, string>;
  /** backup.wal.offHost: a third network, `<prefix>-db-egress`, by which the database reaches its off-host repository. */
  dbEgress?: boolean;
}

export class Networks extends pulumi.ComponentResource {
  readonly edge: docker.Network;
  readonly backend: docker.Network;
  /** Only the database members are on it: a route out, nothing published, no other container to talk to. */
  readonly dbEgress?: docker.Network;

  constructor(name: string, args: NetworksArgs, opts?: pulumi.ComponentResourceOptions) {
    super("slipway:index:Networks", name, {}, opts);
    const labels = Object.entries(args.labels).map(([label, value]) => ({ label, value }));
    this.edge = new docker.Network(`${name}-edge`, { name: `${args.prefix}-edge`, labels }, { parent: this });
    this.backend = new docker.Network(
      `${name}-backend`,
      { name: `${args.prefix}-backend`, internal: true, labels },
      { parent: this },
    );
    if (args.dbEgress) this.dbEgress = new docker.Network(`${name}-db-egress`, { name: walEgressNetwork(args.prefix), labels }, { parent: this });
    this.registerOutputs({ edge: this.edge.name, backend: this.backend.name });
  }
}
