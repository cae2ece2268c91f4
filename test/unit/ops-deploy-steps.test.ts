// The pre-deploy backup the program declares (under Pulumi's mocks): the backup verb's exact command
// line for the stack's backup settings.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { declareProgram } from "../support/declare";

function backupCommand(backup: Record<string, unknown>): string {
  const { resources, error } = declareProgram("production", { "slipway:backup": backup });
  assert.equal(error, undefined);
  const step = resources.find((r) => r.name === "deploy-backup");
  assert.ok(step, "production declares the pre-deploy backup");
  return step.inputs.create;
}

const base = "node --import tsx src/cli/backup.ts --stack slipway-production --db-container slipway-production-db --dir /var/backups/slipway";
const tail = "--image-tag 0000000000000 --database app --user app";

describe("pre-deploy backup command", () => {
  it("passes keep (the schema's default when unset), when set the age limit, and production's default proof by restore", () => {
    assert.equal(backupCommand({ enabled: true, dir: "/var/backups/slipway" }), `${base} --keep 7 --keep-weeks 4 --verify ${tail}`);
    assert.equal(backupCommand({ enabled: true, dir: "/var/backups/slipway", keep: 14, maxAgeDays: 30 }), `${base} --keep 14 --keep-weeks 4 --max-age-days 30 --verify ${tail}`);
  });

  it("asks for the proof by restore when backup.verify is on", () => {
    assert.equal(backupCommand({ enabled: true, dir: "/var/backups/slipway", keep: 14, verify: true }), `${base} --keep 14 --keep-weeks 4 --verify ${tail}`);
    assert.equal(backupCommand({ enabled: true, dir: "/var/backups/slipway", keep: 14, verify: false }), `${base} --keep 14 --keep-weeks 4 ${tail}`);
  });

  it("copies off the host when backup.copyTo is set", () => {
    assert.equal(
      backupCommand({ enabled: true, dir: "/var/backups/slipway", keep: 14, verify: true, copyTo: "offsite:backups/slipway prod" }),
      `${base} --keep 14 --keep-weeks 4 --verify --copy-to 'offsite:backups/slipway prod' ${tail}`,
    );
  });
});
