// Decisions about releases, from `pulumi stack history`: what a stack ran, what a rollback goes back to
// (a chain: a rollback records what it restored, so the next one goes further back), what it writes,
// whether an image may be promoted. Pure: history entries in, a decision out.
//
// A release is what a successful update deployed: the API image (`slipway:images.api`, with the image ID
// promote/rollback record in the update message) and the non-secret API configuration (`slipway:api`:
// replicas, limits, env, healthcheck, rollout, volumes, restartPolicy, port). Consecutive updates that
// deployed the same release (an edge change, a re-run) are one release.

/** One config value of an update, as `pulumi stack history --json` reports it (secrets have no value). */
export interface ConfigValue {
  value?: string;
  objectValue?: unknown;
  secret: boolean;
}

export interface HistoryEntry {
  /** Pulumi's update number; the file backend leaves it 0. */
  version?: number;
  kind: string;
  result: string;
  startTime: Date | string;
  message?: string;
  config: Record<string, ConfigValue | undefined>;
}

export interface Images {
  api: string;
  edge: string;
  postgres: string;
}

/** One entry of the stack's history (any kind, any outcome), as `rollback --list` shows it. */
export interface Update {
  /** Stable: 1 = the stack's first update (Pulumi's version number when the backend keeps one). */
  position: number;
  kind: string;
  result: string;
  startTime: Date;
  message: string;
  images?: Images;
  /** The API image's ID on the Docker host when the update ran, if promote/rollback recorded it. */
  apiImageId?: string;
  /** `slipway:api` as the update had it (no value when it held secrets). */
  api?: ConfigValue;
  /** The position this update restored, when it was a rollback (`rollback to #<n> …`). */
  restored?: number;
}

/** A successful update that recorded images: something a rollback can restore. */
export interface Release extends Update {
  images: Images;
}

export class ReleaseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ReleaseError";
  }
}

export const IMAGES_KEY = "slipway:images";
export const API_KEY = "slipway:api";

/**
 * A config value that holds an object, however it was written: a YAML object in the stack file (objectValue, or its
 * JSON as value) or JSON text (`pulumi config set slipway:images '{…}'`). Undefined for a secret, a missing value or
 * anything but an object.
 */
export function objectOf(v: { value?: unknown; objectValue?: unknown; secret?: boolean } | undefined): Record<string, unknown> | undefined {
  if (!v || v.secret) return undefined;
  let candidate = v.objectValue ?? v.value;
  if (typeof candidate === "string") {
    try {
      candidate = JSON.parse(candidate) as unknown;
    } catch {
      return undefined;
    }
  }
  return candidate && typeof candidate === "object" && !Array.isArray(candidate) ? (candidate as Record<string, unknown>) : undefined;
}

function imagesOf(entry: HistoryEntry): Images | undefined {
  const v = objectOf(entry.config[IMAGES_KEY]) as Partial<Images> | undefined;
  return v && typeof v.api === "string" && typeof v.edge === "string" && typeof v.postgres === "string"
    ? { api: v.api, edge: v.edge, postgres: v.postgres }
    : undefined;
}

// ---- what an update message records ------------------------------------------------------------------

const ROLLBACK_RE = /^rollback to #(\d+)\b/;
const IMAGE_ID_RE = /\(image (sha256:[0-9a-f]{64})\)/;

/** " (image sha256:…)" when the image's ID is known, else "". */
function imageIdNote(imageId: string | undefined): string {
  return imageId ? ` (image ${imageId})` : "";
}

/** The update message of `promote`: the image and, where known, its ID on the Docker host. */
export function promoteMessage(image: string, imageId?: string): string {
  return `promote ${image}${imageIdNote(imageId)}`;
}

/** The update message of a rollback: what it restored (read back by `parseMessage`), then the operator's reason. */
export function rollbackMessage(to: Release, opts: { imageId?: string; withEdge?: boolean; reason?: string } = {}): string {
  const edge = opts.withEdge ? ` + edge ${to.images.edge}` : "";
  const reason = opts.reason?.trim() ? ` — ${opts.reason.trim().replace(/\s+/g, " ")}` : "";
  return `rollback to #${to.position} ${to.images.api}${imageIdNote(opts.imageId ?? to.apiImageId)}${edge}${reason}`;
}

