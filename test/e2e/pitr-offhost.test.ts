// The host is gone, disks and all: backup.wal.offHost on a production-shaped stack (`pulumi up` of the real program,
// real PostgreSQL with pgBackRest, a real sshd the test starts on this machine's Docker bridge address). Deployed, the
// database pushes its WAL and takes its base backups into both repositories — its volume and the SFTP server (checked
// on the server's disk and with `pgbackrest info --repo=2`); the private key is a file in the container, in no `docker
// inspect` and not in the state in plain text; the preview is empty. Rows are written through the edge, archived
// (`pgbackrest check`), then the database container, its data volume AND its WAL repository volume are destroyed:
// `npm run restore -- --to-latest --yes` restores from the off-host repository alone and Pulumi creates the container
// again — every acknowledged, archived row is back, the API writes again, both repositories archive again, and the
// preview is empty.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { execInContainer } from "../../src/docker";
import { walRepoVolume, walEgressNetwork } from "../../src/backup/wal";
import { productionShape } from "../support/deploy-scenario";
import { writeContinuously } from "../support/load";
import { pulumiCli } from "../support/pulumi";
import { restoreScenario } from "../support/restore-scenario";
import { sftpMissing, startSftpServer } from "../support/sftp";

/** Where containers reach this machine (docker0's address): the SFTP server listens there. */
const BRIDGE_ADDRESS = process.env.SLIPWAY_TEST_BRIDGE_ADDRESS ?? "172.17.0.1";
const ARCHIVE_TIMEOUT_S = 10;
/** Budget for the whole restore verb on a loaded 2-core machine. */
const RESTORE_BUDGET_MS = Number(process.env.PITR_RESTORE_BUDGET_MS ?? 5 * 60_000);

