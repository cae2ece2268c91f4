// Where a restore acts around the data change: the stack it reads (its edges, maintenance, serving API image, the
// database's networks: plan.ts decides on them), maintenance at its edge, and the running image's migrations. One
// interface, two targets: one Docker host (containers, this file) and a swarm (tasks through the manager,
// src/swarm/restore-site.ts). The data change itself runs in a container that holds the database's tools either way
// (the database container on one host, a client container on the manager on a swarm).
import type Docker from "dockerode";
import { setMaintenance } from "../edge/maintenance";
import { runMigrations } from "./migrate";
import type { MigrateStep, StackState } from "./plan";
import { observeStack } from "./stack-state";

export type MigrateRun = Extract<MigrateStep, { action: "run" }>;

export interface RestoreSite {
  /** The stack around the database, as the plan needs it. */
  observe(): Promise<StackState>;
  /** Maintenance on (with `message`) or off at every edge of `stack`; the edges it was set at. */
  setMaintenance(stack: string, on: boolean, message?: string): Promise<string[]>;
  /** The migrations of `step`'s image against the database; their log (throws OpsError("migrate-failed") with its tail). */
  migrate(stack: string, step: MigrateRun, log: (line: string) => void): Promise<string>;
}

/** One Docker host: the database container, the stack's HAProxy containers, a one-off migration container. */
export function hostSite(docker: Docker, dbContainer: string): RestoreSite {
  return {
    observe: () => observeStack(docker, dbContainer),
    setMaintenance: (stack, on, message) => setMaintenance(docker, stack, on, message),
    migrate: (stack, step, log) => runMigrations(docker, { prefix: stack, dbContainer, imageId: step.imageId, network: step.network, log }),
  };
}