/** What a promote/rollback message recorded: the position a rollback restored, the API image's ID. */
export function parseMessage(message: string): { restored?: number; apiImageId?: string } {
  const restored = ROLLBACK_RE.exec(message)?.[1];
  const id = IMAGE_ID_RE.exec(message)?.[1];
  return { ...(restored ? { restored: Number(restored) } : {}), ...(id ? { apiImageId: id } : {}) };
}

// ---- history → updates → releases ---------------------------------------------------------------------

/**
 * Every entry of the history, oldest first, with its stable position. `pulumi stack history` lists the
 * newest first; the file backend numbers nothing and records seconds, so order is by time, then by that
 * listing order; a backend that numbers its updates gives the number.
 */
export function updates(history: HistoryEntry[]): Update[] {
  const numbered = history.length > 0 && history.every((e) => (e.version ?? 0) > 0);
  const sorted = history
    .map((e, i) => ({ e, t: new Date(e.startTime), i }))
    .sort((a, b) => (numbered ? a.e.version! - b.e.version! : a.t.getTime() - b.t.getTime() || b.i - a.i));
  return sorted.map(({ e, t }, idx) => {
    const message = e.message ?? "";
    const images = imagesOf(e);
    const api = e.config[API_KEY];
    const recorded = parseMessage(message);
    const position = numbered ? e.version! : idx + 1;
    return {
      position,
      kind: e.kind,
      result: e.result,
      startTime: t,
      message,
      ...(images ? { images } : {}),
      ...(recorded.apiImageId ? { apiImageId: recorded.apiImageId } : {}),
      ...(api ? { api } : {}),
      // A rollback restores something older than itself; anything else is not a chain link.
      ...(recorded.restored !== undefined && recorded.restored < position ? { restored: recorded.restored } : {}),
    };
  });
}

export function isRelease(u: Update): u is Release {
  return u.kind === "update" && u.result === "succeeded" && u.images !== undefined;
}

/** Successful updates that recorded images, newest first. */
export function releases(history: HistoryEntry[]): Release[] {
  return updates(history).filter(isRelease).reverse();
}

function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (v && typeof v === "object") {
    return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`).join(",")}}`;
  }
  return JSON.stringify(v);
}

function apiIdentity(r: Release): string {
  if (!r.api) return "none";
  if (r.api.secret) return "secret";
  return canonical(objectOf(r.api) ?? r.api.value ?? null);
}

/** The same release: same API image (and image ID where both are known) and the same `slipway:api`. */
export function sameRelease(a: Release, b: Release): boolean {
  return (
    a.images.api === b.images.api &&
    !(a.apiImageId && b.apiImageId && a.apiImageId !== b.apiImageId) &&
    apiIdentity(a) === apiIdentity(b)
  );
}

/** Consecutive releases that deployed the same thing, newest first; each run newest first. */
function runsOf(rs: Release[]): Release[][] {
  const runs: Release[][] = [];
  for (const r of rs) {
    const last = runs[runs.length - 1];
    if (last && sameRelease(last[last.length - 1]!, r)) last.push(r);
    else runs.push([r]);
  }
  return runs;
}

// ---- the rollback chain -------------------------------------------------------------------------------

export interface RollbackChoice {
  /** --to: a position from --list. */
  to?: number;
  /** How many releases back along the chain (default 1). */
  steps?: number;
  /** The edge image is restored too (then a release with the same API but another edge is not "the same"). */
  withEdge?: boolean;
}

function listHint(stack: string): string {
  return `see: npm run rollback -- --stack ${stack} --list`;
}

/** A message for display: a recorded image ID shortened to 12 hex (the full one stays in the history). */
export function shortMessage(message: string): string {
  return message.replace(/\(image sha256:([0-9a-f]{12})[0-9a-f]{52}\)/g, "(image $1…)");
}

function describeRelease(r: Release): string {
  return `#${r.position} (${r.images.api}${r.message ? `, "${shortMessage(r.message)}"` : ""})`;
}

