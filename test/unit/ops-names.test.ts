// Backup file names: exact format, round trip, and what the parser refuses.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { backupFileName, backupOfFile, companionFileNames, formatTimestamp, parseBackupFileName, parseTimestamp, prefixProblem } from "../../src/backup/names";

const at = new Date("2026-11-22T03:04:05.678Z");

describe("backup names", () => {
  it("formats UTC timestamps to the second", () => {
    assert.equal(formatTimestamp(at), "20261122T030405Z");
    assert.deepEqual(parseTimestamp("20261122T030405Z"), new Date("2026-11-22T03:04:05Z"));
    assert.equal(parseTimestamp("20261332T030405Z"), undefined);
    assert.equal(parseTimestamp("2026-11-22T03:04:05Z"), undefined);
  });

  it("builds <prefix>-<timestamp>-<tag>.dump", () => {
    assert.equal(backupFileName({ prefix: "slipway-production", takenAt: at, imageTag: "3f2a9c1" }), "slipway-production-20261122T030405Z-3f2a9c1.dump");
    assert.equal(backupFileName({ prefix: "production", takenAt: at, imageTag: "3f2a9c1" }), "production-20261122T030405Z-3f2a9c1.dump");
  });

  it("round-trips prefixes and tags that contain dashes and dots", () => {
    for (const [prefix, imageTag] of [
      ["staging-eu", "3f2a9c1-abrupt"],
      ["dev.local", "v1.2.3"],
      ["a", "untagged"],
    ]) {
      const name = backupFileName({ prefix, takenAt: at, imageTag });
      assert.deepEqual(parseBackupFileName(name), { prefix, takenAt: new Date("2026-11-22T03:04:05Z"), imageTag });
    }
  });

  it("does not parse partials, checksums, or foreign files", () => {
    for (const name of [
      "production-20261122T030405Z-3f2a9c1.dump.partial",
      "production-20261122T030405Z-3f2a9c1.dump.sha256",
      "production-20261122T0304Z-3f2a9c1.dump",
      "production-3f2a9c1.dump",
      "notes.txt",
      "-20261122T030405Z-x.dump",
    ]) {
      assert.equal(parseBackupFileName(name), undefined, name);
    }
  });

  it("refuses prefixes that would not round-trip, in the words of the --stack flag they come from", () => {
    assert.match(prefixProblem("org/project/production")!, /short name/);
    assert.match(prefixProblem("x-20261122T030405Z-y")!, /timestamp/);
    assert.equal(prefixProblem("staging-eu"), undefined);
    assert.throws(() => backupFileName({ prefix: "a b", takenAt: at, imageTag: "t" }), /stack name 'a b'/);
    assert.throws(() => backupFileName({ prefix: "a", takenAt: at, imageTag: "-bad" }), /image tag '-bad'/);
  });

  it("knows a dump's companions and which backup any of its files (or their .partial) belongs to", () => {
    const dump = "slipway-production-20261122T030405Z-3f2a9c1.dump";
    assert.deepEqual(companionFileNames(dump), [`${dump}.sha256`, `${dump}.verified.json`]);
    for (const [file, partial] of [
      [dump, false],
      [`${dump}.sha256`, false],
      [`${dump}.verified.json`, false],
      [`${dump}.partial`, true],
      [`${dump}.sha256.partial`, true],
      [`${dump}.verified.json.partial`, true],
    ] as const) {
      const of = backupOfFile(file);
      assert.equal(of?.dump, dump, file);
      assert.equal(of?.prefix, "slipway-production", file);
      assert.equal(of?.partial, partial, file);
    }
    for (const file of ["notes.partial", `${dump}.bak`, "x.sha256", `${dump}.sha256.verified.json.sha256`]) assert.equal(backupOfFile(file), undefined, file);
  });
});
