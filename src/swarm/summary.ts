// The one line a preview prints about a change of the Swarm target's API (SwarmRelease): what the next `pulumi up`
// will do ("release 1a2b3c4d→5e6f7a8b: 3 replicas of <image> as <stack>-api-b, switched at every edge task, then
// <stack>-api-a removed"). Pure; the SwarmRelease provider's diff logs it under the resource.
import { holdsPreviewUnknown, revisionShort } from "../vocabulary";
import { type SwarmCanary, type SwarmStandby, standbyLive } from "./planner";
import { apiServiceName, type Colour, otherColour, releaseRevision, type SwarmReleaseSpec } from "./spec";

/** The release as it stands: its spec, the serving colour and revision, and the blue-green standby, as stored. */
export interface StoredRelease {
  spec: SwarmReleaseSpec;
  colour?: Colour;
  revision?: string;
  standby?: SwarmStandby;
  /** A service an interrupted run left in the colour that does not serve (the manager's answer, not stored). */
  leftover?: string;
}

/** Pure: the line for a change the diff found (`changed`: the inputs it names), under the strategy the stack asks for. */
export function summarizeRelease(current: StoredRelease, next: SwarmReleaseSpec, changed: readonly string[], policy: { blueGreen?: { keepOldMinutes: number }; canary?: SwarmCanary; now?: number } = {}): string {
  const now = policy.now ?? Date.now();
  const fromRevision = current.revision ?? releaseRevision(current.spec);
  const from = revisionShort(fromRevision);
  const unknown = holdsPreviewUnknown(next);
  const toRevision = unknown ? undefined : releaseRevision(next);
  const to = toRevision ? revisionShort(toRevision) : "new";
  const count = current.spec.replicas === next.replicas ? `${next.replicas}` : `${current.spec.replicas}→${next.replicas}`;
  const image = holdsPreviewUnknown(next.image) ? "a new image" : next.image;
  const live = policy.blueGreen && standbyLive(current.standby, now) ? current.standby : undefined;
  const parts: string[] = [];
  const stored = current.standby;
  if (stored && !live) parts.push(`remove the standby ${stored.service} (${Date.parse(stored.until) > now ? "blue-green is off" : `its window ended ${stored.until}`})`);
  if (current.leftover) parts.push(`drain and remove ${current.leftover} (left by an interrupted run)`);
  const keep = policy.blueGreen?.keepOldMinutes ?? 0;
  const serving = current.colour ? apiServiceName(next.stack, current.colour) : undefined;
  const old = serving ? (policy.blueGreen && keep > 0 ? `, ${serving} kept idle as the standby ${keep} min` : `, then ${serving} removed`) : "";
  if (toRevision === fromRevision) {
    if (parts.length === 0) parts.push(`no release: revision ${from} stays (changed: ${changed.join(", ")})`);
  } else if (live && toRevision === live.revision) {
    parts.push(`blue-green: switch back to the standby ${live.service} (${revisionShort(live.revision)}) at every edge task${old}`);
  } else {
    const colour = current.colour ? otherColour(current.colour) : "a";
    const instead = live && live.colour === colour ? ` in place of the standby ${live.service}` : "";
    if (policy.canary && serving) {
      const k = Math.min(policy.canary.replicas, next.replicas);
      parts.push(`canary: release ${from}→${to}: ${k} canary task${k === 1 ? "" : "s"} of ${image} as ${apiServiceName(next.stack, colour)} at ${policy.canary.steps.join(" → ")} % of requests, each judged on the edge's access log, then ${count} replicas${old} (changed: ${changed.join(", ")})`);
      return parts.join("; ");
    }
    const how = policy.blueGreen ? "staged idle, then switched at every edge task at once" : "switched at every edge task";
    parts.push(`${policy.blueGreen ? "blue-green: " : ""}release ${from}→${to}: ${count} replicas of ${image} as ${apiServiceName(next.stack, colour)}${instead}, ${how}${old} (changed: ${changed.join(", ")})`);
  }
  return parts.join("; ");
}
