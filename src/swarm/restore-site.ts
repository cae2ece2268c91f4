// A restore on a swarm (`npm run restore -- --stack S --file …` with target swarm), through the manager only: the data
// change runs in the database client container on the manager (db-client.ts, as the owner role — it owns every object,
// so it may drop and recreate the schemas); this site gives the restore's frame the rest: maintenance at every edge
// task through the relay (maintenance.ts), the serving release's image, and its migrations as a one-off Swarm task on
// the backend overlay as the owner role, its password a Swarm secret file — exactly as a deploy runs them
// (infra/targets/swarm.ts), so Swarm pulls the image where it schedules the task.
import type Docker from "dockerode";
import { randomBytes } from "node:crypto";
import { DEFAULT_MAINTENANCE_MESSAGE } from "../edge/maintenance";
import { OpsError } from "../postgres/errors";
import { MIGRATE_COMMAND } from "../restore/migrate";
import type { ApiReplica, StackState } from "../restore/plan";
import type { RestoreSite } from "../restore/site";
import { DB_HOST, DB_ROLES } from "../vocabulary";
import { edgeTasks, openRelay } from "./edge";
import { setSwarmMaintenance, swarmMaintenanceStates } from "./maintenance";
import type { OneOffSpec, SwarmEdgeTarget } from "./spec";
import { OneOffFailure, runOneOff, serviceTasks } from "./tasks";

/** The one-off task's name (its service is <prefix>-restore-migrate-<run>). */
export const RESTORE_MIGRATE_TASK = "restore-migrate";

export interface SwarmRestoreTarget {
  prefix: string;
  edge: SwarmEdgeTarget;
  /** The serving release's service (the stack's apiContainers output); undefined before a deploy. */
  apiService?: string;
  /** The backend overlay the database is on (its alias DB_HOST there). */
  network: string;
  database: string;
  ownerPassword: string;
  /** slipway:swarm.taskTimeoutMs: how long the migration task may take from creation to exit. */
  taskTimeoutMs: number;
  /** How long to wait for every edge task to answer (one may be starting). */
  edgeTimeoutMs?: number;
}

/** Pure: the migration task of a restore, as the deploy's (infra/targets/swarm.ts) with this run's secret key. */
export function restoreMigrateSpec(t: SwarmRestoreTarget, image: string, secretsKey: string): OneOffSpec {
  return {
    stack: t.prefix,
    name: RESTORE_MIGRATE_TASK,
    image,
    command: MIGRATE_COMMAND,
    env: { PGHOST: DB_HOST, PGUSER: DB_ROLES.owner, PGDATABASE: t.database },
    secrets: { PGPASSWORD: t.ownerPassword },
    secretsKey,
    constraints: [],
    networks: [t.network],
    mounts: [],
    timeoutMs: t.taskTimeoutMs,
    labels: {},
  };
}

/** Pure: the serving release as plan.ts sees API replicas — one entry for the service while any of its tasks runs. */
export function servingRelease(service: string, image: string, runningTasks: number): ApiReplica[] {
  return runningTasks > 0 ? [{ name: service, image: image.replace(/@sha256:[0-9a-f]+$/, ""), imageId: image }] : [];
}

export function swarmSite(docker: Docker, t: SwarmRestoreTarget): RestoreSite {
  const edgeTimeoutMs = t.edgeTimeoutMs ?? 60_000;
  return {
    async observe(): Promise<StackState> {
      const relay = await openRelay(docker, t.prefix, t.edge);
      let states: Awaited<ReturnType<typeof swarmMaintenanceStates>>;
      try {
        states = await swarmMaintenanceStates(await edgeTasks(relay, t.edge, edgeTimeoutMs));
      } finally {
        await relay.close();
      }
      let api: ApiReplica[] = [];
      if (t.apiService) {
        const [spec, tasks] = await Promise.all([
          docker.getService(t.apiService).inspect() as Promise<{ Spec: { TaskTemplate: { ContainerSpec: { Image: string } } } }>,
          serviceTasks(docker, t.apiService),
        ]);
        api = servingRelease(t.apiService, spec.Spec.TaskTemplate.ContainerSpec.Image, tasks.filter((k) => k.desired === "running" && k.state === "running").length);
      }
      // On only where every edge task has it on: a split is turned on everywhere, and off again after.
      const on = states.every((s) => s.message !== undefined) ? states[0]?.message : undefined;
      return { stack: t.prefix, edges: states.map((s) => `${t.edge.service} on ${s.node}`), maintenanceBefore: on, api, dbNetworks: [t.network] };
    },
    async setMaintenance(_stack, on, message) {
      const nodes = await setSwarmMaintenance(docker, t.prefix, t.edge, on, message ?? DEFAULT_MAINTENANCE_MESSAGE, edgeTimeoutMs);
      return nodes.map((n) => `${t.edge.service} on ${n}`);
    },
    async migrate(_stack, step, log) {
      log(`migrating: ${MIGRATE_COMMAND.join(" ")} in a one-off task ${t.prefix}-${RESTORE_MIGRATE_TASK}-… of ${step.image} on network ${t.network}, as ${DB_ROLES.owner}`);
      try {
        return await runOneOff(docker, restoreMigrateSpec(t, step.imageId, randomBytes(24).toString("hex")), log);
      } catch (err) {
        if (err instanceof OneOffFailure) throw new OpsError("migrate-failed", `the migrations of the running API image failed: ${err.message}`);
        throw err;
      }
    },
  };
}
