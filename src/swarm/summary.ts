// The one line a preview prints about a change of the Swarm target's API (SwarmRelease): what the next `pulumi up`
// will do ("release 1a2b3c4d→5e6f7a8b: 3 replicas of <image> as <stack>-api-b, switched at every edge task, then
// <stack>-api-a removed"). Pure; the SwarmRelease provider's diff logs it under the resource.
import { holdsPreviewUnknown, revisionShort } from "../vocabulary";
import { apiServiceName, type Colour, otherColour, releaseRevision, type SwarmReleaseSpec } from "./spec";

/** The release as it stands: its spec, and the serving colour and revision as stored. */
export interface StoredRelease {
  spec: SwarmReleaseSpec;
  colour?: Colour;
  revision?: string;
}

/** Pure: the line for a change the diff found (`changed`: the inputs it names). Every change is a release. */
export function summarizeRelease(current: StoredRelease, next: SwarmReleaseSpec, changed: readonly string[]): string {
  const from = revisionShort(current.revision ?? releaseRevision(current.spec));
  const to = holdsPreviewUnknown(next) ? "new" : revisionShort(releaseRevision(next));
  const count = current.spec.replicas === next.replicas ? `${next.replicas}` : `${current.spec.replicas}→${next.replicas}`;
  const colour = current.colour ? otherColour(current.colour) : "a";
  const image = holdsPreviewUnknown(next.image) ? "a new image" : next.image;
  const old = current.colour ? `, then ${apiServiceName(next.stack, current.colour)} removed` : "";
  return `release ${from}→${to}: ${count} replicas of ${image} as ${apiServiceName(next.stack, colour)}, switched at every edge task${old} (changed: ${changed.join(", ")})`;
}
