// The verification record `<dump>.verified.json` beside a dump's checksum: the proof that the dump was
// restored into a throwaway PostgreSQL of the same image and that every table came back with the rows
// the source had at dump time (counted in pg_dump's own snapshot). Pure: the record's shape, how counts
// are compared, and what a record means for a restore.

export interface VerificationRecord {
  version: 1;
  /** the dump's file name and sha256 (the record vouches for exactly these bytes) */
  dump: string;
  sha256: string;
  ok: boolean;
  /** ISO time the verification finished */
  verifiedAt: string;
  /** image of the throwaway PostgreSQL: the database container's image ID, and its name */
  image: string;
  imageName: string;
  /** rows per table (`schema.table`, quoted like SQL identifiers) in the dump's snapshot of the source */
  sourceCounts: Record<string, number>;
  /** rows per table after the restore; null when the restore did not get that far */
  restoredCounts: Record<string, number> | null;
  /** why it is not ok (empty when ok) */
  problems: string[];
  /** pg_restore into the throwaway database, and the whole verification, in seconds */
  restoreSeconds: number;
  seconds: number;
}

/** Differences between the rows at dump time and after the restore, one line each (empty: equal). */
export function compareCounts(source: Record<string, number>, restored: Record<string, number>): string[] {
  const problems: string[] = [];
  for (const table of Object.keys(source).sort()) {
    if (!(table in restored)) problems.push(`table ${table} (${source[table]} rows at dump time) is missing after the restore`);
    else if (restored[table] !== source[table]) problems.push(`table ${table}: ${source[table]} rows at dump time, ${restored[table]} after the restore`);
  }
  for (const table of Object.keys(restored).sort()) {
    if (!(table in source)) problems.push(`table ${table} appeared after the restore (${restored[table]} rows) but was not counted at dump time`);
  }
  return problems;
}

export function formatRecord(record: VerificationRecord): string {
  return `${JSON.stringify(record, null, 2)}\n`;
}

/** A record read from disk, or undefined when the text is not one. */
export function parseRecord(text: string): VerificationRecord | undefined {
  try {
    const r = JSON.parse(text) as Partial<VerificationRecord>;
    if (r.version !== 1 || typeof r.ok !== "boolean" || typeof r.sha256 !== "string" || typeof r.dump !== "string" || !Array.isArray(r.problems)) return undefined;
    return r as VerificationRecord;
  } catch {
    return undefined;
  }
}

export type VerificationState =
  | { state: "verified"; record: VerificationRecord }
  | { state: "failed"; record: VerificationRecord }
  /** no record, an unreadable one, or one that vouches for other bytes */
  | { state: "never"; why: string };

/** What a dump's record (its text, or undefined when there is none) says about the dump with this sha256. */
export function verificationState(recordText: string | undefined, dump: string, sha256: string): VerificationState {
  if (recordText === undefined) return { state: "never", why: "it has no verification record (it was taken without --verify)" };
  const record = parseRecord(recordText);
  if (!record) return { state: "never", why: "its verification record is unreadable" };
  if (record.sha256 !== sha256 || record.dump !== dump) return { state: "never", why: `its verification record vouches for another file (${record.dump}, sha256 ${record.sha256.slice(0, 12)}…)` };
  return record.ok ? { state: "verified", record } : { state: "failed", record };
}
