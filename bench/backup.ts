// Benchmark: slipway's backup/restore against bare `docker exec … pg_dump -Fc` / `pg_restore` on
// the same data, in one run. The difference is what trust costs: sha256 while streaming, pg_restore reading the
// stream to its end beside the file, fsync; before a restore the checksum and (for a dump no verification record
// vouches for) a read to the end, and the safety dump of the data it replaces, printed apart. slipway's dumps are gzip at
// level 1 (commands.ts DUMP_COMPRESSION): the bare tools run twice, as a user types them (pg_dump -Fc: level 6) and
// with slipway's argv, so the second ratio is slipway's own cost at equal settings.
//   npm run bench:backup -- [--size-mb 1024] [--runs 1]      (env BENCH_SIZE_MB works too)
// Starts a throwaway slipway-local/postgres:17, fills it, prints a table, writes bench/results/*.json.
import { execFileSync, spawn } from "node:child_process";
import { createReadStream, createWriteStream } from "node:fs";
import * as fs from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { intFlag, runVerb, VerbSpec } from "../src/cli/args";
import { backup } from "../src/backup/backup";
import { DUMP_COMPRESSION, dockerExec, pgDump } from "../src/postgres/commands";
import { restore, type RestoreResult } from "../src/restore/restore";
import { pointInTimeRestore } from "../src/restore/pitr";
import { restoreArgs } from "../src/restore/pitr-plan";
import { archivingCommand, BASE_BACKUP_ARGS, PGDATA, pgbackrest, pgbackrestEnv, WAL_OS_USER, WAL_REPO_PATH } from "../src/backup/wal";
import { connectDocker, execInContainer } from "../src/docker";
import { walSchema } from "../stacks/schema";
import { randomBytes } from "node:crypto";
import { startPostgres, TestPostgres } from "../test/support/postgres";
import { testImages } from "../test/support/docker-images";

/** The baseline: pg_dump -Fc as a user types it (gzip at pg_dump's default level). */
const BARE_DUMP = (db: { user: string; database: string }) => ["pg_dump", "--format=custom", "--username", db.user, "--dbname", db.database];

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

