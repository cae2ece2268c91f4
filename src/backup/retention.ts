// What the next backup deletes in its directory, decided here (pure) and done by backup.ts:
//   - retention: of the finished backups filed under one prefix, those that are neither among the `keep`
//     newest nor the newest of one of the last `keepWeeks` weeks, and those older than `maxAgeDays` — but never
//     the newest proven (verified) dump, so that quick deploys cannot rotate out every good dump, and never the
//     backup just taken;
//   - stale `.partial` files of that prefix: left by a killed or crashed run. A running backup touches
//     its `.partial` files every HEARTBEAT_MS (see backup.ts), so one untouched for STALE_PARTIAL_MS
//     belongs to no running backup.
// Other prefixes' files (other stacks) and foreign files are never selected.
import { backupOfFile, parseBackupFileName } from "./names";

export interface RetentionPolicy {
  /** keep at most this many (the newest) */
  keep: number;
  /** and the newest of each of the last this-many weeks before `now` (7-day windows counted back; 0: none) */
  keepWeeks?: number;
  /** and none taken more than this many days before `now` (undefined: no age limit) */
  maxAgeDays?: number;
  /** dump names whose verification record proves them: the newest of these is always kept */
  verified?: ReadonlySet<string>;
  now: Date;
}

const DAY_MS = 24 * 60 * 60 * 1000;
const WEEK_MS = 7 * DAY_MS;

/** Dump file names (base names) to delete, oldest first. Their companions (.sha256, .verified.json) go with them. */
export function selectForDeletion(files: readonly string[], prefix: string, policy: RetentionPolicy): string[] {
  const { keep, maxAgeDays, keepWeeks = 0 } = policy;
  if (!Number.isInteger(keep) || keep < 1) throw new Error(`keep must be a whole number ≥ 1, got ${keep}`);
  if (!Number.isInteger(keepWeeks) || keepWeeks < 0) throw new Error(`keepWeeks must be a whole number ≥ 0, got ${keepWeeks}`);
  if (maxAgeDays !== undefined && (!Number.isInteger(maxAgeDays) || maxAgeDays < 1)) throw new Error(`maxAgeDays must be a whole number ≥ 1, got ${maxAgeDays}`);
  const oldestKept = maxAgeDays === undefined ? -Infinity : policy.now.getTime() - maxAgeDays * DAY_MS;
  const ours = files
    .map((file) => ({ file, parsed: parseBackupFileName(file) }))
    .filter((f) => f.parsed?.prefix === prefix)
    // newest first; same second → name order, so the choice is deterministic
    .sort((a, b) => b.parsed!.takenAt.getTime() - a.parsed!.takenAt.getTime() || (a.file < b.file ? 1 : -1));
  const kept = new Set(ours.slice(0, keep).map((f) => f.file));
  for (let week = 0; week < keepWeeks; week++) {
    const [from, to] = [policy.now.getTime() - (week + 1) * WEEK_MS, policy.now.getTime() - week * WEEK_MS];
    const newest = ours.find((f) => f.parsed!.takenAt.getTime() > from && f.parsed!.takenAt.getTime() <= to);
    if (newest) kept.add(newest.file);
  }
  const proven = ours.find((f) => policy.verified?.has(f.file))?.file;
  return ours
    .filter((f) => f.file !== proven && (!kept.has(f.file) || f.parsed!.takenAt.getTime() < oldestKept))
    .map((f) => f.file)
    .reverse();
}

/** How often a running backup touches its `.partial` files. */
export const HEARTBEAT_MS = 30_000;
/** A `.partial` untouched for this long belongs to no running backup (20 missed heartbeats). */
export const STALE_PARTIAL_MS = 10 * 60_000;

/** `.partial` files (base names) of `prefix` untouched for STALE_PARTIAL_MS before `nowMs`. */
export function selectStalePartials(entries: readonly { name: string; mtimeMs: number }[], prefix: string, nowMs: number): string[] {
  return entries
    .filter((e) => {
      const of = backupOfFile(e.name);
      return of?.partial === true && of.prefix === prefix && nowMs - e.mtimeMs >= STALE_PARTIAL_MS;
    })
    .map((e) => e.name)
    .sort();
}
