// One error type for backup/restore refusals and failures, with a machine-readable kind (tests and
// callers branch on it) and a message written for the operator: what, which thing, what next.

export type OpsErrorKind =
  | "invalid-input"
  | "container-not-found"
  | "dump-failed"
  | "disk-full"
  | "write-failed"
  | "unsafe-dir"
  | "already-exists"
  | "missing-file"
  | "unfinished-backup"
  | "missing-checksum"
  | "checksum-mismatch"
  | "corrupt-dump"
  | "other-stack"
  | "needs-confirmation"
  | "not-confirmed"
  | "restore-failed"
  | "safety-dump-failed"
  | "verify-failed"
  | "unverified"
  | "copy-failed"
  | "migrate-failed"
  | "maintenance-failed";

export class OpsError extends Error {
  constructor(
    readonly kind: OpsErrorKind,
    message: string,
  ) {
    super(message);
    this.name = "OpsError";
  }
}
