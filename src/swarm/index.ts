// The Swarm target's engine, as loaded by its dynamic providers (infra/providers/swarm.ts) and tests.
export { release, removeRelease, observeServices, ReleaseFailure } from "./release";
export type { ReleaseContext, ReleasePolicy, ReleaseResult, ReleaseTimeouts } from "./release";
export { runOneOff, OneOffFailure, serviceTasks, serviceLogTail } from "./tasks";
export { canaryOf, planRelease, judgeTasks, splitBySlot, standbyLive, type SwarmCanary, type SwarmStandby } from "./planner";
export type { CanarySettings } from "../rollout/canary";
export * from "./spec";
export { summarizeRelease, type StoredRelease } from "./summary";
export { connectDocker } from "../docker";
export { exitWhenOrphaned } from "../vocabulary/orphan";
export { holdsPreviewUnknown } from "../vocabulary/naming";
export { deleteFile, ensureFile, pruneFiles, removableFiles, type FileScope, type SwarmFileKind } from "./configs";
export { configServerCommand, configServerName, CONFIG_FROM_ENV, EDGE_CONFIG_PORT, EDGE_TLS_PEM, edgeTaskScript, SERVED_CONFIG_PATH, SERVED_TLS_SECRET, servedConfig, waitEdgeConfig } from "./edge-config";
