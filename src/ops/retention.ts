// Retention: which finished backups filed under one prefix to delete so that only the N newest remain.
// Pure; other prefixes' files (other stacks), `.partial` leftovers and foreign files are never selected.
import { parseBackupFileName } from "./names";

/** Dump file names (base names) to delete, oldest first. Their `.sha256` goes with them. */
export function selectForDeletion(files: readonly string[], keepN: number, prefix: string): string[] {
  if (!Number.isInteger(keepN) || keepN < 1) throw new Error(`keep must be a whole number ≥ 1, got ${keepN}`);
  const ours = files
    .map((file) => ({ file, parsed: parseBackupFileName(file) }))
    .filter((f) => f.parsed?.prefix === prefix)
    // newest first; same second → name order, so the choice is deterministic
    .sort((a, b) => b.parsed!.takenAt.getTime() - a.parsed!.takenAt.getTime() || (a.file < b.file ? 1 : -1));
  return ours
    .slice(keepN)
    .map((f) => f.file)
    .reverse();
}
