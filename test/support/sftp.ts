// A real SFTP server for tests: Debian's OpenSSH sshd with its own config on 127.0.0.1 and a free port,
// a throwaway host key and a client key generated here, authorizing the current user; and the rclone
// remote for it, configured only through environment variables (RCLONE_CONFIG_<NAME>_*), so nothing is
// written to the user's rclone config or ~/.ssh.
import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { freePort } from "./project-stack";

export const SSHD = "/usr/sbin/sshd";

/** What an SFTP server of the test's own needs and is missing here (for skipUnless), or undefined. */
export function sftpMissing(): string | undefined {
  if (spawnSync(SSHD, ["-V"]).error) return "sshd is not installed (apt-get install openssh-server)";
  if (spawnSync("rclone", ["version"]).error) return "rclone is not installed (apt-get install rclone)";
  if (spawnSync("ssh-keygen", ["-?"]).error) return "ssh-keygen is not installed";
  return undefined;
}

export interface SftpServer {
  /** rclone remote name the env below defines */
  remote: string;
  port: number;
  /** environment for rclone: the remote, and RCLONE_CONFIG pointing at a file that does not exist */
  env: Record<string, string>;
  /** a directory (absolute, on this machine) the tests may use as the remote side */
  root: string;
  /** the address it listens on */
  address: string;
  /** the user that logs in (this process's) */
  user: string;
  /** its host key as `ssh-keyscan` prints it: type and key */
  hostKey: string;
  /** the client's private key (OpenSSH format) that logs in */
  clientKey: string;
  /** sshd's log so far */
  log(): string;
  stop(): Promise<void>;
}

async function waitForPort(address: string, port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, address, () => (s.end(), resolve(true)));
      s.on("error", () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`sshd did not listen on ${address}:${port} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * `address`: where it listens (default 127.0.0.1); containers reach this machine at its Docker bridge's address
 * (172.17.0.1 on docker0), whatever network they are on, as long as it has a route out.
 */
export async function startSftpServer(name = "slipwaysftp", address = "127.0.0.1"): Promise<SftpServer> {
  const dir = mkdtempSync(join(tmpdir(), "slipway-sftp-"));
  const root = join(dir, "remote");
  mkdirSync(root);
  const port = await freePort();
  const user = userInfo().username;
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "slipway-test-host", "-f", join(dir, "host_ed25519")]);
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "slipway-test-client", "-f", join(dir, "client_ed25519")]);
  writeFileSync(join(dir, "authorized_keys"), readFileSync(join(dir, "client_ed25519.pub")), { mode: 0o600 });
  const hostPub = readFileSync(join(dir, "host_ed25519.pub"), "utf8").trim().split(" ").slice(0, 2).join(" ");
  writeFileSync(join(dir, "known_hosts"), `[${address}]:${port} ${hostPub}\n`);
  writeFileSync(
    join(dir, "sshd_config"),
    [
      `Port ${port}`,
      `ListenAddress ${address}`,
      `HostKey ${join(dir, "host_ed25519")}`,
      `PidFile ${join(dir, "sshd.pid")}`,
      `AuthorizedKeysFile ${join(dir, "authorized_keys")}`,
      `AllowUsers ${user}`,
      "PubkeyAuthentication yes",
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "PermitRootLogin prohibit-password",
      "UsePAM no",
      "StrictModes no",
      "Subsystem sftp internal-sftp",
      "LogLevel VERBOSE",
      "",
    ].join("\n"),
  );
  // sshd refuses to start without its privilege separation directory (Debian creates it at boot, as root)
  if (process.getuid?.() === 0) mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });
  let output = "";
  const child: ChildProcess = spawn(SSHD, ["-D", "-e", "-f", join(dir, "sshd_config")], { stdio: ["ignore", "pipe", "pipe"] });
  child.stdout!.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await Promise.race([waitForPort(address, port, 20_000), exited.then(() => Promise.reject(new Error(`sshd exited: ${output}`)))]);
  } catch (err) {
    await stop();
    throw err;
  }
  const R = `RCLONE_CONFIG_${name.toUpperCase()}`;
  return {
    remote: name,
    port,
    root,
    env: {
      [`${R}_TYPE`]: "sftp",
      [`${R}_HOST`]: address,
      [`${R}_PORT`]: String(port),
      [`${R}_USER`]: user,
      [`${R}_KEY_FILE`]: join(dir, "client_ed25519"),
      [`${R}_KNOWN_HOSTS_FILE`]: join(dir, "known_hosts"),
      RCLONE_CONFIG: join(dir, "rclone.conf"), // does not exist: rclone reads nothing from (and writes nothing to) home
    },
    address,
    user,
    hostKey: hostPub,
    clientKey: readFileSync(join(dir, "client_ed25519"), "utf8"),
    log: () => output,
    stop,
  };
}
