// Pure decisions around a restore into a deployed stack: whether restore turns maintenance on at the stack's edge
// (and off again), whether it runs the running API image's migrations afterwards, and — when a step fails — what
// to do with maintenance and what to tell the operator about the edge. The observed state (running edges, the
// maintenance state, the API replicas' images, the database's networks) is read by stack-state.ts; the flags are
// the operator's (--no-maintenance, --no-migrate).

export interface ApiReplica {
  name: string;
  /** the image reference it was created from (for messages) */
  image: string;
  /** the image ID it runs (sha256:…): what the migrations run from, so nothing is pulled or re-resolved */
  imageId: string;
}

export interface StackState {
  /** the database container's `slipway.stack` label: the stack it belongs to; undefined for a database outside any stack */
  stack: string | undefined;
  /** running HAProxy containers of that stack */
  edges: string[];
  /** maintenance message when it is already on at the edge, else undefined */
  maintenanceBefore: string | undefined;
  /** running API replicas of that stack */
  api: ApiReplica[];
  /** user-defined networks the database container is on (the API reaches it there) */
  dbNetworks: string[];
}

export type MaintenanceStep =
  | { action: "turn-on" }
  | { action: "already-on"; message: string }
  | { action: "skip"; why: string };

export type MigrateStep = { action: "run"; imageId: string; image: string; network: string } | { action: "skip"; why: string };

export interface RestorePlan {
  maintenance: MaintenanceStep;
  migrate: MigrateStep;
}

export function planRestore(input: {
  state: StackState;
  maintenance: boolean;
  migrate: boolean;
  dbContainer: string;
  /** the image the stack's last update deployed (its `image` output), when known: picks the serving replicas when others run too */
  deployedImage?: string;
}): RestorePlan {
  const { state } = input;
  const noStack = `database container '${input.dbContainer}' carries no slipway.stack label, so it is not part of a deployed stack`;
  let maintenance: MaintenanceStep;
  if (!input.maintenance) maintenance = { action: "skip", why: "--no-maintenance: clients keep reaching the API while the data is replaced" };
  else if (state.stack === undefined) maintenance = { action: "skip", why: `${noStack} (no edge to put in maintenance)` };
  else if (state.edges.length === 0) maintenance = { action: "skip", why: `stack '${state.stack}' has no running edge (HAProxy) to put in maintenance` };
  else if (state.maintenanceBefore !== undefined) maintenance = { action: "already-on", message: state.maintenanceBefore };
  else maintenance = { action: "turn-on" };

  let migrate: MigrateStep;
  // Replicas of more than one image: a rollout in progress, or a blue-green standby set kept idle. The image the
  // stack deployed is the code that serves; without it (or when it is not among them) nobody can tell.
  const deployed = state.api.filter((a) => a.image === input.deployedImage);
  const api = new Set(state.api.map((a) => a.imageId)).size > 1 && new Set(deployed.map((a) => a.imageId)).size === 1 ? deployed : state.api;
  const images = [...new Set(api.map((a) => a.imageId))];
  if (!input.migrate) migrate = { action: "skip", why: "--no-migrate: the schema stays as the dump has it" };
  else if (state.stack === undefined) migrate = { action: "skip", why: `${noStack} (no running API whose migrations to run)` };
  else if (images.length === 0) migrate = { action: "skip", why: `stack '${state.stack}' has no running API replica, so no image says which migrations the code expects; the next deploy runs them` };
  else if (images.length > 1) {
    const which = state.api.map((a) => `${a.name} (${a.image})`).join(", ");
    throw new PlanRefusal(
      `the API replicas of stack '${state.stack}' run different images (${which}) and none is the image the stack deployed, so it is not known which migrations to run: let the rollout finish, or pass --no-migrate`,
    );
  } else if (state.dbNetworks.length === 0) {
    throw new PlanRefusal(`database container '${input.dbContainer}' is on no user-defined network, so a migration container cannot reach it: pass --no-migrate`);
  } else {
    const replica = api[0]!;
    migrate = { action: "run", imageId: replica.imageId, image: replica.image, network: state.dbNetworks[0]! };
  }
  return { maintenance, migrate };
}

/** A restore the plan refuses before anything changes. */
export class PlanRefusal extends Error {}

/** The log lines that say, before anything changes, what the restore will do. */
export function describePlan(plan: RestorePlan, stack: string | undefined): string[] {
  const m = plan.maintenance;
  const lines = [
    m.action === "turn-on"
      ? `maintenance: will turn ON at the edge of '${stack}' for the restore, and off after it`
      : m.action === "already-on"
        ? `maintenance: already ON at the edge of '${stack}' ("${m.message}"); restore leaves it on`
        : `maintenance: skipped — ${m.why}`,
  ];
  const g = plan.migrate;
  lines.push(g.action === "run" ? `migrations: will run those of the running API image ${g.image} (${g.imageId.slice(0, 19)}) after the restore` : `migrations: skipped — ${g.why}`);
  return lines;
}

export type Failed = "restore" | "migrate";

/**
 * After `failed` (or after success, `failed` undefined): whether restore turns maintenance off, and the sentence on
 * the state the edge is left in. The restore failing changed nothing, so maintenance goes off again — if restore
 * turned it on. The migrations failing leaves restored data under code that expects a newer schema, so
 * maintenance stays on until the operator has fixed it.
 */
export function maintenanceAfter(plan: RestorePlan, stackName: string, failed?: Failed): { turnOff: boolean; edge: string } {
  const m = plan.maintenance;
  const off = `npm run maintenance -- --stack ${stackName} off`;
  if (m.action === "skip") return { turnOff: false, edge: "the edge was not touched (maintenance skipped)" };
  if (m.action === "already-on") return { turnOff: false, edge: `maintenance stays ON, as it was before the restore; turn it off with \`${off}\`` };
  if (failed === "migrate") {
    return { turnOff: false, edge: `maintenance stays ON: the restored schema is older than the running API expects; fix the migrations (or deploy), then \`${off}\`` };
  }
  return { turnOff: true, edge: "maintenance turned off again: the edge serves traffic" };
}