async function fill(pg: Pick<TestPostgres, "sql">, sizeMb: number): Promise<void> {
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

/**
 * backup.wal's two operations beside pgBackRest run bare, on a PostgreSQL of the image with pgBackRest that archives as
 * a stack's does (src/backup/wal.ts), filled like the other: the deploy step's base backup (the same `pgbackrest
 * backup` through `docker exec`; full, the repository being new) beside `pgbackrest backup --type=full`, and `npm run
 * restore -- --to-latest`'s work (pointInTimeRestore: its checks, pgbackrest check, the stop, the restore in a one-off
 * container, the start and the wait for the promotion) beside the same steps typed by hand.
 */
async function pitrRows(sizeMb: number, runs: number): Promise<{ baseSlipway: number[]; baseBare: number[]; restoreSlipway: number[]; restoreBare: number[] } | { skipped: string }> {
  const docker = connectDocker();
  const image = (await testImages()).postgresWal;
  if (!(await docker.getImage(image).inspect().then(() => true, () => false))) return { skipped: `image ${image} is missing (bash tools/toolchain.sh builds it)` };
  const name = `slipway-bench-pitr-${randomBytes(3).toString("hex")}`;
  const db = { database: "slipway", user: "slipway" };
  const wal = walSchema.parse({ enabled: true });
  const volumes = [`${name}-pgdata`, `${name}-pgwal`];
  const c = await docker.createContainer({
    name,
    Image: image,
    Env: [`POSTGRES_PASSWORD=${randomBytes(12).toString("hex")}`, `POSTGRES_USER=${db.user}`, `POSTGRES_DB=${db.database}`, ...pgbackrestEnv({ prefix: name, dbUser: db.user, wal })],
    Cmd: archivingCommand(wal),
    HostConfig: { Binds: [`${volumes[0]}:${PGDATA}`, `${volumes[1]}:${WAL_REPO_PATH}`] },
  });
  const exec = async (argv: string[], user = WAL_OS_USER) => {
    const r = await execInContainer(docker, name, argv, { user });
    if (r.exitCode !== 0) throw new Error(`${argv.join(" ")} in ${name}: exit ${r.exitCode}: ${(r.stderr || r.stdout).trim().slice(-500)}`);
    return r.stdout.trim();
  };
  const sql = (statement: string) => exec(["psql", "-U", db.user, "-d", db.database, "-Atc", statement]);
  const promoted = async () => {
    for (const deadline = Date.now() + 10 * 60_000; Date.now() < deadline; ) {
      if ((await sql("SELECT pg_is_in_recovery()").catch(() => "")) === "f") return;
      await new Promise((r) => setTimeout(r, 250));
    }
    throw new Error(`${name} not out of recovery within 10 min`);
  };
  try {
    await c.start();
    await promoted();
    // the entrypoint's initdb server first, then the real one: wait for the one that archives
    for (const deadline = Date.now() + 120_000; (await sql("SHOW archive_mode").catch(() => "")) !== "on"; ) {
      if (Date.now() > deadline) throw new Error(`${name} does not archive`);
      await new Promise((r) => setTimeout(r, 250));
    }
    console.error(`pitr: filling ~${sizeMb} MB into ${name} …`);
    await fill({ sql }, sizeMb);
    await exec(pgbackrest(["stanza-create"]));
    const out = { baseSlipway: [] as number[], baseBare: [] as number[], restoreSlipway: [] as number[], restoreBare: [] as number[] };
    for (let i = 0; i < runs; i++) {
      console.error(`run ${i + 1}/${runs}: base backup, the deploy step's (full: ${i === 0 ? "the repository is new" : "--type=full"})`);
      out.baseSlipway.push((await time(() => exec(pgbackrest(i === 0 ? BASE_BACKUP_ARGS : ["backup", "--type=full"])))).seconds);
      console.error(`run ${i + 1}/${runs}: bare pgbackrest backup --type=full`);
      out.baseBare.push((await time(() => exec(pgbackrest(["backup", "--type=full"])))).seconds);
      await sql(`INSERT INTO items (name) VALUES ('pitr-${i}')`);
      console.error(`run ${i + 1}/${runs}: slipway restore --to-latest (pointInTimeRestore, no edge, no migrations)`);
      out.restoreSlipway.push((await time(() => pointInTimeRestore({ prefix: name, dbContainer: name, target: { kind: "latest" }, production: false, yes: true, docker, maintenance: false, migrate: false }))).seconds);
      console.error(`run ${i + 1}/${runs}: bare: pgbackrest check, docker stop, pgbackrest restore in a one-off container, docker start, promoted`);
      out.restoreBare.push((await time(async () => {
        await exec(pgbackrest(["check"]));
        await c.stop({ t: 30 });
        const one = await docker.createContainer({ Image: image, User: WAL_OS_USER, Cmd: pgbackrest(restoreArgs({ kind: "latest" })), Env: pgbackrestEnv({ prefix: name, dbUser: db.user, wal }), HostConfig: { Binds: [`${volumes[0]}:${PGDATA}`, `${volumes[1]}:${WAL_REPO_PATH}`], NetworkMode: "none" } });
        try {
          await one.start();
          const exit = (await one.wait()) as { StatusCode: number };
          if (exit.StatusCode !== 0) throw new Error(`bare pgbackrest restore exited ${exit.StatusCode}`);
        } finally {
          await one.remove({ force: true }).catch(() => undefined);
        }
        await c.start();
        await promoted();
      })).seconds);
      if ((await sql(`SELECT count(*) FROM items WHERE name = 'pitr-${i}'`)) !== "1") throw new Error(`the row written before restore ${i + 1} is not there after it`);
    }
    return out;
  } finally {
    await c.remove({ force: true }).catch(() => undefined);
    for (const v of volumes) await docker.getVolume(v).remove().catch(() => undefined);
  }
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

    // Unverified (staging's default) and verified by a restore (production's): each backed up, then restored, then
    // the bare tools on the same data. A restore's own work (its checks, the replace, what follows) is what compares
    // with a bare pg_restore; the safety dump it takes first is a whole pg_dump of the data it replaces, set beside a
    // bare pg_dump.
    const results: Record<string, Timing[]> = { slipwayBackup: [], verifiedBackup: [], bareDump: [], bareDumpSame: [], slipwayRestore: [], verifiedRestore: [], bareRestore: [], bareRestoreSame: [] };
    const phases: Record<"unverified" | "verified", RestoreResult["seconds"][]> = { unverified: [], verified: [] };
    for (let i = 0; i < runs; i++) {
      const dir = path.join(work, `run${i}`);
      console.error(`run ${i + 1}/${runs}: slipway backup`);
      const b = await time(() => backup({ prefix: "bench", dbContainer: pg.name, dir, keep: 2, imageTag: `run${i}` }));
      results.slipwayBackup.push({ seconds: b.seconds, bytes: b.value.bytes });
      await new Promise((r) => setTimeout(r, 1100)); // a second name: backups are named by the second
      console.error(`run ${i + 1}/${runs}: slipway backup, verified by a restore into a throwaway PostgreSQL`);
      const v = await time(() => backup({ prefix: "bench", dbContainer: pg.name, dir, keep: 2, imageTag: `run${i}v`, verify: true }));
      results.verifiedBackup.push({ seconds: v.seconds, bytes: v.value.bytes });

      console.error(`run ${i + 1}/${runs}: bare pg_dump -Fc`);
      const bare = path.join(work, `bare${i}.dump`);
      const d = await time(() => run(dockerExec(pg.name, BARE_DUMP(pg.db)), { stdoutFile: bare }));
      results.bareDump.push({ seconds: d.seconds, bytes: (await fs.stat(bare)).size });
      console.error(`run ${i + 1}/${runs}: bare pg_dump -Fc --compress=${DUMP_COMPRESSION} (slipway's compression)`);
      const bareSame = path.join(work, `bare${i}-same.dump`);
      const ds = await time(() => run(dockerExec(pg.name, pgDump(pg.db)), { stdoutFile: bareSame }));
      results.bareDumpSame.push({ seconds: ds.seconds, bytes: (await fs.stat(bareSame)).size });

      console.error(`run ${i + 1}/${runs}: slipway restore of the unverified dump`);
      const r = await time(() => restore({ prefix: "bench", dbContainer: pg.name, production: false, file: b.value.file, yes: true }));
      results.slipwayRestore.push({ seconds: r.seconds });
      phases.unverified.push(r.value.seconds);
      console.error(`run ${i + 1}/${runs}: slipway restore of the verified dump`);
      const rv = await time(() => restore({ prefix: "bench", dbContainer: pg.name, production: false, file: v.value.file, yes: true }));
      results.verifiedRestore.push({ seconds: rv.seconds });
      phases.verified.push(rv.value.seconds);

      console.error(`run ${i + 1}/${runs}: bare pg_restore --single-transaction --clean`);
      const br = await time(() => run(dockerExec(pg.name, BARE_RESTORE(pg.db), { stdin: true }), { stdinFile: bare }));
      results.bareRestore.push({ seconds: br.seconds });
      console.error(`run ${i + 1}/${runs}: bare pg_restore --single-transaction --clean of the --compress=${DUMP_COMPRESSION} dump`);
      const brs = await time(() => run(dockerExec(pg.name, BARE_RESTORE(pg.db), { stdin: true }), { stdinFile: bareSame }));
      results.bareRestoreSame.push({ seconds: brs.seconds });
      await fs.rm(dir, { recursive: true, force: true });
      await fs.rm(bare, { force: true });
      await fs.rm(bareSame, { force: true });
    }
    if (Number(await pg.sql("SELECT count(*) FROM items")) !== rows) throw new Error("row count changed across restores");
    // Its own database, started after the dump rows (never beside them on the same 2 cores).
    const pitr = await pitrRows(sizeMb, runs).catch((e: Error) => ({ skipped: `failed: ${e.message}` }));

    const s = (k: string) => median(results[k].map((t) => t.seconds));
    const own = (p: RestoreResult["seconds"]) => p.checks + p.replace + p.rest;
    const phase = (kind: "unverified" | "verified") => ({
      checks: median(phases[kind].map((p) => p.checks)),
      safetyDump: median(phases[kind].map((p) => p.safetyDump)),
      replace: median(phases[kind].map((p) => p.replace)),
      rest: median(phases[kind].map((p) => p.rest)),
      ownSeconds: median(phases[kind].map(own)),
    });
    const summary = {
      backup: { slipwaySeconds: s("slipwayBackup"), bareSeconds: s("bareDump"), ratio: s("slipwayBackup") / s("bareDump") },
      verifiedBackup: { slipwaySeconds: s("verifiedBackup"), bareSeconds: s("bareDump"), ratio: s("verifiedBackup") / s("bareDump") },
      restore: { slipwaySeconds: s("slipwayRestore"), bareSeconds: s("bareRestore"), bareSameSeconds: s("bareRestoreSame"), ...phase("unverified") },
      verifiedRestore: { slipwaySeconds: s("verifiedRestore"), bareSeconds: s("bareRestore"), bareSameSeconds: s("bareRestoreSame"), ...phase("verified") },
      compression: { slipway: DUMP_COMPRESSION, bareDumpSeconds: s("bareDumpSame"), bareDumpBytes: results.bareDumpSame[0]?.bytes, gzipBytes: results.bareDump[0]?.bytes },
    };
    const dumpMb = (results.slipwayBackup[0].bytes ?? 0) / 2 ** 20;
    const f = (x: number) => `${x.toFixed(2)} s`;
    const ratio = (a: number, b: number) => (a / b).toFixed(2);
    console.log(`database ${(dbBytes / 2 ** 20).toFixed(0)} MB (${rows} rows), dump ${dumpMb.toFixed(0)} MB, median of ${runs} run(s), load average ${os.loadavg()[0]!.toFixed(2)}`);
    const gzipMb = (results.bareDump[0]?.bytes ?? 0) / 2 ** 20;
    console.log(`backup                  slipway ${f(summary.backup.slipwaySeconds)}   bare pg_dump -Fc ${f(summary.backup.bareSeconds)} (gzip, ${gzipMb.toFixed(0)} MB)   ratio ${ratio(summary.backup.slipwaySeconds, summary.backup.bareSeconds)}`);
    console.log(`                        bare with slipway's argv (pg_dump -Fc --compress=${DUMP_COMPRESSION}) ${f(summary.compression.bareDumpSeconds)}: slipway's own cost (checksum, read back by pg_restore, fsync) ratio ${ratio(summary.backup.slipwaySeconds, summary.compression.bareDumpSeconds)}`);
    console.log(`backup, verified        slipway ${f(summary.verifiedBackup.slipwaySeconds)}   (the dump, then a restore into a throwaway PostgreSQL and every table counted)`);
    for (const [label, r] of [["restore (unverified)", summary.restore], ["restore (verified)  ", summary.verifiedRestore]] as const) {
      console.log(
        `${label}    slipway ${f(r.slipwaySeconds)} = checks ${f(r.checks)} + safety dump ${f(r.safetyDump)} + replace ${f(r.replace)} + the rest ${f(r.rest)}   bare pg_restore ${f(r.bareSeconds)}\n` +
          `                        its own work (all but the safety dump) ${f(r.ownSeconds)}: ratio ${ratio(r.ownSeconds, r.bareSeconds)} (bare pg_restore of the --compress=${DUMP_COMPRESSION} dump ${f(r.bareSameSeconds)}: ratio ${ratio(r.ownSeconds, r.bareSameSeconds)}); the safety dump beside bare pg_dump: ratio ${ratio(r.safetyDump, summary.backup.bareSeconds)}`,
      );
    }

    if ("skipped" in pitr) console.log(`base backup / PITR    not measured: ${pitr.skipped}`);
    else {
      const m = (xs: number[]) => median(xs)!;
      console.log(`base backup (backup.wal)  slipway's deploy step ${f(m(pitr.baseSlipway))}   bare pgbackrest backup --type=full ${f(m(pitr.baseBare))}   ratio ${ratio(m(pitr.baseSlipway), m(pitr.baseBare))}`);
      console.log(`PITR restore --to-latest  slipway ${f(m(pitr.restoreSlipway))}   bare (pgbackrest check, stop, pgbackrest restore --delta, start, promoted) ${f(m(pitr.restoreBare))}   ratio ${ratio(m(pitr.restoreSlipway), m(pitr.restoreBare))}`);
    }
    const out = path.join(__dirname, "results", `backup-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
    await fs.mkdir(path.dirname(out), { recursive: true });
    const host = { cpus: os.cpus().length, memoryMb: Math.round(os.totalmem() / 2 ** 20), node: process.version, docker: execFileSync("docker", ["version", "-f", "{{.Server.Version}}"], { encoding: "utf8" }).trim() };
    await fs.writeFile(out, JSON.stringify({ at: new Date().toISOString(), sizeMbRequested: sizeMb, dbBytes, rows, runs, host, summary, results, pitr }, null, 2) + "\n");
    console.log(`wrote ${path.relative(process.cwd(), out)}`);
  } finally {
    await pg.stop();
    await fs.rm(work, { recursive: true, force: true });
  }
});
