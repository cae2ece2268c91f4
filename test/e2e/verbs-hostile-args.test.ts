// Each operator verb (promote, rollback, backup, restore, maintenance) run as the operator runs it, with hostile
// arguments: paths with '..', names with shell metacharacters, huge values, control characters, unknown flags,
// numbers beyond what a whole number can hold. Each must end with a clear usage error naming the argument (exit 2),
// and nothing may be executed or written: the marker files the injections would create stay absent, the directory
// handed to the verbs stays empty, and no Docker engine is reachable (DOCKER_HOST points at a missing socket) nor
// any Pulumi stack (an empty file backend). No Docker needed; the verbs run in parallel, four at a time.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { repoRoot } from "../support/pulumi";

interface Case {
  verb: string;
  args: string[];
  /** What the error must name. */
  names: RegExp;
}

test("verbs refuse hostile arguments with an error naming the argument, executing and writing nothing", { timeout: 10 * 60_000 }, async (t) => {
  const sandbox = mkdtempSync(join(tmpdir(), "slipway-hostile-"));
  const backend = mkdtempSync(join(tmpdir(), "slipway-hostile-backend-"));
  t.after(() => {
    rmSync(sandbox, { recursive: true, force: true });
    rmSync(backend, { recursive: true, force: true });
  });
  const marker = join(sandbox, "pwned");
  const inject = [`x;touch ${marker}`, `x$(touch ${marker})`, `x\`touch ${marker}\``, `x|touch ${marker}`];
  const huge = "a".repeat(100_000);
  const cases: Case[] = [];
  for (const verb of ["promote", "rollback", "backup", "restore", "maintenance"]) {
    const base: Record<string, string[]> = {
      promote: ["--image", "registry/app:0123456789ab"],
      rollback: ["--dry-run"],
      backup: ["--dir", sandbox],
      restore: ["--file", join(sandbox, "x.dump"), "--yes"],
      maintenance: ["on"],
    };
    for (const stack of [...inject, "../../etc", "a/b", huge]) cases.push({ verb, args: ["--stack", stack, ...base[verb]!], names: /--stack/ });
    cases.push({ verb, args: ["--stack", "staging", "--no-such-flag", ...base[verb]!], names: /--no-such-flag/ });
    cases.push({ verb, args: ["--stack", "stag\ning", ...base[verb]!], names: /--stack: contains control characters/ });
  }
  for (const value of inject) {
    cases.push({ verb: "backup", args: ["--stack", "s", "--db-container", value, "--dir", sandbox], names: /--db-container/ });
    cases.push({ verb: "restore", args: ["--stack", "s", "--db-container", value, "--environment", "staging", "--file", join(sandbox, "x.dump"), "--yes"], names: /--db-container/ });
    cases.push({ verb: "backup", args: ["--stack", "s", "--db-container", "db", "--dir", sandbox, "--user", value], names: /--user/ });
  }
  cases.push(
    { verb: "backup", args: ["--stack", "s", "--db-container", "db", "--dir", `${sandbox}/../../etc`], names: /--dir: .* has a '\.\.' segment/ },
    { verb: "restore", args: ["--stack", "s", "--db-container", "db", "--environment", "staging", "--file", `${sandbox}/../../etc/passwd`, "--yes"], names: /--file: .* has a '\.\.' segment/ },
    { verb: "backup", args: ["--stack", "s", "--db-container", "db", "--dir", sandbox, "--keep", "99999999999999999999"], names: /--keep must be a whole number/ },
    { verb: "backup", args: ["--stack", "s", "--db-container", "db", "--dir", sandbox, "--keep", "-1"], names: /--keep/ },
    { verb: "rollback", args: ["--stack", "staging", "--steps", "1e400"], names: /--steps/ },
    { verb: "restore", args: ["--stack", "s", "--db-container", "db", "--environment", "staging", "--file", join(sandbox, "x.dump"), "--maintenance-message", huge, "--yes"], names: /--maintenance-message: too long/ },
    { verb: "maintenance", args: ["--stack", "staging", "sideways;id"], names: /expected one of on\|off/ },
    // --force bypassed every check at once: refused, naming the overrides that replace it (one per check)
    { verb: "restore", args: ["--stack", "s", "--db-container", "db", "--environment", "staging", "--file", join(sandbox, "x.dump"), "--force", "--yes"], names: /--force is no longer accepted.*--allow-other-stack \(.*--allow-unverified \(/ },
  );

  const env = {
    ...process.env,
    DOCKER_HOST: `unix://${join(sandbox, "no-docker.sock")}`,
    PULUMI_BACKEND_URL: `file://${backend}`,
    PULUMI_CONFIG_PASSPHRASE: "hostile",
    SLIPWAY_PROJECT_DIR: sandbox,
  };
  const run = (c: Case) =>
    new Promise<{ c: Case; code: number | null; stderr: string }>((resolve) => {
      execFile(process.execPath, ["--import", "tsx", `src/cli/${c.verb}.ts`, ...c.args], { cwd: repoRoot, env, timeout: 120_000, maxBuffer: 8 << 20 }, (error, _stdout, stderr) => {
        resolve({ c, code: error ? ((error as { code?: number }).code ?? null) : 0, stderr });
      });
    });
  const results: Awaited<ReturnType<typeof run>>[] = [];
  for (let i = 0; i < cases.length; i += 4) results.push(...(await Promise.all(cases.slice(i, i + 4).map(run))));

  for (const { c, code, stderr } of results) {
    const what = `${c.verb} ${c.args.map((a) => (a.length > 60 ? `${a.slice(0, 20)}…(${a.length})` : JSON.stringify(a))).join(" ")}`;
    assert.equal(code, 2, `${what}: a usage error (exit 2), got ${code}:\n${stderr.slice(0, 600)}`);
    assert.match(stderr.split("\n")[0]!, new RegExp(`^${c.verb}: `), `${what}: the verb names itself`);
    assert.match(stderr, c.names, `${what}: the error names the argument`);
    assert.ok(stderr.length < 8000, `${what}: the error does not echo a huge value back (${stderr.length} characters)`);
  }
  assert.ok(!existsSync(marker), "no injected command ran");
  assert.deepEqual(readdirSync(sandbox), [], "nothing was written");
  console.log(`${results.length} hostile command lines refused, each naming its argument; nothing executed or written`);
});
