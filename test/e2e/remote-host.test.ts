// A stack on a remote Docker host, reached over SSH: a second dockerd and an sshd in their own network namespace on
// this machine (test/support/remote-host.ts), the slipway images loaded into it, and the real program with
// `dockerHost: ssh://root@<address>:<port>` — the Pulumi docker provider, the rollout engine and the edge (slipway's
// own SSH client, host key checked against known_hosts), the backup and migrate steps (DOCKER_HOST) all go over SSH.
// `pulumi up`, a rolling update under load through the edge published on the remote engine with zero failed
// requests, a backup whose dump lands here (the pre-deploy step, then the verb with the stack's dockerHost), a
// restore, `pulumi destroy` leaving no container or network behind; an unknown or changed host key is refused, and
// the same engine on tcp://…:2376 is reached with TLS (DOCKER_TLS_VERIFY / DOCKER_CERT_PATH) by slipway's client.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectDocker, HostKeyError, processConnectEnv } from "../../src/docker/connect";
import { execText } from "../../src/docker";
import { testImages } from "../support/docker-images";
import { deriveApiImage } from "../support/derived-images";
import { countRows, startLoad } from "../support/load";
import { projectStack, smallStackConfig } from "../support/project-stack";
import { engineAvailable, engineEnv, repoRoot } from "../support/pulumi";
import { missingCommand, missingDockerd, missingPulumi, missingRoot, skipUnless } from "../support/prerequisites";
import { startRemoteHost } from "../support/remote-host";


