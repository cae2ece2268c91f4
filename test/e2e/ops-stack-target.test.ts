// The verbs given a Pulumi stack (no --db-container) take the database container, the Docker engine
// (`slipway:dockerHost`), the backup settings and whether it is production (`environment`) from the
// stack — on a real Pulumi stack (file backend) whose state holds the outputs a deploy would have
// written, a real PostgreSQL, and a DOCKER_HOST that leads nowhere, so only dockerHost can reach it.
// (DOCKER_HOST is a missing unix socket here; a tcp:// DOCKER_HOST must not win over a unix:// dockerHost either,
// which docker-modem's defaults would do unless connectDocker overrides them — tested below.)
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { startPostgres, TestPostgres } from "../support/postgres";
import { projectStack, ProjectStack } from "../support/project-stack";
import { engineEnv, repoRoot } from "../support/pulumi";
import { missingPulumi, skipUnless } from "../support/prerequisites";
import { sftpMissing, SftpServer, startSftpServer } from "../support/sftp";

/** A stack whose state says the program deployed: the outputs `dbContainer` and `environment`. */
async function deployedStack(name: string, config: Record<string, unknown>, outputs: Record<string, string>): Promise<ProjectStack> {
  const ps = await projectStack(name, config);
  const state = (await ps.stack.exportStack()) as { deployment: Record<string, unknown> };
  state.deployment.resources = [{ urn: `urn:pulumi:${name}::slipway::pulumi:pulumi:Stack::slipway-${name}`, custom: false, type: "pulumi:pulumi:Stack", outputs }];
  await ps.stack.importStack(state as never);
  return ps;
}

