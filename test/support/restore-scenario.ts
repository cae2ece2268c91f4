// A stack of the real program for the restore scenarios (the dump restore under maintenance, the point-in-time
// one): the images under test, a free port, a private directory (backups), the stack on its own backend, and
// `npm run restore -- --stack <stack> …` run as the operator runs it (a child process against this stack). Torn
// down after the test however it ends: protected resources unprotected, the stack destroyed, the volumes the
// stack keeps on destroy (its data, its WAL repository, and any the test names) removed, the directories deleted.
import type { TestContext } from "node:test";
import { type ChildProcessByStdio, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import type Docker from "dockerode";
import { connectDocker, execText } from "../../src/docker";
import { walRepoVolume } from "../../src/backup/wal";
import { type ImageRefs, testImages } from "./docker-images";
import { freePort, type ProjectStack, projectStack } from "./project-stack";
import { engineAvailable, engineEnv, pulumiCli, repoRoot } from "./pulumi";

export interface VerbRun {
  /** null when the budget ran out and the verb was killed */
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RestoreScenario {
  /** the Pulumi stack (`--stack`) */
  name: string;
  images: ImageRefs;
  port: number;
  /** a private temporary directory (0700), removed afterwards: the backups' */
  dir: string;
  ps: ProjectStack;
  docker: Docker;
  /** `npm run restore -- --stack <name> …`, started; the caller reads its streams (and may signal it). */
  spawnRestore(args: string[]): ChildProcessByStdio<null, Readable, Readable>;
  /** The same, to its end: its exit code and output; killed (code null) after budgetMs. */
  restore(args: string[], budgetMs?: number): Promise<VerbRun>;
  /** SQL in the stack's database (`app`, as `app`) in `dbContainer`: unaligned tuples, trimmed. */
  sqlIn(dbContainer: string): (statement: string) => Promise<string>;
}

export interface RestoreScenarioOptions {
  /** the stack's config (top-level slipway: keys), from what the scenario made for it */
  config: (made: { name: string; images: ImageRefs; port: number; dir: string }) => Record<string, unknown>;
  /** more volumes to remove afterwards (a volume the config names) */
  volumes?: (name: string) => string[];
}

/** `tag` starts the stack's name (a random suffix follows); the stack is created, not deployed. */
export async function restoreScenario(t: TestContext, tag: string, opts: RestoreScenarioOptions): Promise<RestoreScenario> {
  if (!engineAvailable()) throw new Error("the Pulumi toolchain is missing: run `bash tools/toolchain.sh` first");
  const images = await testImages();
  const port = await freePort();
  const name = `${tag}${randomBytes(3).toString("hex")}`;
  const dir = mkdtempSync(join(tmpdir(), `slipway-${name}-`));
  const ps = await projectStack(name, opts.config({ name, images, port, dir }));
  const docker = connectDocker();
  const log = (s: string) => process.stderr.write(s);
  t.after(async () => {
    // production protects its database container: unprotect, or destroy refuses
    await pulumiCli(ps, ["state", "unprotect", "--all", "--yes"]).catch((e: Error) => log(`unprotect: ${e.message}\n`));
    await ps.stack.destroy({ color: "never" }).catch((e: Error) => log(`destroy: ${e.message}\n`));
    for (const v of [`${ps.prefix}-pgdata`, walRepoVolume(ps.prefix), ...(opts.volumes?.(name) ?? [])]) await docker.getVolume(v).remove().catch(() => undefined);
    await ps.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });
  const spawnRestore = (args: string[]) => {
    const env = { ...process.env, ...engineEnv(ps.backendDir), SLIPWAY_PROJECT_DIR: ps.workDir };
    return spawn(process.execPath, ["--import", "tsx", "src/cli/restore.ts", "--stack", name, ...args], { cwd: repoRoot, env, stdio: ["ignore", "pipe", "pipe"] });
  };
  return {
    name,
    images,
    port,
    dir,
    ps,
    docker,
    spawnRestore,
    restore: (args, budgetMs = 10 * 60_000) =>
      new Promise((resolve) => {
        const child = spawnRestore(args);
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
        child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
        const timer = setTimeout(() => child.kill("SIGKILL"), budgetMs);
        child.on("close", (code) => {
          clearTimeout(timer);
          resolve({ code, stdout, stderr });
        });
      }),
    sqlIn: (dbContainer) => (statement) => execText(docker, dbContainer, ["psql", "-U", "app", "-d", "app", "-Atc", statement], undefined, 30_000).then((s) => s.trim()),
  };
}
