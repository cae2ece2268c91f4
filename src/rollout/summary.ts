// The one line a preview prints about a change of a replica set: what the next `pulumi up` will do, in the words of
// its strategy ("rolling 3 replicas 1a2b3c4d→5e6f7a8b, surge 1", "blue-green: stage 3 of 5e6f7a8b, switch, keep
// 1a2b3c4d as standby 15 min"). Pure; the ReplicaSet provider's diff logs it under the resource.
import { holdsPreviewUnknown, revisionShort } from "../vocabulary";
import type { RolloutPolicy } from "./executor";
import { type ReplicaSpec, revisionOfSpec } from "./spec";

/** What the diff knows about the set as it stands: its spec and revision as stored, and what `read` found running. */
export interface StoredSet {
  spec: ReplicaSpec;
  /** The stored revision (the hash of `spec` when absent). */
  revision?: string;
  /** How many replicas `read` found running (drift when it is not `spec.replicas`). */
  running?: number;
}


/**
 * Pure: the line for a change the diff found (`changed`: the inputs it names). `policy` is the new one, with the
 * standby the last run left.
 */
export function summarizeChange(current: StoredSet, next: ReplicaSpec, policy: RolloutPolicy, changed: readonly string[], now = Date.now()): string {
  const prev = current.spec;
  const from = revisionShort(current.revision ?? revisionOfSpec(prev));
  // An input the diff sees as unknown (another resource's output) makes a revision whose hash
  // is not known yet: "new".
  const to = holdsPreviewUnknown(next) ? "new" : revisionShort(revisionOfSpec(next));
  const release = revisionOfSpec(prev) !== revisionOfSpec(next);
  const n = next.replicas;
  const count = prev.replicas === n ? `${n}` : `${prev.replicas}→${n}`;
  const parts: string[] = [];
  const standby = policy.standby;
  const standbyLive = standby !== undefined && Date.parse(standby.until) > now;
  if (standby && !standbyLive) parts.push(`remove the standby ${revisionShort(standby.revision)} (its window ended ${standby.until})`);

  if (release) {
    const strategy = policy.strategy ?? "rolling";
    const keep = policy.keepOldMinutes ?? 0;
    const old = keep > 0 ? `keep ${from} as standby ${keep} min` : `remove ${from}`;
    if (strategy === "blue-green" && standbyLive && revisionShort(standby.revision) === to) parts.push(`blue-green: switch back to the standby ${to} (${n} replicas), ${old}`);
    else if (strategy === "blue-green") parts.push(`blue-green: stage ${n} of ${to}, switch, ${old}`);
    else if (strategy === "canary" && policy.canary) {
      const c = policy.canary;
      parts.push(`canary: ${c.replicas} of ${to} at ${c.steps.join(" → ")} % (${c.stepSeconds} s each, gated), then rolling ${count} replicas ${from}→${to}`);
    } else parts.push(`rolling ${count} replicas ${from}→${to}, surge ${policy.surge ?? 1}`);
  } else if (prev.replicas !== n) {
    parts.push(`scale ${count} replicas of ${to}`);
  } else if (current.running !== undefined && current.running !== n) {
    parts.push(`converge: ${current.running} of ${n} replicas of ${to} running`);
  } else if (parts.length === 0) {
    parts.push(`no replica starts or stops (${changed.join(", ")} changed)`);
  }
  return parts.join("; ");
}
