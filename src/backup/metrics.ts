// After a successful (and, with verification, proven) backup: the figures Prometheus alerts on
// (BackupTooOld in monitoring/alerts.yml) pushed to the stack's Pushgateway, the Prometheus way for batch jobs.
// The push runs *inside* the Pushgateway container (docker exec of its busybox wget against 127.0.0.1), so it
// goes wherever the stack's Docker engine is — a remote dockerHost over SSH included — and the Pushgateway is
// never published. Metrics are a report, not part of the backup: every failure here is one line, never an error.
import type Docker from "dockerode";
import { execInContainer } from "../docker";

/** The port the Pushgateway listens on inside its container (the official image's default). */
export const PUSHGATEWAY_PORT = 9091;
/** The `job` label of every series the backup pushes (the Pushgateway's grouping key, with `stack`). */
export const BACKUP_JOB = "slipway_backup";

export interface BackupFigures {
  /** when the backup finished successfully */
  finishedAt: Date;
  bytes: number;
  /** proven by restore (--verify / backup.verify) */
  verified: boolean;
}

/** The text exposition format of the backup's figures (what the Pushgateway stores under job/stack). */
export function backupMetricsText(f: BackupFigures): string {
  const gauge = (name: string, help: string, value: number) => [`# HELP ${name} ${help}`, `# TYPE ${name} gauge`, `${name} ${value}`];
  return [
    ...gauge("slipway_backup_last_success_timestamp_seconds", "Unix time the last successful backup of the stack finished.", Math.floor(f.finishedAt.getTime() / 1000)),
    ...gauge("slipway_backup_last_size_bytes", "Size of the last successful backup's dump file.", f.bytes),
    ...gauge("slipway_backup_last_verified", "1 if the last successful backup was proven by a restore, else 0.", f.verified ? 1 : 0),
    "",
  ].join("\n");
}

/** The Pushgateway path of a stack's backup group: /metrics/job/slipway_backup/stack/<stack>. */
export function pushPath(stack: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(stack)) throw new Error(`stack label "${stack}" must be letters, digits, '_', '.', '-'`);
  return `/metrics/job/${BACKUP_JOB}/stack/${stack}`;
}

/**
 * busybox wget (as in the official image) POSTing `body` to the Pushgateway in its own container. POST replaces the
 * pushed metrics of the same names in the group and keeps the others.
 */
export function pushCommand(stack: string, body: string): string[] {
  return [
    "wget", "-q", "-O", "-",
    "--header", "Content-Type: text/plain; version=0.0.4",
    "--post-data", body,
    `http://127.0.0.1:${PUSHGATEWAY_PORT}${pushPath(stack)}`,
  ];
}

/**
 * Pushes the backup's figures to `pushgateway` (a container name), or says in one line why not. Never throws: a
 * backup does not fail because of its metrics.
 */
export async function reportBackupMetrics(opts: {
  docker: Docker;
  /** the Pushgateway container; undefined: the stack has none (monitoring off) */
  pushgateway: string | undefined;
  /** the `stack` label: the stack's Docker name prefix, as on every other series of the stack */
  stack: string;
  figures: BackupFigures;
  log: (line: string) => void;
  timeoutMs?: number;
}): Promise<boolean> {
  const { pushgateway, stack, log } = opts;
  if (!pushgateway) {
    log(`metrics: no Pushgateway for '${stack}' (monitoring off, or --pushgateway not given); slipway_backup_* not pushed`);
    return false;
  }
  const timeoutMs = opts.timeoutMs ?? 15_000;
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    });
    const result = await Promise.race([execInContainer(opts.docker, pushgateway, pushCommand(stack, backupMetricsText(opts.figures))), timeout]);
    if (result.exitCode !== 0) throw new Error(`wget exited ${result.exitCode}: ${(result.stderr.trim() || result.stdout.trim()).split("\n")[0]}`);
    log(`metrics: slipway_backup_last_success_timestamp_seconds{stack="${stack}"} pushed to ${pushgateway}`);
    return true;
  } catch (err) {
    log(`metrics: not pushed to ${pushgateway} (${(err as Error).message.split("\n")[0]}); the backup itself succeeded`);
    return false;
  } finally {
    clearTimeout(timer);
  }
}