/**
 * The release a rollback restores, and the one running now. By default the release before the running one
 * — where "before" follows the chain: when the running release is itself a rollback to #k, the release
 * before #k (so rolling back twice goes two releases back, never back and forth). `steps` repeats that;
 * `to` names a position from the history instead. Failed updates, refreshes and updates that changed only
 * the edge are never a release of their own.
 */
export function rollbackTarget(stack: string, history: HistoryEntry[], choice: RollbackChoice = {}): { from: Release; to: Release } {
  const steps = choice.steps ?? 1;
  if (!Number.isInteger(steps) || steps < 1) throw new ReleaseError(`steps must be a whole number >= 1, got ${steps}`);
  if (choice.to !== undefined && choice.steps !== undefined) throw new ReleaseError("give either --to or --steps, not both");
  const all = updates(history);
  const runs = runsOf(all.filter(isRelease).reverse());
  if (runs.length === 0) throw new ReleaseError(`stack "${stack}" has no successful deploy in its history; nothing to roll back`);
  const from = runs[0]![0]!;

  if (choice.to !== undefined) {
    const to = all.find((u) => u.position === choice.to);
    if (!to) throw new ReleaseError(`stack "${stack}" has no update #${choice.to} (its history has #1–#${all.length}); ${listHint(stack)}`);
    if (!isRelease(to)) {
      const what = to.kind !== "update" ? `a ${to.kind}` : to.result !== "succeeded" ? `an update that ${to.result === "failed" ? "failed" : `ended "${to.result}"`}` : "an update without images";
      throw new ReleaseError(`#${to.position} of stack "${stack}" is ${what}, not a release that ran; only a successful update can be restored (${listHint(stack)})`);
    }
    if (sameRelease(to, from) && !(choice.withEdge && to.images.edge !== from.images.edge)) {
      throw new ReleaseError(`#${to.position} is the release running now on stack "${stack}" (${describeRelease(from)}); nothing to roll back`);
    }
    return { from, to };
  }

  const runIndexOf = (position: number) => runs.findIndex((run) => run.some((r) => r.position === position));
  // The run a run stands for in the chain: a rollback's run stands for the run it restored.
  const origin = (i: number): number => {
    const introducedBy = runs[i]![runs[i]!.length - 1]!;
    const j = introducedBy.restored === undefined ? -1 : runIndexOf(introducedBy.restored);
    return j > i ? origin(j) : i;
  };
  let i = 0;
  for (let step = 0; step < steps; step++) {
    let next = origin(i) + 1;
    // Never "back" to what runs now (a chain can lead to an older copy of the running release).
    while (next < runs.length && sameRelease(runs[next]![0]!, from)) next = origin(next) + 1;
    if (next >= runs.length) {
      const first = runs[origin(i)]!;
      throw new ReleaseError(
        step === 0
          ? `nothing earlier to roll back to on stack "${stack}": the running release ${describeRelease(from)} ` +
              (origin(i) === 0 ? "is its first release" : `restored ${describeRelease(first[first.length - 1]!)}, its first release`) +
              ` (${listHint(stack)})`
          : `stack "${stack}" has ${step} release(s) to go back to along its history; cannot go back ${steps} (${listHint(stack)})`,
      );
    }
    i = next;
  }
  // The newest update of that release: the state it had when the next release replaced it.
  return { from, to: runs[i]![0]! };
}

// ---- what a rollback writes ---------------------------------------------------------------------------

export interface RestorePlan {
  /** `slipway:images.api` (set with --path). */
  apiImage: string;
  /** `slipway:images.edge`, only with --with-edge. `slipway:images.postgres` is never written. */
  edgeImage?: string;
  /** `slipway:api` exactly as the release had it (the whole object). */
  api: { value: string; objectValue?: unknown; secret: false };
  /** The update message: the record of what was restored. */
  message: string;
  /** What changes against the running release, one line each (`api.replicas: 3 → 2`). */
  changes: string[];
}

