// The `backup` section of a stack's configuration: its defaults (one place: stacks/schema.ts) and its
// refusals, named by key.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { loadStackConfig, StackConfigError } from "../../stacks/load";
import { BACKUP_DEFAULTS, BACKUP_VERIFY_DEFAULT, stackConfigSchema } from "../../stacks/schema";

const base = {
  environment: "staging",
  images: { api: "slipway/api:1", edge: "slipway/edge:1", postgres: "slipway-local/postgres:17" },
  api: { replicas: 1 },
  edge: { port: 18080 },
  database: {},
};
const load = (backup: Record<string, unknown>) => loadStackConfig("s", structuredClone({ ...base, backup }));
const violations = (backup: Record<string, unknown>) => {
  try {
    load(backup);
  } catch (e) {
    assert.ok(e instanceof StackConfigError, String(e));
    return e.violations.map((v) => `${v.key}: ${v.message}`);
  }
  return [];
};

describe("backup settings", () => {
  it("fills in the defaults: keep 7, no age limit, staging without verification by restore", () => {
    const b = load({ enabled: true, dir: "/var/backups/slipway" }).backup!;
    assert.equal(b.keep, BACKUP_DEFAULTS.keep);
    assert.equal(b.keep, 7);
    assert.equal(b.maxAgeDays, undefined);
    assert.equal(b.verify, false);
  });

  it("takes copyTo as an rclone remote path or an absolute path, nothing else", () => {
    for (const ok of ["sftp:backups/slipway", "s3:bucket", "my remote:dir/x", ":sftp,host=backup.example.com:slipway", "/mnt/offsite/slipway"]) {
      assert.equal(load({ enabled: true, dir: "/b", copyTo: ok }).backup!.copyTo, ok);
    }
    assert.equal(load({ enabled: true, dir: "/b" }).backup!.copyTo, undefined, "no default: no copy");
    for (const bad of ["backups/slipway", "", "sftp:a\nb", 3]) {
      const v = violations({ enabled: true, dir: "/b", copyTo: bad });
      assert.equal(v.length, 1, String(bad));
      assert.match(v[0], /^slipway:backup\.copyTo: /);
    }
  });

  it("production proves its backups by default (an emergency restore needs no override); written verify wins either way", () => {
    const parse = (environment: string, backup: Record<string, unknown>) => stackConfigSchema.parse(structuredClone({ ...base, environment, backup })).backup!.verify;
    assert.equal(parse("production", { enabled: true, dir: "/b" }), true);
    assert.equal(parse("staging", { enabled: true, dir: "/b" }), false);
    assert.deepEqual(BACKUP_VERIFY_DEFAULT, { production: true, staging: false });
    assert.equal(parse("production", { enabled: true, dir: "/b", verify: false }), false);
    assert.equal(parse("staging", { enabled: true, dir: "/b", verify: true }), true);
  });

  it("takes verify as a boolean only", () => {
    assert.equal(load({ enabled: true, dir: "/b", verify: true }).backup!.verify, true);
    assert.match(violations({ enabled: true, dir: "/b", verify: "yes" })[0], /^slipway:backup\.verify: /);
  });

  it("takes maxAgeDays beside keep", () => {
    const b = load({ enabled: true, dir: "/b", keep: 30, maxAgeDays: 14 }).backup!;
    assert.deepEqual([b.keep, b.maxAgeDays], [30, 14]);
  });

  it("refuses a zero, negative or fractional age, naming the key", () => {
    for (const bad of [0, -1, 1.5]) {
      const v = violations({ enabled: true, dir: "/b", maxAgeDays: bad });
      assert.equal(v.length, 1, `${bad}: ${v.join("; ")}`);
      assert.match(v[0], /^slipway:backup\.maxAgeDays: /);
    }
    assert.match(violations({ enabled: true, dir: "/b", maxAgeDay: 3 })[0], /slipway:backup\.maxAgeDay: unknown key; did you mean slipway:backup\.maxAgeDays\?/);
  });
});
