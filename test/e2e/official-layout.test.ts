// The official layout: the CLI, language host and plugins where the official installer and
// `pulumi plugin install` put them (~/.pulumi/bin, ~/.pulumi/plugins), no .slipway path on PATH,
// PULUMI_HOME unset, HOME a fresh directory. Built here from our toolchain's binaries, then
// official-layout.scenario.ts runs in that environment: the promote verb opens and deploys a small
// staging-shaped stack, the preview right after is empty, and a plain `pulumi up` from a fresh copy of
// the stack file promote wrote changes nothing (README: "Where a stack's image lives").
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import { ensureImages } from "../support/docker-images";
import { engineAvailable, pulumiBinary, pulumiHome, repoRoot } from "../support/pulumi";

// The official CLI finds `~` from the passwd entry of its uid (Go's os/user), not from $HOME; so the layout
// belongs to a user with no passwd entry (then $HOME and $USER count), in the docker group for the engine.
const UID = 4242;

/**
 * A copy of the checkout that user can read, in `home` (theirs): the clone may sit in a private (0700) directory
 * that only its owner can enter (`EACCES … stat test/e2e/official-layout.scenario.ts`). The working tree's files
 * (tracked and untracked, not ignored) are copied and handed to the user; node_modules is hard-linked (copied when
 * hard links cannot cross file systems) — its files are world-readable, and linking leaves their owner alone.
 */
function readableCheckout(home: string, owner: { uid: number; gid: number }): string {
  const dir = join(home, "checkout");
  mkdirSync(dir);
  const files = execFileSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], { cwd: repoRoot, encoding: "utf8" })
    .split("\0")
    // node_modules and .slipway may be symlinks (a worktree's), which the ignore rules' `dir/` patterns do not match;
    // a .slipway in the copy would make the verbs choose our toolchain instead of the official layout.
    .filter((f) => f && !/^(node_modules|\.slipway)(\/|$)/.test(f) && existsSync(join(repoRoot, f)));
  const list = join(home, "checkout-files");
  writeFileSync(list, files.join("\0"));
  execFileSync("tar", ["-C", repoRoot, "--null", "-T", list, "-cf", join(home, "checkout.tar")]);
  execFileSync("tar", ["-C", dir, "--no-same-owner", "-xf", join(home, "checkout.tar")]);
  rmSync(join(home, "checkout.tar"));
  rmSync(list);
  execFileSync("chown", ["-R", `${owner.uid}:${owner.gid}`, dir]);
  const modules = realpathSync(join(repoRoot, "node_modules"));
  try {
    execFileSync("cp", ["-al", modules, join(dir, "node_modules")], { stdio: "pipe" });
  } catch {
    rmSync(join(dir, "node_modules"), { recursive: true, force: true });
    execFileSync("cp", ["-a", modules, join(dir, "node_modules")]);
  }
  return dir;
}

test("official layout (~/.pulumi/bin, ~/.pulumi/plugins, no .slipway): promote, empty preview, plain up from a fresh copy changes nothing", { timeout: 1_200_000 }, async (t) => {
  assert.ok(engineAvailable(), "the Pulumi toolchain is missing: run `bash tools/toolchain.sh` first");
  assert.equal(process.getuid?.(), 0, "this test runs as root (it hands the layout to a user of its own)");
  const dockerGid = Number(execFileSync("getent", ["group", "docker"], { encoding: "utf8" }).split(":")[2]);
  assert.ok(Number.isInteger(dockerGid), "a docker group");
  const images = await ensureImages();
  const home = mkdtempSync(join(tmpdir(), "slipway-official-home-"));
  t.after(() => rmSync(home, { recursive: true, force: true }));

  // What the official installer lays down: the CLI and its bundled language host / dynamic-provider launcher.
  const bin = join(home, ".pulumi", "bin");
  mkdirSync(bin, { recursive: true });
  // From the engine in use: our toolchain's bin, or (SLIPWAY_TOOLCHAIN=official) the directory of the `pulumi` on PATH.
  const from = dirname(pulumiBinary()!);
  for (const f of readdirSync(from).filter((f) => f.startsWith("pulumi"))) copyFileSync(join(from, f), join(bin, f));
  for (const f of readdirSync(bin)) chmodSync(join(bin, f), 0o755);

  // Provider binaries to install (ours, at the npm packages' versions), where that user can read them.
  const plugins = readdirSync(join(pulumiHome, "plugins"), { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => /^resource-(.+)-v(\d+\.\d+\.\d+.*)$/.exec(d.name))
    .filter((m): m is RegExpExecArray => m !== null);
  assert.deepEqual(plugins.map((m) => m[1]).sort(), ["command", "docker", "random"], `plugins in ${pulumiHome}`);
  const downloads = join(home, "downloads");
  mkdirSync(downloads);
  for (const [dir, name] of plugins) copyFileSync(join(pulumiHome, "plugins", dir!, `pulumi-resource-${name}`), join(downloads, `pulumi-resource-${name}`));
  execFileSync("chown", ["-R", `${UID}:${dockerGid}`, home]);
  const checkout = readableCheckout(home, { uid: UID, gid: dockerGid });

  const env: Record<string, string> = {};
  // NODE_TEST_CONTEXT would make the child's node:test skip its file as a recursive run.
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !/^(PULUMI_|SLIPWAY_|NODE_TEST_CONTEXT$|DOCKER_CONFIG$)/.test(k)) env[k] = v;
  const path = (process.env.PATH ?? "").split(delimiter).filter((d) => d && !d.includes(".slipway"));
  Object.assign(env, { HOME: home, USER: "slipway-official", PATH: [bin, ...path].join(delimiter), PULUMI_SKIP_UPDATE_CHECK: "true", SLIPWAY_TOOLCHAIN: "official" });
  const asUser = { env, uid: UID, gid: dockerGid };

  // `pulumi plugin install` as that user puts them in ~/.pulumi/plugins.
  for (const [, name, version] of plugins) {
    execFileSync(join(bin, "pulumi"), ["plugin", "install", "resource", name!, version!, "--file", join(downloads, `pulumi-resource-${name}`)], { ...asUser, stdio: "pipe" });
  }
  const installed = readdirSync(join(home, ".pulumi", "plugins"), { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
  assert.deepEqual(installed.sort(), plugins.map(([dir]) => dir!).sort(), "the plugins landed in ~/.pulumi/plugins of that HOME");
  const listed = execFileSync(join(bin, "pulumi"), ["plugin", "ls"], { ...asUser, encoding: "utf8" });
  for (const [, name, version] of plugins) assert.match(listed, new RegExp(`${name}\\s+resource\\s+${version!.replace(/\./g, "\\.")}`));

  env.SLIPWAY_E2E_IMAGES = JSON.stringify({ api: images.api, edge: images.edge, postgres: images.postgres });
  const { code, out } = await new Promise<{ code: number | null; out: string }>((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", "--test", "--test-reporter=spec", "test/e2e/official-layout.scenario.ts"], { cwd: checkout, ...asUser, stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (b: Buffer) => {
      out += b.toString();
      process.stdout.write(b);
    });
    child.on("error", reject);
    child.on("exit", (code) => resolve({ code, out }));
  });
  assert.equal(code, 0, "official-layout.scenario.ts failed (its output is above)");
  assert.match(out, /ℹ pass 1\n/, "the scenario ran and passed");
});
