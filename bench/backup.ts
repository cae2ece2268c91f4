// Benchmark: slipway's backup/restore against bare `docker exec … pg_dump -Fc` / `pg_restore` on
// the same data, in one run. The difference is what trust costs: sha256 while streaming, fsync,
// reading the whole archive back, checksum check before restore.
//   npm run bench:backup -- [--size-mb 1024] [--runs 1]      (env BENCH_SIZE_MB works too)
// Starts a throwaway slipway-local/postgres:17, fills it, prints a table, writes bench/results/*.json.
import { execFileSync, spawn } from "node:child_process";
import { createReadStream, createWriteStream } from "node:fs";
import * as fs from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { intFlag, runVerb, VerbSpec } from "../src/cli/args";
import { backup } from "../src/backup/backup";
import { dockerExec, pgDump } from "../src/postgres/commands";
import { restore } from "../src/restore/restore";
import { startPostgres, TestPostgres } from "../test/support/postgres";

/** The baseline: pg_restore straight into the database, one transaction, dropping what it recreates. */
const BARE_RESTORE = (db: { user: string; database: string }) =>
  ["pg_restore", "--single-transaction", "--exit-on-error", "--clean", "--if-exists", "--no-owner", "--no-privileges", "--username", db.user, "--dbname", db.database];

const spec: VerbSpec = {
  name: "bench:backup",
  summary: "Time slipway backup/restore against bare pg_dump -Fc / pg_restore on the same database.",
  flags: {
    "size-mb": { type: "string", value: "<n>", description: "approximate database size to generate (default 1024, or BENCH_SIZE_MB)" },
    runs: { type: "string", value: "<n>", description: "repetitions of each measurement; the median is reported (default 1)" },
  },
};

interface Timing {
  seconds: number;
  bytes?: number;
}

async function time<T>(fn: () => Promise<T>): Promise<{ seconds: number; value: T }> {
  const start = process.hrtime.bigint();
  const value = await fn();
  return { seconds: Number(process.hrtime.bigint() - start) / 1e9, value };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Runs `argv` with stdin/stdout redirected to files, like `cmd < in > out` in a shell. */
function run(argv: string[], io: { stdinFile?: string; stdoutFile?: string }): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), { stdio: [io.stdinFile ? "pipe" : "ignore", io.stdoutFile ? "pipe" : "ignore", "pipe"] });
    let stderr = "";
    child.stderr!.on("data", (d) => (stderr += d));
    if (io.stdinFile) createReadStream(io.stdinFile).pipe(child.stdin!);
    const done = io.stdoutFile ? new Promise((r) => child.stdout!.pipe(createWriteStream(io.stdoutFile!)).on("finish", () => r(undefined))) : Promise.resolve();
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? done.then(() => resolve()) : reject(new Error(`${argv.join(" ")} exited ${code}: ${stderr}`))));
  });
}

async function fill(pg: TestPostgres, sizeMb: number): Promise<void> {
  // ~180 bytes per row on disk with its index (tuple header + 96-char text + timestamptz); md5 text compresses about 2:1 like real text
  const rows = Math.max(1000, Math.round((sizeMb * 1024 * 1024) / 180));
  await pg.sql("CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL, created_at timestamptz NOT NULL DEFAULT now())");
  const batch = 500_000;
  for (let from = 1; from <= rows; from += batch) {
    const to = Math.min(rows, from + batch - 1);
    await pg.sql(`INSERT INTO items (name, created_at) SELECT md5(g::text) || md5((g * 31)::text) || md5((g * 7)::text), now() - g * interval '1 second' FROM generate_series(${from}, ${to}) g`);
  }
  await pg.sql("VACUUM ANALYZE items");
}

