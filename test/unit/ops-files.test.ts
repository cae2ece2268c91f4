// The backup directory's privacy and the heartbeat on .partial files (the file system, no Docker).
import assert from "node:assert/strict";
import * as fs from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { OpsError } from "../../src/postgres/errors";
import { keepFresh, preparePrivateDir, writeAtomically } from "../../src/backup/files";

describe("backup files", () => {
  let root: string;
  before(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), "slipway-ops-files-"));
  });
  after(async () => {
    await fs.rm(root, { recursive: true, force: true });
  });

  it("creates a missing directory 0700 whatever the umask, refuses one open to others or not a directory", async () => {
    const old = process.umask(0);
    try {
      await preparePrivateDir(path.join(root, "a", "b"));
    } finally {
      process.umask(old);
    }
    assert.equal((await fs.stat(path.join(root, "a", "b"))).mode & 0o777, 0o700);
    for (const mode of [0o750, 0o701, 0o1777]) {
      const dir = path.join(root, `open-${mode.toString(8)}`);
      await fs.mkdir(dir);
      await fs.chmod(dir, mode);
      await assert.rejects(preparePrivateDir(dir), (e: Error) => e instanceof OpsError && e.kind === "unsafe-dir" && e.message.includes(`chmod 700 ${dir}`));
    }
    await fs.writeFile(path.join(root, "file"), "");
    await assert.rejects(preparePrivateDir(path.join(root, "file")), /is not a directory/);
  });

  it("writes small files atomically, 0600, even over a leftover with another mode", async () => {
    const file = path.join(root, "x.sha256");
    await fs.writeFile(`${file}.partial`, "leftover", { mode: 0o644 });
    await writeAtomically(file, "text\n", ".partial");
    assert.equal(await fs.readFile(file, "utf8"), "text\n");
    assert.equal((await fs.stat(file)).mode & 0o777, 0o600);
    await assert.rejects(fs.access(`${file}.partial`));
  });

  it("keeps touching a .partial until told to stop, skipping files that do not exist", async () => {
    const file = path.join(root, "s-20261122T010000Z-t.dump.partial");
    await fs.writeFile(file, "");
    const hourAgo = new Date(Date.now() - 3_600_000);
    await fs.utimes(file, hourAgo, hourAgo);
    const stop = keepFresh([file, path.join(root, "missing.partial")], 20);
    await new Promise((r) => setTimeout(r, 150));
    await stop();
    const touched = (await fs.stat(file)).mtimeMs;
    assert.ok(Date.now() - touched < 5_000, "touched within the last seconds");
    await fs.utimes(file, hourAgo, hourAgo);
    await new Promise((r) => setTimeout(r, 100));
    const later = (await fs.stat(file)).mtimeMs;
    assert.ok(Math.abs(later - hourAgo.getTime()) < 1000, `no longer touched once stopped (mtime ${later}, set to ${hourAgo.getTime()})`);
  });
});
