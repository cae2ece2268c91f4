// The edge: HAProxy publishing the stack's port, finding API replicas through Docker DNS, with
// active health checks and retries on connection failures only. Its config is uploaded into the
// container (no bind mount); the runtime API socket stays inside it (see src/edge/runtime-api.ts).
import * as pulumi from "@pulumi/pulumi";
import * as docker from "@pulumi/docker";
import { renderHaproxyConfig } from "../../src/edge/haproxy-config";
import type { StackConfig } from "../../stacks/schema";
import { containerLimits, dockerLabels } from "./limits";

export interface EdgeArgs {
  prefix: string;
  image: pulumi.Input<string>;
  network: pulumi.Input<string>;
  settings: StackConfig["edge"];
  api: { alias: string; port: number; healthPath: string };
  labels: Record<string, string>;
}

export const EDGE_BACKEND = "api";
const LISTEN_PORT = 8080;

export class Edge extends pulumi.ComponentResource {
  readonly containerName: pulumi.Output<string>;
  readonly url: string;
  readonly backend = EDGE_BACKEND;

  constructor(name: string, args: EdgeArgs, opts?: pulumi.ComponentResourceOptions) {
    super("slipway:index:Edge", name, {}, opts);
    const config = renderHaproxyConfig({
      backend: EDGE_BACKEND,
      serviceHost: args.api.alias,
      servicePort: args.api.port,
      listenPort: LISTEN_PORT,
      slots: args.settings.slots,
      healthPath: args.api.healthPath,
    });
    const image = new docker.RemoteImage(`${name}-image`, { name: args.image, keepLocally: true }, { parent: this });
    const container = new docker.Container(
      `${name}-container`,
      {
        name: `${args.prefix}-edge`,
        image: image.imageId,
        uploads: [{ file: "/usr/local/etc/haproxy/haproxy.cfg", content: config }],
        ports: [{ internal: LISTEN_PORT, external: args.settings.port, ip: args.settings.bindAddress }],
        networksAdvanced: [{ name: args.network }],
        restart: args.settings.restartPolicy,
        ...containerLimits(args.settings.limits),
        labels: dockerLabels(args.labels),
      },
      { parent: this },
    );
    this.containerName = container.name;
    this.url = `http://${args.settings.bindAddress}:${args.settings.port}`;
    this.registerOutputs({ containerName: this.containerName, url: this.url });
  }
}
