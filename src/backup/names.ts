// Backup file names: `<prefix>-<UTC YYYYMMDDTHHMMSSZ>-<image tag>.dump`, and the reverse.
// The name is the backup's only metadata: its prefix says whose backup it is — the stack's Docker name
// prefix (`slipway-<stack>`) when the verb read the stack, otherwise the --stack given with
// --db-container; restore checks it — and its timestamp when it was taken (retention sorts on that),
// so both directions live here, pure.

export interface BackupName {
  prefix: string;
  takenAt: Date;
  imageTag: string;
}

const DUMP_SUFFIX = ".dump";
/** A file being written (a dump, a checksum, a verification record, a fetched copy): never a backup. */
export const PARTIAL_SUFFIX = ".partial";
/** Beside each dump: its sha256 (sha256sum format) and, when it was restored in a throwaway database, the record of that. */
export const CHECKSUM_SUFFIX = ".sha256";
export const VERIFIED_SUFFIX = ".verified.json";

const TIMESTAMP = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;
// Docker name prefixes (or short stack names) and Docker tags; the timestamp is fixed-width, so a
// non-greedy prefix followed by "-<timestamp>-" splits names even when prefix and tag contain dashes.
const PREFIX = /^[A-Za-z0-9_.][A-Za-z0-9_.-]*$/;
const IMAGE_TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const NAME = /^([A-Za-z0-9_.][A-Za-z0-9_.-]*?)-(\d{8}T\d{6}Z)-([A-Za-z0-9_][A-Za-z0-9_.-]{0,127})\.dump$/;

/** `2026-11-22T03:04:05.678Z` → `20261122T030405Z` (UTC, seconds precision). */
export function formatTimestamp(at: Date): string {
  return at.toISOString().replace(/\.\d{3}Z$/, "Z").replace(/[-:]/g, "");
}

export function parseTimestamp(text: string): Date | undefined {
  const m = TIMESTAMP.exec(text);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s] = m.map(Number);
  const at = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
  return formatTimestamp(at) === text ? at : undefined; // rejects 20261332T...
}

/** Why `prefix` cannot start a backup name, or undefined when it can (it comes from --stack, so the messages say so). */
export function prefixProblem(prefix: string): string | undefined {
  if (!PREFIX.test(prefix)) {
    return `stack name '${prefix}' may only contain letters, digits, '_', '.', '-' (use the short name, not org/project/stack)`;
  }
  if (/-\d{8}T\d{6}Z-/.test(`${prefix}-`)) return `stack name '${prefix}' looks like a backup timestamp`;
  return undefined;
}

export function imageTagProblem(tag: string): string | undefined {
  return IMAGE_TAG.test(tag) ? undefined : `image tag '${tag}' is not a valid Docker tag`;
}

export function backupFileName(name: BackupName): string {
  const problem = prefixProblem(name.prefix) ?? imageTagProblem(name.imageTag);
  if (problem) throw new Error(problem);
  return `${name.prefix}-${formatTimestamp(name.takenAt)}-${name.imageTag}${DUMP_SUFFIX}`;
}

/** Parses a base name (no directory); undefined for anything that is not a finished backup. */
export function parseBackupFileName(fileName: string): BackupName | undefined {
  const m = NAME.exec(fileName);
  if (!m) return undefined;
  const takenAt = parseTimestamp(m[2]);
  return takenAt ? { prefix: m[1], takenAt, imageTag: m[3] } : undefined;
}

/** The files that go with a dump: its checksum and its verification record (names only; they may not exist). */
export function companionFileNames(dumpFileName: string): string[] {
  return [`${dumpFileName}${CHECKSUM_SUFFIX}`, `${dumpFileName}${VERIFIED_SUFFIX}`];
}

/**
 * The backup a file belongs to: a finished dump, one of its companions, or a `.partial` of either;
 * undefined for anything else. `partial` says whether the file is an unfinished one.
 */
export function backupOfFile(fileName: string): (BackupName & { dump: string; partial: boolean }) | undefined {
  const partial = fileName.endsWith(PARTIAL_SUFFIX);
  let dump = partial ? fileName.slice(0, -PARTIAL_SUFFIX.length) : fileName;
  for (const suffix of [CHECKSUM_SUFFIX, VERIFIED_SUFFIX]) {
    if (dump.endsWith(suffix)) dump = dump.slice(0, -suffix.length);
  }
  const parsed = parseBackupFileName(dump);
  return parsed ? { ...parsed, dump, partial } : undefined;
}