describe("backup/restore --stack read the stack (real Pulumi state, real PostgreSQL)", { skip: skipUnless(missingPulumi()), timeout: 300_000 }, () => {
  let pg: TestPostgres;
  let root: string;
  let prod: ProjectStack;
  let nohost: ProjectStack;
  let sftp: SftpServer | undefined;

  const verb = (ps: ProjectStack, args: string[], dockerHostEnv = "unix:///nonexistent/docker.sock") => {
    const env = { ...process.env, ...engineEnv(ps.backendDir), ...sftp?.env, SLIPWAY_PROJECT_DIR: ps.workDir, DOCKER_HOST: dockerHostEnv };
    const r = spawnSync(process.execPath, ["--import", "tsx", ...args], { cwd: repoRoot, env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 180_000 });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };

  before(async () => {
    pg = await startPostgres({ prefix: "slipway-opsprod" });
    await pg.sql("CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL)");
    await pg.sql("INSERT INTO items (name) VALUES ('alpha'), ('beta')");
    root = await fs.mkdtemp(path.join(os.tmpdir(), "slipway-ops-target-"));
    if (!sftpMissing()) sftp = await startSftpServer();
    const backup = { enabled: true, dir: path.join(root, "backups"), keep: 1, maxAgeDays: 30 };
    const copyTo = sftp ? { copyTo: `${sftp.remote}:${sftp.root}/opsprod` } : {};
    prod = await deployedStack("opsprod", { environment: "production", dockerHost: "unix:///var/run/docker.sock", backup: { ...backup, verify: true, ...copyTo } }, { dbContainer: pg.name, environment: "production" });
    nohost = await deployedStack("opsnohost", { environment: "staging", backup }, { dbContainer: pg.name, environment: "staging" });
  });
  after(async () => {
    await pg?.stop();
    await prod?.cleanup();
    await nohost?.cleanup();
    await sftp?.stop();
    if (root) await fs.rm(root, { recursive: true, force: true });
  });

  it("backs up through the stack's dockerHost, into its backup.dir, verified, with its retention — DOCKER_HOST unused", async () => {
    const first = verb(prod, ["src/cli/backup.ts", "--stack", "opsprod", "--image-tag", "one"]);
    assert.equal(first.code, 0, first.stderr);
    await new Promise((r) => setTimeout(r, 1100)); // next second: another name
    const second = verb(prod, ["src/cli/backup.ts", "--stack", "opsprod", "--image-tag", "two"]);
    assert.equal(second.code, 0, second.stderr);
    const file = second.stdout.trim();
    assert.equal(path.dirname(file), path.join(root, "backups"));
    assert.match(path.basename(file), new RegExp(`^${pg.name}-\\d{8}T\\d{6}Z-two\\.dump$`), "filed under the prefix of the stack's dbContainer");
    assert.match(second.stderr, /retention \(keep 1, one a week for 4 weeks, at most 30 days old, the newest verified\): deleted .*-one\.dump/);
    assert.match(second.stderr, /verified: restored into a throwaway database/, "backup.verify: true in the stack");
    assert.deepEqual((await fs.readdir(path.join(root, "backups"))).sort(), [path.basename(file), `${path.basename(file)}.sha256`, `${path.basename(file)}.verified.json`]);
  });

  it("without a dockerHost the same verb goes to DOCKER_HOST (here: nowhere) — the control", () => {
    const r = verb(nohost, ["src/cli/backup.ts", "--stack", "opsnohost"]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /ENOENT \/nonexistent\/docker\.sock/);
  });

  it("a tcp:// DOCKER_HOST does not override the stack's unix:// dockerHost", () => {
    const r = verb(prod, ["src/cli/backup.ts", "--stack", "opsprod", "--image-tag", "tcp"], "tcp://127.0.0.1:9");
    assert.equal(r.code, 0, r.stderr);
  });

  it("restore treats the stack as production because its environment says so, and reaches it through dockerHost", async () => {
    const [dump] = (await fs.readdir(path.join(root, "backups"))).filter((f) => f.endsWith(".dump"));
    const file = path.join(root, "backups", dump);
    await pg.sql("DELETE FROM items");
    const refused = verb(prod, ["src/cli/restore.ts", "--stack", "opsprod", "--file", file]);
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(refused.stderr, new RegExp(`stack '${pg.name}' is production and there is no terminal to confirm on; pass --yes`));
    const contradicted = verb(prod, ["src/cli/restore.ts", "--stack", "opsprod", "--environment", "staging", "--file", file, "--yes"]);
    assert.equal(contradicted.code, 2, contradicted.stderr);
    assert.match(contradicted.stderr, /--environment staging contradicts the database: stack "opsprod" \(its environment output or config\) says environment production\. Nothing was changed/);
    assert.equal(await pg.sql("SELECT count(*) FROM items"), "0", "nothing restored yet");

    const r = verb(prod, ["src/cli/restore.ts", "--stack", "opsprod", "--file", file, "--yes"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await pg.sql("SELECT string_agg(name, ',' ORDER BY id) FROM items"), "alpha,beta");
  });

  it("restore --from <name> fetches it from the stack's backup.copyTo into its backup.dir", { skip: skipUnless(sftpMissing()) }, async () => {
    const dir = path.join(root, "backups");
    const [dump] = (await fs.readdir(dir)).filter((f) => f.endsWith(".dump"));
    const remote = (await fs.readdir(path.join(sftp!.root, "opsprod"))).sort();
    assert.deepEqual(remote.filter((f) => f.startsWith(dump)), [dump, `${dump}.sha256`, `${dump}.verified.json`], "copied with the stack's backup.copyTo");
    assert.ok(remote.some((f) => f.endsWith("-one.dump")), "retention deletes local backups only");
    await fs.rm(dir, { recursive: true });
    await pg.sql("DELETE FROM items");
    const r = verb(prod, ["src/cli/restore.ts", "--stack", "opsprod", "--from", dump, "--yes"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`fetching ${sftp!.remote}:${sftp!.root}/opsprod/${dump.replace(/\./g, "\\.")}`));
    assert.equal(await pg.sql("SELECT string_agg(name, ',' ORDER BY id) FROM items"), "alpha,beta");
    // the stack's backup.dir holds what was fetched and the safety dump of the data the restore replaced, kept
    const safety = (await fs.readdir(dir)).filter((f) => /-pre-restore\.dump$/.test(f));
    assert.equal(safety.length, 1, "one safety dump of the replaced data");
    assert.deepEqual((await fs.readdir(dir)).sort(), [dump, `${dump}.sha256`, `${dump}.verified.json`, safety[0]!, `${safety[0]!}.sha256`].sort());
  });
});
