// The edge: a small long-lived *holder* container that owns the network namespace, joins the edge network and
// publishes the stack's port; and HAProxy running inside that namespace (EdgeProxy), finding API replicas through
// Docker DNS, routing on their readiness, retrying on connection failures only. Because the holder keeps the
// port, HAProxy's config is reloaded and its image replaced without a moment where nothing listens. Only a change
// of the holder itself (port, bind address) needs a new listening socket: a short outage, refused in production
// unless the holder is unprotected deliberately (RUNBOOK.md).
import * as pulumi from "@pulumi/pulumi";
import * as docker from "@pulumi/docker";
import { HTTP_PORT, HTTPS_PORT, renderHaproxyConfig } from "../../src/edge/haproxy-config";
import type { StackConfig } from "../../stacks/schema";
import { EDGE_BACKEND, LABEL_ROLE, ROLES } from "../../src/vocabulary";
import { EdgeProxy } from "../providers/edge-proxy";
import { dockerLabels, logRotation } from "./limits";

export interface EdgeArgs {
  prefix: string;
  image: pulumi.Input<string>;
  network: pulumi.Input<string>;
  settings: StackConfig["edge"];
  api: { alias: string; port: number; readinessPath: string };
  labels: Record<string, string>;
  production: boolean;
  logs: StackConfig["logs"];
  /** Certificate chain + key (PEM), secret; required when settings.tls.enabled. */
  tlsPem?: pulumi.Input<string>;
  dockerHost?: string;
}

export class Edge extends pulumi.ComponentResource {
  /** The running HAProxy container. */
  readonly containerName: pulumi.Output<string>;
  readonly holderName: pulumi.Output<string>;
  readonly url: string;
  readonly backend = EDGE_BACKEND;

  constructor(name: string, args: EdgeArgs, opts?: pulumi.ComponentResourceOptions) {
    super("slipway:index:Edge", name, {}, opts);
    const s = args.settings;
    const config = renderHaproxyConfig({
      backend: EDGE_BACKEND,
      serviceHost: args.api.alias,
      servicePort: args.api.port,
      listenPort: HTTP_PORT,
      slots: s.slots,
      healthPath: args.api.readinessPath,
      retries: s.retries,
      timeouts: s.timeouts,
      securityHeaders: s.securityHeaders,
      corsOrigins: s.cors.allowedOrigins,
      rateLimitPer10s: s.rateLimit.requestsPer10s,
      // Production logs no full client address.
      truncateClientAddress: args.production,
      ...(s.tls.enabled ? { tls: { publicPort: s.tls.port, hsts: args.production } } : {}),
    });
    const image = new docker.RemoteImage(`${name}-image`, { name: args.image, keepLocally: true }, { parent: this });
    const holder = new docker.Container(
      `${name}-holder`,
      {
        name: `${args.prefix}-edge`,
        // Any image with `sleep` does; the edge image is at hand. Its later changes go to HAProxy, not here.
        image: image.imageId,
        entrypoints: ["sleep"],
        command: ["infinity"],
        stopSignal: "SIGKILL",
        ports: [
          { internal: HTTP_PORT, external: s.port, ip: s.bindAddress },
          ...(s.tls.enabled ? [{ internal: HTTPS_PORT, external: s.tls.port, ip: s.bindAddress }] : []),
        ],
        networksAdvanced: [{ name: args.network }],
        restart: "unless-stopped",
        ...logRotation(args.logs),
        labels: dockerLabels({ ...args.labels, [LABEL_ROLE]: ROLES.edgeHolder }),
      },
      { parent: this, ignoreChanges: ["image"], deleteBeforeReplace: true, protect: args.production },
    );
    const proxy = new EdgeProxy(
      `${name}-haproxy`,
      {
        stack: args.prefix,
        holder: holder.id,
        // The image ID, so a rebuilt tag is a new image too.
        image: image.imageId,
        config,
        ...(s.limits ? { memoryMb: s.limits.memoryMb, cpus: s.limits.cpus } : {}),
        restartPolicy: s.restartPolicy,
        labels: args.labels,
        logs: args.logs,
        ...(s.tls.enabled ? { tlsPem: pulumi.secret(args.tlsPem ?? "") } : {}),
        timeouts: { readyTimeoutMs: 30_000, stopTimeoutMs: 35_000 },
        ...(args.dockerHost ? { dockerHost: args.dockerHost } : {}),
      },
      { parent: this, additionalSecretOutputs: ["tlsPem"] },
    );
    this.containerName = proxy.container;
    this.holderName = holder.name;
    this.url = s.tls.enabled ? `https://${s.bindAddress}:${s.tls.port}` : `http://${s.bindAddress}:${s.port}`;
    this.registerOutputs({ containerName: this.containerName, url: this.url });
  }
}
