// Off-host copies with rclone: after a backup (and its proof, when verified) the dump, its verification
// record and — last, so its presence means the rest arrived — its checksum are copied to `copyTo`
// (`<remote>:<path>` of rclone's own configuration or RCLONE_CONFIG_<NAME>_* variables, or a local path
// such as a mounted disk). fetchBackup() brings one back into a local backup directory: each file to a
// `.partial` first, checked against the fetched checksum, then renamed into place, so restore() then
// treats it as any local backup (checksum, read-back, verification record). rclone runs on this machine
// with this process's environment; nothing is written to its configuration.
import { execFile } from "node:child_process";
import * as fs from "node:fs/promises";
import * as path from "node:path";
import { parseChecksumFile } from "./checksum";
import { rcloneCopyTo, rcloneList } from "../postgres/commands";
import { OpsError } from "../postgres/errors";
import { fsyncPath, keepFresh, preparePrivateDir, PRIVATE_FILE_MODE } from "./files";
import { sha256File } from "./hash";
import { CHECKSUM_SUFFIX, parseBackupFileName, PARTIAL_SUFFIX, VERIFIED_SUFFIX } from "./names";

/** `base` joined with a file name the way rclone reads it (`remote:` + name, `remote:dir` + `/` + name). */
export function remoteFile(base: string, name: string): string {
  const trimmed = base.replace(/\/+$/, "");
  return trimmed.endsWith(":") ? `${trimmed}${name}` : `${trimmed}/${name}`;
}

/** A remote file path split into the directory rclone lists and the file name. */
export function splitRemote(file: string): { dir: string; name: string } {
  const slash = file.lastIndexOf("/");
  const colon = file.indexOf(":");
  if (slash > colon) return { dir: file.slice(0, slash) || "/", name: file.slice(slash + 1) };
  return { dir: file.slice(0, colon + 1), name: file.slice(colon + 1) };
}

/**
 * Where `--from` points: a remote path (it has a ':' or a '/') is taken as is; a bare file name is looked
 * up in `copyTo` (the stack's backup.copyTo). Pure.
 */
export function resolveFrom(from: string, copyTo: string | undefined): string {
  if (from.includes(":") || from.includes("/")) return from;
  if (!copyTo) throw new OpsError("invalid-input", `--from ${from} is a file name, but there is no backup.copyTo to look it up in; give the whole remote path (e.g. sftp:backups/slipway/${from})`);
  return remoteFile(copyTo, from);
}

/** Names of parameters that hold a credential in an rclone connection string or config variable. */
const CREDENTIAL_KEY = /pass|secret|token|key|auth|credential|sas_url|sas|session/i;

/**
 * `text` with every credential rclone could echo masked as `***`: values of credential parameters in connection
 * strings (`:sftp,user=u,pass=…:path`, `remote,key=…:`), passwords in URLs (`https://u:…@host`), and the values of
 * this process's RCLONE_CONFIG_<NAME>_<PASS|KEY|TOKEN|SECRET…> variables wherever they appear. Pure. Every message
 * and log line of this module goes through it: rclone's own errors quote the remote they were given.
 */
export function redactCredentials(text: string, env: Readonly<Record<string, string | undefined>> = process.env): string {
  let out = text
    .replace(/([,{]\s*)([A-Za-z_][\w-]*)(\s*=\s*)("[^"]*"|'[^']*'|[^,:}\s]*)/g, (m, lead: string, key: string, eq: string) => (CREDENTIAL_KEY.test(key) ? `${lead}${key}${eq}***` : m))
    .replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^/\s:@]+:)[^@\s/]+@/gi, "$1***@");
  for (const [name, value] of Object.entries(env)) {
    if (value && value.length >= 4 && /^RCLONE_CONFIG_/.test(name) && CREDENTIAL_KEY.test(name.replace(/^RCLONE_CONFIG_[^_]+_/, ""))) out = out.split(value).join("***");
  }
  return out;
}

async function rclone(argv: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(argv[0], argv.slice(1), { maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      if (!err) return resolve(stdout);
      if ((err as NodeJS.ErrnoException).code === "ENOENT") {
        return reject(new OpsError("copy-failed", "rclone is not installed on this machine (Debian: apt-get install rclone; bash tools/toolchain.sh installs it)"));
      }
      const lines = stderr
        .split("\n")
        .filter((l) => l.trim() && !/NOTICE: Config file .* not found/.test(l))
        .slice(-6)
        .join("\n");
      reject(new OpsError("copy-failed", redactCredentials(`${argv.join(" ")} failed (exit ${String((err as { code?: unknown }).code)}): ${lines || err.message}`)));
    });
  });
}