void runVerb(spec, async (values) => {
  const sizeMb = intFlag(values, "size-mb", Number(process.env.BENCH_SIZE_MB ?? 1024), 1);
  const runs = intFlag(values, "runs", 1, 1);
  const work = await fs.mkdtemp(path.join(os.tmpdir(), "slipway-bench-backup-"));
  const pg = await startPostgres({ prefix: "slipway-bench-backup", timeoutMs: 120_000 });
  try {
    console.error(`filling ~${sizeMb} MB into ${pg.name} …`);
    const filled = await time(() => fill(pg, sizeMb));
    const dbBytes = Number(await pg.sql(`SELECT pg_database_size('${pg.db.database}')`));
    const rows = Number(await pg.sql("SELECT count(*) FROM items"));
    console.error(`  ${(dbBytes / 2 ** 20).toFixed(0)} MB, ${rows} rows in ${filled.seconds.toFixed(1)} s`);

    const results: Record<string, Timing[]> = { slipwayBackup: [], bareDump: [], slipwayRestore: [], bareRestore: [] };
    for (let i = 0; i < runs; i++) {
      const dir = path.join(work, `run${i}`);
      console.error(`run ${i + 1}/${runs}: slipway backup`);
      const b = await time(() => backup({ prefix: "bench", dbContainer: pg.name, dir, keep: 1, imageTag: `run${i}` }));
      results.slipwayBackup.push({ seconds: b.seconds, bytes: b.value.bytes });

      console.error(`run ${i + 1}/${runs}: bare pg_dump -Fc`);
      const bare = path.join(work, `bare${i}.dump`);
      const d = await time(() => run(dockerExec(pg.name, pgDump(pg.db)), { stdoutFile: bare }));
      results.bareDump.push({ seconds: d.seconds, bytes: (await fs.stat(bare)).size });

      console.error(`run ${i + 1}/${runs}: slipway restore`);
      const r = await time(() => restore({ prefix: "bench", dbContainer: pg.name, production: false, file: b.value.file, yes: true }));
      results.slipwayRestore.push({ seconds: r.seconds });

      console.error(`run ${i + 1}/${runs}: bare pg_restore --single-transaction --clean`);
      const br = await time(() => run(dockerExec(pg.name, BARE_RESTORE(pg.db), { stdin: true }), { stdinFile: bare }));
      results.bareRestore.push({ seconds: br.seconds });
      await fs.rm(dir, { recursive: true, force: true });
      await fs.rm(bare, { force: true });
    }
    if (Number(await pg.sql("SELECT count(*) FROM items")) !== rows) throw new Error("row count changed across restores");

    const s = (k: string) => median(results[k].map((t) => t.seconds));
    const summary = {
      backup: { slipwaySeconds: s("slipwayBackup"), bareSeconds: s("bareDump"), ratio: s("slipwayBackup") / s("bareDump") },
      restore: { slipwaySeconds: s("slipwayRestore"), bareSeconds: s("bareRestore"), ratio: s("slipwayRestore") / s("bareRestore") },
    };
    const dumpMb = (results.slipwayBackup[0].bytes ?? 0) / 2 ** 20;
    console.log(`database ${(dbBytes / 2 ** 20).toFixed(0)} MB (${rows} rows), dump ${dumpMb.toFixed(0)} MB, median of ${runs} run(s)`);
    console.log(`backup   slipway ${summary.backup.slipwaySeconds.toFixed(2)} s   bare pg_dump -Fc ${summary.backup.bareSeconds.toFixed(2)} s   ratio ${summary.backup.ratio.toFixed(2)}`);
    console.log(`restore  slipway ${summary.restore.slipwaySeconds.toFixed(2)} s   bare pg_restore  ${summary.restore.bareSeconds.toFixed(2)} s   ratio ${summary.restore.ratio.toFixed(2)}`);

    const out = path.join(__dirname, "results", `backup-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
    await fs.mkdir(path.dirname(out), { recursive: true });
    const host = { cpus: os.cpus().length, memoryMb: Math.round(os.totalmem() / 2 ** 20), node: process.version, docker: execFileSync("docker", ["version", "-f", "{{.Server.Version}}"], { encoding: "utf8" }).trim() };
    await fs.writeFile(out, JSON.stringify({ at: new Date().toISOString(), sizeMbRequested: sizeMb, dbBytes, rows, runs, host, summary, results }, null, 2) + "\n");
    console.log(`wrote ${path.relative(process.cwd(), out)}`);
  } finally {
    await pg.stop();
    await fs.rm(work, { recursive: true, force: true });
  }
});
