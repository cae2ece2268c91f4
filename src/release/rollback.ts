// The rollback verb on a stack handle (the CLI selects the stack; tests inject their own): choose the release
// from the history (history.ts decides), refuse before anything changes when the image is not on the stack's
// Docker host, write the release's `slipway:images.api` and `slipway:api` (the edge image only when asked,
// the database image never) and run `pulumi up` — the same one-at-a-time rollout as any deploy — with a
// message that records what was restored, so the next rollback follows the chain.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type Docker from "dockerode";
import { ConcurrentUpdateError, type Stack } from "@pulumi/pulumi/automation";
import { connectDocker } from "../docker";
import {
  API_KEY,
  formatHistory,
  imageRefusal,
  isLockedError,
  lockedMessage,
  ReleaseError,
  restorePlan,
  rollbackTarget,
  shortMessage,
  type Release,
  type RestorePlan,
} from "./history";
import { describeHost, dockerHostOf, imageOnHost } from "./host";
import { deploy, history, setImages } from "./stack";

export interface RollbackOptions {
  /** A position from `--list` (default: the release before the running one, along the chain). */
  to?: number;
  /** Releases back along the chain (default 1); not with `to`. */
  steps?: number;
  /** Goes into the update message. */
  reason?: string;
  /** Restore the release's edge image too (otherwise `slipway:images.edge` is left as it is). */
  withEdge?: boolean;
  /** Check and print the plan, change nothing. */
  dryRun?: boolean;
  /** Progress and the engine's output. */
  log?: (s: string) => void;
  /** The stack's Docker engine (default: connectDocker(slipway:dockerHost)). */
  docker?: Docker;
}

export interface RollbackResult {
  from: Release;
  to: Release;
  plan: RestorePlan;
  /** The stack outputs after the update; undefined for a dry run. */
  outputs?: Record<string, unknown>;
}

/** The stack file's bytes, to put back exactly when the update is refused before it starts. */
function stackFileSnapshot(stack: Stack): { restore(): void } | undefined {
  const short = stack.name.split("/").pop()!;
  for (const ext of ["yaml", "yml", "json"]) {
    const file = join(stack.workspace.workDir, `Pulumi.${short}.${ext}`);
    if (existsSync(file)) {
      const bytes = readFileSync(file);
      return { restore: () => writeFileSync(file, bytes) };
    }
  }
  return undefined;
}

/** Writes what the plan restores: `slipway:images.api` (and `.edge` when it has one), then `slipway:api` as a whole. */
async function writePlan(stack: Stack, plan: RestorePlan): Promise<void> {
  await setImages(stack, { api: plan.apiImage, ...(plan.edgeImage ? { edge: plan.edgeImage } : {}) });
  // `config set-all --json` with an objectValue replaces the key with that object (YAML in the stack file, comments kept).
  await stack.setAllConfigJson(JSON.stringify({ [API_KEY]: plan.api }));
}

/** `rollback --list`: every update of the stack's history, newest first. */
export async function listReleases(stack: Stack): Promise<string> {
  return formatHistory(stack.name, await history(stack));
}

export async function rollback(stack: Stack, opts: RollbackOptions = {}): Promise<RollbackResult> {
  const name = stack.name;
  const log = opts.log ?? (() => undefined);
  const { from, to } = rollbackTarget(name, await history(stack), { to: opts.to, steps: opts.steps, withEdge: opts.withEdge });

  // The images must be on the stack's Docker host (the rollout never pulls), as the release ran them.
  const dockerHost = await dockerHostOf(stack);
  const docker = opts.docker ?? connectDocker(dockerHost);
  const host = describeHost(dockerHost);
  const api = await imageOnHost(docker, to.images.api);
  const apiProblem = imageRefusal(name, "API", to.images.api, host, api, to.apiImageId);
  if (apiProblem) throw new ReleaseError(apiProblem);
  if (opts.withEdge) {
    const edgeProblem = imageRefusal(name, "edge", to.images.edge, host, await imageOnHost(docker, to.images.edge));
    if (edgeProblem) throw new ReleaseError(edgeProblem);
  }

  const plan = restorePlan(name, from, to, { withEdge: opts.withEdge, reason: opts.reason, imageId: api!.id });
  log(
    `rollback ${name}: #${from.position} ${from.images.api} → #${to.position} ${to.images.api} ` +
      `(deployed ${to.startTime.toISOString()}: "${shortMessage(to.message)}")\n` +
      (plan.changes.length ? plan.changes.map((c) => `  ${c}\n`).join("") : "  (the same API image and settings: only the edge image changes)\n") +
      (opts.withEdge ? "" : `  images.edge stays ${from.images.edge}; images.postgres is never changed\n`),
  );
  if (opts.dryRun) return { from, to, plan };

  const snapshot = stackFileSnapshot(stack);
  await writePlan(stack, plan);
  let outputs: Record<string, unknown>;
  try {
    outputs = await deploy(stack, plan.message, log);
  } catch (e) {
    const message = (e as Error).message ?? String(e);
    if (e instanceof ConcurrentUpdateError || isLockedError(message)) {
      // Refused before the engine started: put the stack file back as it was.
      snapshot?.restore();
      throw new ReleaseError(lockedMessage(name, message));
    }
    throw new Error(
      `the rollback's pulumi up failed (the stack file now holds #${to.position}'s ${to.images.api} and slipway:api; ` +
        `a failed rollout puts the previous replicas back): ${message}`,
    );
  }
  return { from, to, plan, outputs };
}