function leaves(v: unknown, path: string, out: Map<string, string>): void {
  // Objects and arrays are walked; scalars and empty ones ({} / []) are leaves.
  if (v && typeof v === "object" && Object.keys(v).length > 0) {
    for (const [k, child] of Object.entries(v)) {
      leaves(child, Array.isArray(v) ? `${path}[${k}]` : `${path}.${k}`, out);
    }
  } else {
    out.set(path, JSON.stringify(v));
  }
}

/** Leaf by leaf, what changes from `before` to `after` (both config objects under `prefix`). */
export function configChanges(prefix: string, before: unknown, after: unknown): string[] {
  const a = new Map<string, string>();
  const b = new Map<string, string>();
  leaves(before, prefix, a);
  leaves(after, prefix, b);
  const keys = [...new Set([...a.keys(), ...b.keys()])].sort();
  return keys.filter((k) => a.get(k) !== b.get(k)).map((k) => `${k}: ${a.get(k) ?? "(unset)"} → ${b.get(k) ?? "(unset)"}`);
}

/** The config a rollback to `to` writes (and nothing else: never the database image; the edge only when asked). */
export function restorePlan(stack: string, from: Release, to: Release, opts: { withEdge?: boolean; reason?: string; imageId?: string } = {}): RestorePlan {
  if (!to.api || to.api.secret || to.api.value === undefined) {
    throw new ReleaseError(
      `#${to.position} of stack "${stack}" recorded ${to.api ? "slipway:api with secret values, which the history does not show" : "no slipway:api"}; ` +
        `it cannot be restored as it was (keep secrets in slipway:secretEnv); pick another release (${listHint(stack)})`,
    );
  }
  const changes: string[] = [];
  if (from.images.api !== to.images.api) changes.push(`images.api: ${from.images.api} → ${to.images.api}`);
  if (opts.withEdge && from.images.edge !== to.images.edge) changes.push(`images.edge: ${from.images.edge} → ${to.images.edge}`);
  changes.push(...configChanges("api", objectOf(from.api) ?? from.api?.value, objectOf(to.api) ?? to.api.value));
  return {
    apiImage: to.images.api,
    ...(opts.withEdge ? { edgeImage: to.images.edge } : {}),
    api: { value: to.api.value, ...(to.api.objectValue !== undefined ? { objectValue: to.api.objectValue } : {}), secret: false },
    message: rollbackMessage(to, { withEdge: opts.withEdge, reason: opts.reason, imageId: opts.imageId }),
    changes,
  };
}

// ---- refusals about the Docker host and the lock --------------------------------------------------------

/** Why the image a release ran cannot be used from the Docker host (undefined: it can). `found` is what the host has under that reference. */
export function imageRefusal(stack: string, role: "API" | "edge", ref: string, host: string, found: { id: string } | undefined, recordedId?: string): string | undefined {
  if (!found) {
    return (
      `the ${role} image ${ref} is not on the Docker host of stack "${stack}" (${host}); nothing was changed. ` +
      `Load or pull it there first (docker pull ${ref}), or pick another release (${listHint(stack)})`
    );
  }
  if (recordedId && found.id !== recordedId) {
    return (
      `${ref} on the Docker host of stack "${stack}" (${host}) is now image ${found.id.slice(0, 19)}…, but the release ran ${recordedId.slice(0, 19)}…: ` +
      `the tag has moved; nothing was changed. If the old image is still there, tag it back (docker tag ${recordedId} ${ref}), or pick another release (${listHint(stack)})`
    );
  }
  return undefined;
}

/** Pulumi's refusal to run an update on a locked stack (file backends; the service's 409). */
export function isLockedError(message: string): boolean {
  return /the stack is currently locked|Another update is currently in progress|\[409\] Conflict/i.test(message);
}

export function lockedMessage(stack: string, pulumiMessage: string): string {
  // Pulumi's own lines (who holds the lock), once each: the Automation API's error repeats stdout and stderr.
  const lines = pulumiMessage.split("\n").map((l) => l.trim().replace(/^stderr:\s*/, ""));
  const detail = [...new Set(lines.filter((l) => /currently locked|created by|in progress/i.test(l)))].slice(0, 4);
  return (
    `stack "${stack}" is locked: an update is running, or a killed one left its lock; the rollback was not started and nothing was changed.\n` +
    (detail.length ? `  pulumi: ${detail.join("\n  ")}\n` : "") +
    `  Check: pulumi stack --stack ${stack} --show-urns (and who is deploying); only when nobody is: pulumi cancel --stack ${stack} --yes, ` +
    `then pulumi refresh --stack ${stack} --yes (RUNBOOK §6), and run the rollback again.`
  );
}

