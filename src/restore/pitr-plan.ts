// Pure decisions of a point-in-time restore (src/restore/pitr.ts): what the operator asked for (--to-time T, with a
// zone, or --to-latest), the recovery window the WAL repository offers (from the end of the oldest base backup to
// now), whether the target is inside it — refused, naming the window, when it is not — and the pgBackRest restore
// arguments that bring the data directory back to it.

export type RecoveryTarget = { kind: "time"; time: Date } | { kind: "latest" };

/** The window a restore can reach: from the end of the oldest kept base backup up to now (what is archived by then). */
export interface RecoveryWindow {
  from: Date;
  to: Date;
  /** label of the oldest base backup (pgBackRest's, e.g. 20261205-140554F) */
  oldest: string;
  backups: number;
}

const ISO_WITH_ZONE = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}(:?\d{2})?)$/i;

/** --to-time's value: an ISO 8601 time WITH its zone (Z or ±hh:mm); a zone-less time is refused, never guessed. */
export function parseTargetTime(value: string): Date | { problem: string } {
  const v = value.trim();
  if (!ISO_WITH_ZONE.test(v)) {
    return { problem: `--to-time '${value}' is not an ISO 8601 time with a zone, such as 2026-12-05T14:03:00Z or 2026-12-05T15:03:00+01:00 (a time without a zone is ambiguous)` };
  }
  const time = new Date(v.replace(" ", "T").replace(/([+-]\d{2})$/, "$1:00"));
  if (Number.isNaN(time.getTime())) return { problem: `--to-time '${value}' is not a valid time` };
  return time;
}

interface PgBackRestInfo {
  name?: string;
  backup?: Array<{ label?: string; timestamp?: { start?: number; stop?: number }; error?: boolean }>;
  status?: { code?: number; message?: string };
}

/** The window from `pgbackrest info --output=json` (one stanza); a problem when there is no usable base backup. */
export function recoveryWindow(infoJson: string, now: Date): RecoveryWindow | { problem: string } {
  let info: PgBackRestInfo[];
  try {
    info = JSON.parse(infoJson) as PgBackRestInfo[];
  } catch {
    return { problem: `pgbackrest info did not answer JSON: ${infoJson.slice(0, 200)}` };
  }
  const stanza = info[0];
  if (!stanza) return { problem: "the WAL repository has no stanza yet (no deploy has taken a base backup)" };
  const backups = (stanza.backup ?? []).filter((b) => !b.error && typeof b.timestamp?.stop === "number");
  if (backups.length === 0) {
    return { problem: `the WAL repository holds no base backup yet (${stanza.status?.message ?? "no backup"}): a deploy takes one, so does \`docker exec -u postgres <db> pgbackrest backup\`` };
  }
  const oldest = backups.reduce((a, b) => (a.timestamp!.stop! <= b.timestamp!.stop! ? a : b));
  return { from: new Date(oldest.timestamp!.stop! * 1000), to: now, oldest: oldest.label ?? "?", backups: backups.length };
}

/** Why `target` cannot be restored from `window`, or undefined. */
export function targetProblem(target: RecoveryTarget, window: RecoveryWindow, stack: string): string | undefined {
  if (target.kind === "latest") return undefined;
  const t = target.time.getTime();
  if (t < window.from.getTime() || t > window.to.getTime()) {
    return `--to-time ${target.time.toISOString()} is outside the recovery window of stack '${stack}': ${describeWindow(window)}`;
  }
  return undefined;
}

export function describeWindow(window: RecoveryWindow): string {
  return `${window.from.toISOString()} (end of the oldest base backup, ${window.oldest}) to ${window.to.toISOString()} (now); ${window.backups} base backup(s) kept`;
}

/** pgBackRest/PostgreSQL time: `YYYY-MM-DD HH:MM:SS.mmm+00`, which both parse (pgBackRest picks the base backup by it). */
export function pgTime(time: Date): string {
  return time.toISOString().replace("T", " ").replace("Z", "+00");
}

/**
 * `pgbackrest restore` arguments: --delta rewrites only the files that differ (the data directory is kept); to a
 * time, recovery stops right after the last transaction committed at or before it and the server is promoted (a
 * new timeline, archived like the old one); to latest, recovery replays every archived segment, then promotes.
 */
export function restoreArgs(target: RecoveryTarget): string[] {
  if (target.kind === "latest") return ["restore", "--delta", "--type=default"];
  return ["restore", "--delta", "--type=time", `--target=${pgTime(target.time)}`, "--target-action=promote"];
}

export function describeTarget(target: RecoveryTarget): string {
  return target.kind === "latest" ? "the latest archived moment" : target.time.toISOString();
}

/**
 * Where the replay ended, from PostgreSQL's log of the restored server (its last recovery): the commit time of the last
 * transaction replayed — the moment the data is back to — and the timeline it was promoted onto. The last occurrence
 * of each wins (the log of a restarted container holds earlier runs too). A line the operator reads: for --to-latest it
 * says what was lost (everything committed after that moment).
 */
export function recoveryEnd(log: string): string {
  const last = (re: RegExp) => [...log.matchAll(re)].at(-1)?.[1]?.trim();
  const tx = last(/last completed transaction was at log time (.+)$/gm);
  const timeline = last(/selected new timeline ID: (\d+)/gm);
  return `${tx ? `last transaction replayed committed at ${tx}` : "no committed transaction replayed (PostgreSQL logged none)"}${timeline ? `; promoted onto timeline ${timeline}` : ""}`;
}