test("backup.wal.offHost: WAL and base backups on an SFTP server too; the host's disks lost, restore --to-latest from it alone brings back every archived row", { skip: sftpMissing(), timeout: 30 * 60_000 }, async (t) => {
  const sftp = await startSftpServer("slipwaywal", BRIDGE_ADDRESS);
  t.after(() => sftp.stop());
  const repoPath = join(sftp.root, "pgbackrest");
  mkdirSync(repoPath);
  const uploads = (name: string) => `slipway-${name}-uploads`;
  const { name, ps, docker, restore, sqlIn } = await restoreScenario(t, "pitroff", {
    config: ({ name, images, port, dir }) => {
      const c = productionShape({ images: { api: images.api, edge: images.edge, postgres: images.postgresWal }, port, backupDir: dir, volume: uploads(name) });
      const offHost = { host: sftp.address, port: sftp.port, user: sftp.user, path: repoPath, hostKey: sftp.hostKey };
      return { ...c, backup: { ...(c.backup as object), wal: { enabled: true, archiveTimeoutSeconds: ARCHIVE_TIMEOUT_S, offHost } } };
    },
    volumes: (name) => [uploads(name)],
  });
  const log = (s: string) => process.stderr.write(s);
  const up = async (message: string) => {
    const r = await ps.stack.up({ message, onOutput: log, color: "never" });
    assert.equal(r.summary.result, "succeeded");
    return r;
  };
  const previewEmpty = async () => {
    try {
      await ps.stack.preview({ expectNoChanges: true, color: "never" });
      return "";
    } catch (e) {
      return (e as Error).message.slice(-2000);
    }
  };
  const started = Date.now();

  // Without the key the program refuses, naming it, before anything is created.
  const refused = await ps.stack.preview({ color: "never" }).then(() => "", (e: Error) => e.message);
  assert.match(refused, /slipway:backup\.wal\.offHost needs slipway:walSftpKey.*pulumi config set --secret walSftpKey < id_ed25519/);
  await ps.stack.setConfig("slipway:walSftpKey", { value: sftp.clientKey, secret: true });

  const first = await up("wal with an off-host repository");
  const url = first.outputs.edgeUrl!.value as string;
  const dbContainer = first.outputs.dbContainer!.value as string;
  const sql = sqlIn(dbContainer);
  const pgbackrest = async (...args: string[]) => {
    const r = await execInContainer(docker, dbContainer, ["pgbackrest", ...args], { user: "postgres" });
    assert.equal(r.exitCode, 0, `pgbackrest ${args.join(" ")}: ${r.stderr || r.stdout}`);
    return r.stdout;
  };
  const offHostBackups = async () => (JSON.parse(await pgbackrest("info", "--repo=2", "--output=json")) as Array<{ backup?: unknown[] }>)[0]?.backup?.length ?? 0;
  assert.ok((await offHostBackups()) >= 1, "a base backup in the off-host repository");
  const stanzaDir = (kind: string) => join(repoPath, kind, ps.prefix);
  assert.ok(existsSync(join(stanzaDir("backup"), "backup.info")), "the off-host repository is on the server's disk");
  const info = await docker.getContainer(dbContainer).inspect();
  assert.ok(Object.keys(info.NetworkSettings.Networks ?? {}).includes(walEgressNetwork(ps.prefix)), "the database is on its egress network");
  const keyLine = sftp.clientKey.trim().split("\n")[1]!;
  assert.ok(!JSON.stringify(info).includes(keyLine), "the private key is in no docker inspect");
  assert.ok(!(await pulumiCli(ps, ["stack", "export"])).includes(keyLine), "nor in the state in plain text");
  assert.equal(await previewEmpty(), "", "preview after the first up is empty");

  // Rows through the edge, then archived: what a host loss cannot take any more.
  const writer = writeContinuously(url, `${name}w`, 4);
  t.after(() => writer.stop());
  await new Promise((r) => setTimeout(r, 8000));
  const writes = await writer.stop();
  await pgbackrest("check"); // switches the segment and waits until it is in every repository
  const acked = writes.filter((w) => w.ackAt !== undefined);
  assert.ok(acked.length > 20, `rows were written (${acked.length})`);
  const segments = readdirSync(stanzaDir("archive"), { recursive: true }).filter((f) => /^[0-9A-F]{24}-/.test(String(f).split("/").pop()!));
  console.log(`off-host: ${await offHostBackups()} base backup(s), ${segments.length} WAL segment(s) on the SFTP server; ${acked.length} rows acknowledged`);

  // The host's disks are gone: the container, its data volume and its local WAL repository.
  await docker.getContainer(dbContainer).remove({ force: true });
  await docker.getVolume(`${ps.prefix}-pgdata`).remove();
  await docker.getVolume(walRepoVolume(ps.prefix)).remove();
  const restoreStart = Date.now();
  const r = await restore(["--to-latest", "--yes"], RESTORE_BUDGET_MS);
  const restoreS = (Date.now() - restoreStart) / 1000;
  log(r.stderr);
  assert.equal(r.code, 0, r.stderr);
  for (const step of [/and so is its WAL repository volume '.*-pgwal': restoring its data volume from the off-host repository/, /WAL repository volume '.*-pgwal' created again \(empty\)/, /pgbackrest restore --delta --type=default --repo=2 into volume/, /pulumi up --refresh/, /out of recovery and accepting writes/, /maintenance: turned OFF/]) {
    assert.match(r.stderr, step);
  }
  const present = new Set((await sql(`SELECT name FROM items WHERE name LIKE '${name}w-%'`)).split("\n").filter(Boolean));
  const lost = acked.filter((w) => !present.has(w.name));
  console.log(`off-host restore --to-latest: ${restoreS.toFixed(1)} s; ${acked.length - lost.length} of ${acked.length} acknowledged rows back`);
  assert.deepEqual(lost.map((w) => w.name), [], "every row acknowledged and archived before the loss is back");
  assert.equal((await fetch(`${url}/items`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "after-offhost-restore" }) })).status, 201);
  // Both repositories archive again (the deploy step of the refresh created the local stanza again and backed up into it).
  await pgbackrest("check");
  const local = JSON.parse(await pgbackrest("info", "--repo=1", "--output=json")) as Array<{ backup?: unknown[] }>;
  assert.ok((local[0]?.backup?.length ?? 0) >= 1, "a base backup in the local repository again");
  assert.equal(await previewEmpty(), "", "preview after the restore is empty");
  console.log(`off-host scenario ${((Date.now() - started) / 1000).toFixed(0)} s`);
});
