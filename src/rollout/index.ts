// The rollout engine's public face, as loaded by the ReplicaSet dynamic provider (infra/providers) and tests:
// converge/remove/observe a replica set, the one-line summary of a change, and a dockerode client for a DOCKER_HOST-style address.
export { converge, removeAll } from "./executor";
export { exitWhenOrphaned } from "../vocabulary/orphan";
export { holdsPreviewUnknown } from "../vocabulary/naming";
export { observe } from "./replicas";
export type { EdgeTarget, ExecutorContext, RolloutEvent, RolloutPolicy, RolloutResult, RolloutTimeouts, Standby, StrategySettings } from "./executor";
export { revisionOfSpec, validateSpec } from "./spec";
export { summarizeChange } from "./summary";
export type { StoredSet } from "./summary";
export type { Step, Strategy } from "./planner";
export type { ReplicaSpec, HealthcheckSpec, NetworkAttachment, RestartPolicy } from "./spec";

export { connectDocker } from "../docker";