// ---- --list -------------------------------------------------------------------------------------------

function shortId(id: string | undefined): string {
  return id ? ` (${id.slice(7, 19)})` : "";
}

/** `rollback --list`: every update, newest first, with the running release and the default rollback target marked. */
export function formatHistory(stack: string, history: HistoryEntry[]): string {
  const all = updates(history);
  if (all.length === 0) return `stack "${stack}" has no updates in its history`;
  let running: number | undefined;
  let next: number | undefined;
  try {
    const { from, to } = rollbackTarget(stack, history);
    running = from.position;
    next = to.position;
  } catch {
    running = releases(history)[0]?.position;
  }
  const rows = all.reverse().map((u) => [
    `#${u.position}`,
    u.startTime.toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z"),
    u.kind === "update" ? u.result : `${u.kind} ${u.result}`,
    u.images ? `${u.images.api}${shortId(u.apiImageId)}` : "-",
    `${shortMessage(u.message)}${u.position === running ? "   ← running" : ""}${u.position === next ? "   ← rollback goes here" : ""}`,
  ]);
  const head = ["#", "time (UTC)", "outcome", "API image", "message"];
  const widths = head.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const line = (r: string[]) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!))).join("  ").trimEnd();
  return [`history of stack "${stack}", newest first:`, line(head), ...rows.map(line)].join("\n");
}

// ---- promotion ----------------------------------------------------------------------------------------

/**
 * The stack an image must have run on first: --from when given; for a target whose `slipway:environment` is
 * production (whatever it is called: `acme/production`, `prod-eu`), the `staging` stack beside it (same
 * organisation/project prefix); none otherwise. `environment` undefined: the target's stack file names none.
 */
export function promotionSource(target: string, environment: string | undefined, from?: string): string | undefined {
  if (from) return from;
  if (environment === undefined) {
    throw new ReleaseError(
      `stack "${target}" names no slipway:environment in Pulumi.${target.split("/").pop()}.yaml, so it is not known whether ${target} is production ` +
        `(the staging-first check follows the environment, never the name); set it (pulumi config set --stack ${target} slipway:environment production|staging) or pass --from <stack>`,
    );
  }
  if (environment !== "production") return undefined;
  const slash = target.lastIndexOf("/");
  return `${slash < 0 ? "" : target.slice(0, slash + 1)}staging`;
}

/**
 * An image may go to production only after it ran on the source stack and stayed: a successful deploy of the
 * very same reference that the next release did not roll back (a smoke test that failed and was rolled back in
 * CI, or by hand, does not count). A later successful deploy of it counts again.
 */
export function checkPromotable(image: string, target: string, source: string, sourceHistory: HistoryEntry[]): void {
  const runs = runsOf(releases(sourceHistory));
  const ofImage = runs.map((run, i) => ({ run, newer: runs[i - 1] })).filter(({ run }) => run[0]!.images.api === image);
  const rolledBack = ({ newer }: { newer: Release[] | undefined }) => newer !== undefined && newer[newer.length - 1]!.restored !== undefined;
  if (ofImage.some((r) => !rolledBack(r))) return;
  const again = `deploy it there first (npm run promote -- --stack ${source} --image ${image}), or pass --force to send it to "${target}" anyway`;
  if (ofImage.length > 0) {
    const { run, newer } = ofImage[0]!;
    const back = newer![newer!.length - 1]!;
    throw new ReleaseError(
      `${image} ran on stack "${source}" (#${run[run.length - 1]!.position}) but was rolled back (#${back.position} "${shortMessage(back.message)}"), so it does not count as having run successfully; ` +
        `fix it and ${again}`,
    );
  }
  throw new ReleaseError(`${image} has never been deployed successfully to stack "${source}"; ${again}`);
}
