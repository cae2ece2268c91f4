// What a backup pushes to the stack's Pushgateway (src/backup/metrics.ts): the text format BackupTooOld reads,
// the grouping key (job="slipway_backup", stack), the busybox wget command, and that a push never fails a backup.
import assert from "node:assert/strict";
import { test } from "node:test";
import type Docker from "dockerode";
import { backupMetricsText, pushCommand, pushPath, reportBackupMetrics } from "../../src/backup/metrics";

const figures = { finishedAt: new Date("2026-11-23T10:00:00.750Z"), bytes: 12345, verified: true };

test("backupMetricsText: three gauges in the text exposition format, whole seconds", () => {
  const text = backupMetricsText(figures);
  assert.match(text, /^# HELP slipway_backup_last_success_timestamp_seconds .+\n# TYPE slipway_backup_last_success_timestamp_seconds gauge\nslipway_backup_last_success_timestamp_seconds 1795428000\n/);
  assert.match(text, /\nslipway_backup_last_size_bytes 12345\n/);
  assert.match(text, /\nslipway_backup_last_verified 1\n$/);
  assert.match(backupMetricsText({ ...figures, verified: false }), /\nslipway_backup_last_verified 0\n$/);
});

test("pushCommand: busybox wget POSTs the text to the Pushgateway in its own container, grouped by job and stack", () => {
  assert.equal(pushPath("slipway-staging"), "/metrics/job/slipway_backup/stack/slipway-staging");
  assert.deepEqual(pushCommand("slipway-staging", "x 1\n"), [
    "wget", "-q", "-O", "-", "--header", "Content-Type: text/plain; version=0.0.4", "--post-data", "x 1\n",
    "http://127.0.0.1:9091/metrics/job/slipway_backup/stack/slipway-staging",
  ]);
  assert.throws(() => pushPath("a/b"), /stack label "a\/b"/);
});

test("reportBackupMetrics: no Pushgateway, a missing container or a failing push is one line, never an error", async () => {
  const lines: string[] = [];
  const log = (l: string) => lines.push(l);
  assert.equal(await reportBackupMetrics({ docker: {} as Docker, pushgateway: undefined, stack: "s", figures, log }), false);
  assert.match(lines.pop()!, /^metrics: no Pushgateway for 's' \(monitoring off/);

  const missing = { getContainer: () => ({ exec: () => Promise.reject(Object.assign(new Error("no such container"), { statusCode: 404 })) }) } as unknown as Docker;
  assert.equal(await reportBackupMetrics({ docker: missing, pushgateway: "s-pushgateway", stack: "s", figures, log }), false);
  assert.equal(lines.pop(), "metrics: not pushed to s-pushgateway (container 's-pushgateway' not found); the backup itself succeeded");

  const hanging = { getContainer: () => ({ exec: () => new Promise(() => undefined) }) } as unknown as Docker;
  assert.equal(await reportBackupMetrics({ docker: hanging, pushgateway: "s-pushgateway", stack: "s", figures, log, timeoutMs: 50 }), false);
  assert.match(lines.pop()!, /not pushed to s-pushgateway \(no answer within 50 ms\)/);
});