test("a stack on a remote Docker host over SSH: up, a rolling update under load, backup, restore, destroy", { timeout: 40 * 60_000, skip: skipUnless([missingRoot("start a dockerd and sshd of its own"), missingDockerd(), missingCommand("/usr/sbin/sshd", ["-V"], "apt-get install openssh-server"), missingPulumi()]) }, async (t) => {
  assert.ok(engineAvailable(), "the Pulumi toolchain is missing: run `bash tools/toolchain.sh` first");
  const images = await testImages();
  const remote = await startRemoteHost();
  t.after(() => remote.stop());
  const started = Date.now();
  remote.loadImages([images.api, images.edge, images.postgres]);
  console.log(`images loaded into the remote engine in ${((Date.now() - started) / 1000).toFixed(1)} s`);

  // An unknown host key is refused before anything is sent; a changed one at the handshake. Both say how to fix it.
  const bare = mkdtempSync(join(tmpdir(), "slipway-rh-nokeys-"));
  t.after(() => rmSync(bare, { recursive: true, force: true }));
  const base = processConnectEnv();
  const clientKey = join(remote.home, ".ssh", "id_ed25519");
  assert.throws(
    () => connectDocker(remote.dockerHost, { ...base, home: bare, env: { SLIPWAY_SSH_KEY: clientKey } }),
    (e: Error) => e instanceof HostKeyError && e.message.includes(`ssh://${remote.address}:${remote.sshPort} refused: its host key is not in ${bare}/.ssh/known_hosts`) && e.message.includes(`ssh-keyscan -p ${remote.sshPort} ${remote.address} >> ~/.ssh/known_hosts`),
  );
  const wrongKnownHosts = join(bare, "known_hosts");
  writeFileSync(wrongKnownHosts, `[${remote.address}]:${remote.sshPort} ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI${"A".repeat(43)}\n`);
  await assert.rejects(
    connectDocker(remote.dockerHost, { ...base, home: bare, env: { SLIPWAY_SSH_KEY: clientKey, SLIPWAY_SSH_KNOWN_HOSTS: wrongKnownHosts } }).ping(),
    (e: Error) => e instanceof HostKeyError && /HOST KEY CHANGED/.test(e.message),
  );
  // With the right known_hosts (the test HOME), slipway's client reaches the remote engine, not the local one.
  const viaSsh = connectDocker(remote.dockerHost, { ...base, home: remote.home, env: {} });
  const info = (await viaSsh.info()) as { DockerRootDir: string };
  assert.ok(info.DockerRootDir.startsWith("/tmp/slipway-rh-"), `over SSH: the remote engine (${info.DockerRootDir})`);

  // tcp://…:2376: the same engine over TLS with DOCKER_TLS_VERIFY / DOCKER_CERT_PATH; never plain HTTP on the TLS
  // port, and the engine turns away a client without its certificate.
  const viaTls = connectDocker(remote.tlsHost, { ...base, env: { DOCKER_TLS_VERIFY: "1", DOCKER_CERT_PATH: remote.certDir } });
  assert.equal(((await viaTls.info()) as { DockerRootDir: string }).DockerRootDir, info.DockerRootDir, "over TLS: the remote engine");
  assert.throws(() => connectDocker(remote.tlsHost, { ...base, home: bare, env: {} }), /port 2376 is Docker's TLS port/);
  const caOnly = join(bare, "ca-only");
  mkdirSync(caOnly);
  copyFileSync(join(remote.certDir, "ca.pem"), join(caOnly, "ca.pem"));
  await assert.rejects(connectDocker(remote.tlsHost, { ...base, env: { DOCKER_TLS_VERIFY: "1", DOCKER_CERT_PATH: caOnly } }).ping(), "no client certificate: refused");

  const name = `rh${randomBytes(3).toString("hex")}`;
  const backupDir = mkdtempSync(join(tmpdir(), `slipway-${name}-backups-`));
  t.after(() => rmSync(backupDir, { recursive: true, force: true }));
  const port = 18080;
  const config = smallStackConfig({ images: { api: images.api, edge: images.edge, postgres: images.postgres }, port, replicas: 2 });
  const engineBase = engineEnv("/nonexistent");
  const env = remote.env(engineBase.PATH);
  const ps = await projectStack(name, {
    ...config,
    dockerHost: remote.dockerHost,
    edge: { ...(config.edge as object), bindAddress: remote.address },
    backup: { enabled: true, dir: backupDir, keep: 3 },
  }, env);
  const log = (s: string) => process.stderr.write(s);
  let destroyed = false;
  t.after(async () => {
    if (!destroyed) await ps.stack.destroy({ color: "never" }).catch((e: Error) => log(`destroy: ${e.message}\n`));
    await ps.cleanup();
  });
  const up = async (message: string) => {
    const r = await ps.stack.up({ message, onOutput: log, color: "never" });
    assert.equal(r.summary.result, "succeeded");
  };

  const t0 = Date.now();
  await up("initial");
  console.log(`pulumi up over SSH: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const outputs = await ps.stack.outputs();
  const url = outputs.edgeUrl?.value as string;
  assert.equal(url, `http://${remote.address}:${port}`, "edgeUrl carries the remote host's address");
  const dbContainer = outputs.dbContainer?.value as string;
  const onRemote = await remote.docker.listContainers({ filters: { label: [`slipway.stack=${ps.prefix}`] } });
  assert.ok(onRemote.length >= 4, `db, edge holder, HAProxy and 2 replicas run on the remote engine: ${onRemote.map((c) => c.Names[0]).join(", ")}`);
  const local = await connectDocker(undefined, { ...base, env: {} }).listContainers({ all: true, filters: { label: [`slipway.stack=${ps.prefix}`] } });
  assert.deepEqual(local, [], "nothing of the stack on the local engine");
  const health = (await (await fetch(`${url}/health`)).json()) as { status: string };
  assert.equal(health.status, "ok");
  const dumpsAfterUp = readdirSync(backupDir).filter((f) => f.endsWith(".dump"));
  assert.equal(dumpsAfterUp.length, 1, `the pre-deploy backup step dumped the remote database here: ${readdirSync(backupDir).join(", ")}`);

  // A rolling update under load through the edge on the remote engine.
  const v2 = `${images.api}-${name}-v2`;
  deriveApiImage({ from: images.api, ref: v2, version: "v2" });
  t.after(() => void spawnSync("docker", ["rmi", "-f", v2]));
  remote.loadImages([v2]);
  const sql = async (q: string) => (await execText(remote.docker, dbContainer, ["psql", "-U", "app", "-d", "app", "-Atc", q], undefined, 30_000)).trim();
  const load = startLoad({ url, allowHost: remote.address, connections: 30, maxSeconds: 900, mix: "items", postShare: 0.5, slowShare: 0.1, slowMs: 1000, fastMs: 100 });
  await new Promise((r) => setTimeout(r, 3000));
  const t1 = Date.now();
  await ps.stack.setConfig("slipway:images.api", { value: v2 }, true);
  await up(`promote ${v2}`);
  const deployS = (Date.now() - t1) / 1000;
  await new Promise((r) => setTimeout(r, 3000));
  const report = await load.stop();
  const rows = await countRows(report, load.idPrefix, sql);
  console.log(`rolling update over SSH under load: ${report.requests} requests, ${report.failed} failed (non-2xx ${JSON.stringify(report.non2xx)}, errors ${JSON.stringify(report.errors)}), rows ${rows.rows} for ${rows.postsOk} 2xx POSTs (lost ${rows.lost}, twice ${rows.rowsTwice}), p50 ${report.latencyP50Ms} ms, p99 ${report.latencyP99Ms} ms, deploy ${deployS.toFixed(1)} s`);
  assert.ok(report.requests > 100, "the load ran");
  assert.equal(report.failed, 0, "no failed request");
  assert.deepEqual(report.errors, {});
  assert.ok(rows.postsOk > 0);
  assert.equal(rows.lost, 0);
  assert.equal(rows.rowsTwice, 0);
  assert.equal(((await (await fetch(`${url}/health`)).json()) as { version: string }).version, "v2");
  assert.equal(readdirSync(backupDir).filter((f) => f.endsWith(".dump")).length, 2, "a backup before the new image");

  // The backup and restore verbs on the stack: its dockerHost, over SSH, the dump written on this machine.
  const verbEnv = { ...process.env, ...engineEnv(ps.backendDir, env), SLIPWAY_PROJECT_DIR: ps.workDir };
  const verb = (name: string, args: string[]) => spawnSync(process.execPath, ["--import", "tsx", `src/cli/${name}.ts`, ...args], { cwd: repoRoot, env: verbEnv, encoding: "utf8", timeout: 5 * 60_000 });
  await sql("INSERT INTO items (name) VALUES ('before-verb-backup')");
  const verbDir = join(backupDir, "verb");
  const b = verb("backup", ["--stack", ps.stackName, "--dir", verbDir]);
  console.log(`backup verb: status ${b.status}\n${b.stdout}${b.stderr}`);
  assert.equal(b.status, 0, `backup verb: ${b.stderr}`);
  const dump = readdirSync(verbDir).find((f) => f.endsWith(".dump"));
  assert.ok(dump, "the verb's dump is on this machine");
  await sql("INSERT INTO items (name) VALUES ('after-verb-backup')");
  const r = verb("restore", ["--stack", ps.stackName, "--file", join(verbDir, dump), "--yes"]);
  console.log(`restore verb: status ${r.status}\n${r.stdout}${r.stderr}`);
  assert.equal(r.status, 0, `restore verb: ${r.stderr}`);
  assert.equal(await sql("SELECT count(*) FROM items WHERE name = 'after-verb-backup'"), "0", "restored to the dump");
  assert.equal(await sql("SELECT count(*) FROM items WHERE name = 'before-verb-backup'"), "1");

  // Destroy leaves nothing of the stack on the remote engine.
  await ps.stack.destroy({ color: "never", onOutput: log });
  destroyed = true;
  const left = await remote.docker.listContainers({ all: true, filters: { label: [`slipway.stack=${ps.prefix}`] } });
  assert.deepEqual(left.map((c) => c.Names[0]), [], "no container left");
  const nets = (await remote.docker.listNetworks()).filter((n) => n.Name.startsWith(ps.prefix));
  assert.deepEqual(nets.map((n) => n.Name), [], "no network left");
  const vols = ((await remote.docker.listVolumes()).Volumes ?? []).filter((v) => v.Name.startsWith(ps.prefix)).map((v) => v.Name);
  console.log(`volumes of the stack left after destroy (kept by design, as locally): ${JSON.stringify(vols)}`);
});
