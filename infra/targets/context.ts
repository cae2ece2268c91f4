// What infra/index.ts hands each target after reading the stack's config once, and what each target gives back: the
// stack's outputs (the same names on both targets; what the verbs read).
import type * as pulumi from "@pulumi/pulumi";
import type Docker from "dockerode";
import type { StackConfig } from "../../stacks/schema";

export interface TargetContext {
  cfg: StackConfig;
  /** `<project>-<stack>`: the prefix of every Docker/Swarm object of the stack. */
  prefix: string;
  production: boolean;
  /** The project and stack labels every object carries. */
  labels: Record<string, string>;
  /** The `slipway` config namespace (its secrets: tlsCertificate, alertWebhookToken…). */
  config: pulumi.Config;
  /** slipway:secretEnv, a Pulumi secret ({} when unset). */
  secretEnv: pulumi.Output<Record<string, string>>;
  /** Certificate chain + key (edge.tls.enabled). */
  tlsPem?: pulumi.Output<string>;
  /** The stack lock taken (infra/index.ts stackLock): every Docker object of the stack depends on it. */
  lock: Promise<pulumi.Resource[]>;
  /** The stack's Docker engine (a swarm's manager), for what the program reads from it; absent under unit-test mocks. */
  hostEngine?: Docker;
}

export interface StackOutputs {
  edgeUrl: pulumi.Input<string>;
  image: pulumi.Input<string>;
  replicas: pulumi.Input<number>;
  /** docker: the replica containers; swarm: the serving release's service. */
  apiContainers: pulumi.Input<string[]>;
  apiStandby: pulumi.Input<unknown>;
  /** docker: the database container; swarm: the database service. */
  dbContainer: pulumi.Input<string>;
  /** swarm: the owner role's password (a secret), what the backup verb's client container logs in with; docker: null. */
  dbOwnerPassword: pulumi.Input<string> | null;
  /** docker with database.standby: the member that is not the primary (the standby, or a fenced old primary); else null. */
  dbStandbyContainer: pulumi.Input<string> | null;
  /** docker: the HAProxy container; swarm: the edge's global service. */
  edgeContainer: pulumi.Input<string>;
  prometheusContainer: pulumi.Input<string> | null;
  pushgatewayContainer: pulumi.Input<string> | null;
  alertmanagerContainer: pulumi.Input<string> | null;
}
