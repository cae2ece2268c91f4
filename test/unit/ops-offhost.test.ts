// Off-host copies, the pure parts: rclone's command lines and remote paths, and what --from points at.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { rcloneCopyTo, rcloneList } from "../../src/postgres/commands";
import { OpsError } from "../../src/postgres/errors";
import { redactCredentials, remoteFile, resolveFrom, splitRemote } from "../../src/backup/offhost";

const name = "slipway-production-20261122T030405Z-3f2a9c1.dump";

describe("off-host paths", () => {
  it("copies one file to an exact remote path, lists one remote directory", () => {
    assert.deepEqual(rcloneCopyTo("/b/x.dump", "sftp:backups/x.dump"), ["rclone", "copyto", "/b/x.dump", "sftp:backups/x.dump"]);
    assert.deepEqual(rcloneList("sftp:backups"), ["rclone", "lsf", "--files-only", "--max-depth", "1", "sftp:backups"]);
  });

  it("joins remote paths the way rclone reads them", () => {
    assert.equal(remoteFile("sftp:backups/slipway", name), `sftp:backups/slipway/${name}`);
    assert.equal(remoteFile("sftp:backups/slipway/", name), `sftp:backups/slipway/${name}`);
    assert.equal(remoteFile("s3:", name), `s3:${name}`);
    assert.equal(remoteFile("/mnt/offsite", name), `/mnt/offsite/${name}`);
  });

  it("splits a remote file into the directory to list and the name", () => {
    assert.deepEqual(splitRemote(`sftp:backups/slipway/${name}`), { dir: "sftp:backups/slipway", name });
    assert.deepEqual(splitRemote(`sftp:${name}`), { dir: "sftp:", name });
    assert.deepEqual(splitRemote(`sftp:/abs/${name}`), { dir: "sftp:/abs", name });
    assert.deepEqual(splitRemote(`/mnt/offsite/${name}`), { dir: "/mnt/offsite", name });
    assert.deepEqual(splitRemote(`:sftp,host=h:dir/${name}`), { dir: ":sftp,host=h:dir", name });
  });

  it("takes --from as a remote path, or as a name in the stack's copyTo", () => {
    assert.equal(resolveFrom(`sftp:b/${name}`, "other:x"), `sftp:b/${name}`);
    assert.equal(resolveFrom(`/mnt/${name}`, undefined), `/mnt/${name}`);
    assert.equal(resolveFrom(name, "sftp:backups/slipway"), `sftp:backups/slipway/${name}`);
    assert.throws(() => resolveFrom(name, undefined), (e: Error) => e instanceof OpsError && /no backup\.copyTo to look it up in; give the whole remote path/.test(e.message));
  });
});

describe("redactCredentials: no rclone message or log line echoes a credential", () => {
  it("masks credential parameters of connection strings, URL passwords and RCLONE_CONFIG_* secrets; keeps the rest", () => {
    const env = { RCLONE_CONFIG_OFFSITE_PASS: "obscured-Pa55", RCLONE_CONFIG_OFFSITE_USER: "backup", RCLONE_CONFIG_S3_SECRET_ACCESS_KEY: "AKIA-s3cr3t", HOME: "/root" };
    assert.equal(
      redactCredentials("rclone copyto x :sftp,host=h,user=backup,pass=abc123,key_file=/k:backups/x failed", env),
      "rclone copyto x :sftp,host=h,user=backup,pass=***,key_file=***:backups/x failed",
    );
    assert.equal(redactCredentials('remote,access_key_id=AK,secret_access_key="s e c":b', env), "remote,access_key_id=***,secret_access_key=***:b");
    assert.equal(redactCredentials("Failed to copy: couldn't connect https://backup:hunter2@dav.example/x", env), "Failed to copy: couldn't connect https://backup:***@dav.example/x");
    assert.equal(redactCredentials("auth failed for obscured-Pa55 and AKIA-s3cr3t as backup", env), "auth failed for *** and *** as backup", "config secrets masked, the user name is not a secret");
    assert.equal(redactCredentials("copied x.dump to sftp:backups/slipway/x.dump", env), "copied x.dump to sftp:backups/slipway/x.dump");
  });
});