/** Copies `file`, its record (if there is one) and its checksum (last) to `copyTo`; returns the remote paths. */
export async function copyOffHost(opts: { file: string; copyTo: string; log?: (line: string) => void }): Promise<string[]> {
  const log = opts.log ?? (() => undefined);
  const name = path.basename(opts.file);
  const files = [opts.file];
  const record = opts.file + VERIFIED_SUFFIX;
  if (await fs.access(record).then(() => true, () => false)) files.push(record);
  files.push(opts.file + CHECKSUM_SUFFIX);
  const copied: string[] = [];
  for (const local of files) {
    const remote = remoteFile(opts.copyTo, path.basename(local));
    try {
      await rclone(rcloneCopyTo(local, remote));
    } catch (err) {
      const why = err instanceof OpsError ? err.message : String(err);
      throw new OpsError("copy-failed", redactCredentials(`copying ${name} to ${opts.copyTo} failed; the backup itself is fine at ${opts.file}. ${why}`));
    }
    copied.push(remote);
    log(redactCredentials(`copied ${path.basename(local)} to ${remote}`));
  }
  return copied;
}

/**
 * Fetches the backup at remote path `from` (with its checksum, and its verification record when the
 * remote has one) into `dir`; returns the local dump path. Refuses a name that is not a dump, a missing
 * dump or checksum, and bytes that do not match the fetched checksum (nothing is left behind then).
 */
export async function fetchBackup(opts: { from: string; dir: string; log?: (line: string) => void }): Promise<string> {
  const log = (line: string) => opts.log?.(redactCredentials(line));
  try {
    return await fetchInto(opts.from, opts.dir, log);
  } catch (err) {
    if (err instanceof OpsError) throw new OpsError(err.kind, redactCredentials(err.message));
    throw err;
  }
}

async function fetchInto(from: string, into: string, log: (line: string) => void): Promise<string> {
  const { dir: remoteDir, name } = splitRemote(from);
  if (!parseBackupFileName(name)) {
    throw new OpsError("invalid-input", `--from ${from}: '${name}' is not a backup's name (<stack>-<YYYYMMDDTHHMMSSZ>-<tag>.dump); list the remote with: rclone lsf ${remoteDir}`);
  }
  const dir = path.resolve(into);
  await preparePrivateDir(dir);
  const present = new Set((await rclone(rcloneList(remoteDir))).split("\n").map((l) => l.trim()));
  for (const needed of [name, name + CHECKSUM_SUFFIX]) {
    if (!present.has(needed)) throw new OpsError("missing-file", `${remoteFile(remoteDir, needed)} does not exist; list the remote with: rclone lsf ${remoteDir}`);
  }
  const wanted = [name + CHECKSUM_SUFFIX, ...(present.has(name + VERIFIED_SUFFIX) ? [name + VERIFIED_SUFFIX] : []), name];
  const partials = wanted.map((f) => path.join(dir, f + PARTIAL_SUFFIX));
  const stopHeartbeat = keepFresh(partials);
  try {
    for (const [i, f] of wanted.entries()) {
      log(`fetching ${remoteFile(remoteDir, f)}`);
      await rclone(rcloneCopyTo(remoteFile(remoteDir, f), partials[i]));
      await fs.chmod(partials[i], PRIVATE_FILE_MODE);
    }
    const sum = parseChecksumFile(await fs.readFile(partials[0], "utf8"));
    if (!sum || sum.fileName !== name) throw new OpsError("missing-checksum", `the fetched ${name}${CHECKSUM_SUFFIX} is not a sha256sum line for ${name}; that remote copy cannot be shown to be intact`);
    const actual = await sha256File(partials[partials.length - 1]);
    if (actual !== sum.sha256) {
      throw new OpsError("checksum-mismatch", `the copy of ${name} fetched from ${remoteDir} does not match its checksum (expected ${sum.sha256}, got ${actual}): the remote copy is damaged or incomplete; nothing was kept. Use another backup`);
    }
    // the dump last: a .dump never stands in the directory without the checksum that vouches for it
    for (const [i, f] of wanted.entries()) await fs.rename(partials[i], path.join(dir, f));
    await fsyncPath(dir);
  } catch (err) {
    for (const p of partials) await fs.rm(p, { force: true });
    throw err;
  } finally {
    await stopHeartbeat();
  }
  const file = path.join(dir, name);
  log(`fetched ${name} (checksum ok) into ${dir}`);
  return file;
}
