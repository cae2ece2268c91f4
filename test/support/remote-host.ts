// A second Docker host on this machine, reached over SSH, for the remote-host test: a network namespace joined to
// the host by a veth pair in a private /30 (10.203.N.0/30: .1 here, .2 there — traffic never leaves this machine),
// running its own dockerd (data, exec root, pid file and socket in a temp dir, its own cgroup parent) and an sshd
// (its own config, host key and authorized key, listening only on the namespace's address). The client side is a
// temp HOME with .ssh/known_hosts (the sshd's key), .ssh/id_ed25519 and .ssh/config, and an `ssh` on PATH that
// reads that config — OpenSSH takes ~ from the password database, not $HOME, and the Docker CLI and the Pulumi
// docker provider reach ssh:// hosts through it. stop() removes everything, also after a failed start.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { randomBytes, randomInt } from "node:crypto";
import { join } from "node:path";
import type Docker from "dockerode";

export interface RemoteHost {
  /** The namespace's address (where sshd listens and the engine publishes ports). */
  address: string;
  sshPort: number;
  /** ssh://root@<address>:<port> */
  dockerHost: string;
  /** The engine's own socket (seeding images, assertions), never used by the code under test. */
  socket: string;
  /** dockerode on the engine's socket. */
  docker: Docker;
  /** The temp HOME of the machine running Pulumi (.ssh/known_hosts, id_ed25519, config). */
  home: string;
  /** tcp://<address>:2376, the same engine over TLS (client certificates required). */
  tlsHost: string;
  /** DOCKER_CERT_PATH for tlsHost: ca.pem, cert.pem, key.pem. */
  certDir: string;
  /** The sshd's host public key line ("ssh-ed25519 AAAA…"). */
  hostKey: string;
  /** Environment for everything that reaches the host: HOME, PATH with the ssh wrapper first, no agent. */
  env(basePath: string): Record<string, string>;
  /** Copies images from the local engine to the remote one (docker save | docker load on its socket). */
  loadImages(refs: string[]): void;
  stop(): Promise<void>;
}

function sh(cmd: string, args: string[], input?: string): string {
  return execFileSync(cmd, args, { encoding: "utf8", stdio: [input === undefined ? "ignore" : "pipe", "pipe", "pipe"], ...(input === undefined ? {} : { input }) });
}

async function waitFor(what: string, check: () => Promise<boolean> | boolean, timeoutMs: number, log: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    // A check that throws (not listening yet) is a "not yet", like false.
    if (await (async () => check())().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`${what} not ready after ${timeoutMs} ms:\n${log().slice(-3000)}`);
}

export async function startRemoteHost(log: (line: string) => void = (l) => process.stderr.write(`[remote-host] ${l}\n`)): Promise<RemoteHost> {
  const id = randomBytes(3).toString("hex");
  const dir = mkdtempSync(`/tmp/slipway-rh-${id}-`);
  const ns = `slipway-rh-${id}`;
  const vethHere = `srh${id}a`;
  const vethThere = `srh${id}b`;
  const cgroupParent = `/slipway-rh-${id}`;
  // A /30 nobody on this machine uses.
  const used = sh("ip", ["-o", "-4", "addr", "show"]);
  let octet = randomInt(0, 256);
  for (let i = 0; i < 256 && used.includes(`10.203.${octet}.`); i++) octet = (octet + 1) % 256;
  const hereAddr = `10.203.${octet}.1`;
  const address = `10.203.${octet}.2`;
  const sshPort = 2222;
  const home = join(dir, "home");
  const socket = join(dir, "docker.sock");
  const children: ChildProcess[] = [];
  let createdPrivsep = false;

  const stop = async () => {
    // Containers first (their shims would outlive dockerd), then the daemons, mounts, namespace, files.
    try {
      const ids = existsSync(socket) ? sh("docker", ["-H", `unix://${socket}`, "ps", "-aq"]).split("\n").filter(Boolean) : [];
      if (ids.length > 0) sh("docker", ["-H", `unix://${socket}`, "rm", "-f", ...ids]);
    } catch {
      /* nothing running, or the engine is gone */
    }
    for (const child of children.reverse()) {
      if (child.exitCode === null && child.pid) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        await Promise.race([exited, new Promise((r) => setTimeout(r, 20_000))]);
        if (child.exitCode === null) child.kill("SIGKILL");
      }
    }
    // Anything still mounted under the temp dir (overlay layers, netns files of the nested engine).
    const mounts = readFileSync("/proc/mounts", "utf8").split("\n").map((l) => l.split(" ")[1]).filter((m) => m?.startsWith(dir));
    for (const m of mounts.reverse()) {
      try {
        sh("umount", ["-l", m]);
      } catch {
        /* already gone */
      }
    }
    for (const [cmd, args] of [["ip", ["link", "del", vethHere]], ["ip", ["netns", "del", ns]]] as const) {
      try {
        sh(cmd, [...args]);
      } catch {
        /* not created */
      }
    }
    for (const ctl of ["cpu", "cpuacct", "memory", "pids", "blkio", "devices", "freezer", "cpuset", "net_cls", "net_prio", "hugetlb", "perf_event", "systemd", "unified"]) {
      try {
        execFileSync("rmdir", [`/sys/fs/cgroup/${ctl}${cgroupParent}`], { stdio: "ignore" });
      } catch {
        /* none */
      }
    }
    if (createdPrivsep) rmSync("/run/sshd", { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    // The network: a namespace and a veth pair.
    sh("ip", ["netns", "add", ns]);
    sh("ip", ["link", "add", vethHere, "type", "veth", "peer", "name", vethThere]);
    sh("ip", ["link", "set", vethThere, "netns", ns]);
    sh("ip", ["addr", "add", `${hereAddr}/30`, "dev", vethHere]);
    sh("ip", ["link", "set", vethHere, "up"]);
    sh("ip", ["netns", "exec", ns, "ip", "addr", "add", `${address}/30`, "dev", vethThere]);
    sh("ip", ["netns", "exec", ns, "ip", "link", "set", vethThere, "up"]);
    sh("ip", ["netns", "exec", ns, "ip", "link", "set", "lo", "up"]);
    // nsenter --net, not `ip netns exec`: the latter remounts /sys and dockerd then finds no cgroups.
    const inNs = ["--net=/var/run/netns/" + ns];

    // TLS for tcp://<address>:2376: a CA, the engine's certificate (its address as SAN), a client certificate.
    const certDir = join(dir, "certs");
    mkdirSync(certDir);
    const ossl = (...args: string[]) => sh("openssl", args);
    const c = (f: string) => join(certDir, f);
    ossl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj", "/CN=slipway-test-ca", "-keyout", c("ca-key.pem"), "-out", c("ca.pem"));
    ossl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj", `/CN=${address}`, "-keyout", c("server-key.pem"), "-out", c("server.csr"));
    writeFileSync(c("server.ext"), `subjectAltName=IP:${address}\nextendedKeyUsage=serverAuth\n`);
    ossl("x509", "-req", "-in", c("server.csr"), "-CA", c("ca.pem"), "-CAkey", c("ca-key.pem"), "-CAcreateserial", "-days", "2", "-extfile", c("server.ext"), "-out", c("server-cert.pem"));
    ossl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj", "/CN=slipway-test-client", "-keyout", c("key.pem"), "-out", c("client.csr"));
    writeFileSync(c("client.ext"), "extendedKeyUsage=clientAuth\n");
    ossl("x509", "-req", "-in", c("client.csr"), "-CA", c("ca.pem"), "-CAkey", c("ca-key.pem"), "-CAcreateserial", "-days", "2", "-extfile", c("client.ext"), "-out", c("cert.pem"));

    // The engine.
    writeFileSync(join(dir, "daemon.json"), "{}\n");
    const dockerdArgs = [
      ...inNs, "dockerd",
      "--config-file", join(dir, "daemon.json"),
      "--data-root", join(dir, "data"),
      "--exec-root", join(dir, "exec"),
      "--pidfile", join(dir, "dockerd.pid"),
      "--host", `unix://${socket}`,
      "--host", `tcp://${address}:2376`,
      "--tlsverify", "--tlscacert", c("ca.pem"), "--tlscert", c("server-cert.pem"), "--tlskey", c("server-key.pem"),
      "--cgroup-parent", cgroupParent,
    ];
    const dockerdLog = join(dir, "dockerd.log");
    const dockerd = spawn("nsenter", dockerdArgs, { stdio: ["ignore", "ignore", "pipe"] });
    let dockerdOut = "";
    dockerd.stderr?.on("data", (d: Buffer) => {
      dockerdOut = (dockerdOut + d.toString()).slice(-20000);
    });
    children.push(dockerd);
    const DockerCtor = require("dockerode") as typeof Docker;
    const docker = new DockerCtor({ socketPath: socket });
    await waitFor("the remote dockerd", async () => dockerd.exitCode === null && existsSync(socket) && (await docker.ping(), true), 60_000, () => `nsenter ${dockerdArgs.join(" ")}\n${dockerdOut}`);
    writeFileSync(dockerdLog, dockerdOut);
    log(`dockerd up in ${ns} (${socket})`);

    // sshd: its own host key, our client key authorized, the sessions' docker CLI pointed at this engine.
    mkdirSync(home, { recursive: true });
    mkdirSync(join(home, ".ssh"), { mode: 0o700 });
    sh("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "slipway-remote-host", "-f", join(dir, "ssh_host_ed25519_key")]);
    sh("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "slipway-test-client", "-f", join(home, ".ssh", "id_ed25519")]);
    writeFileSync(join(dir, "authorized_keys"), readFileSync(join(home, ".ssh", "id_ed25519.pub")));
    chmodSync(join(dir, "authorized_keys"), 0o600);
    const hostKey = readFileSync(join(dir, "ssh_host_ed25519_key.pub"), "utf8").trim().split(/\s+/).slice(0, 2).join(" ");
    writeFileSync(join(dir, "sshd_config"), [
      `Port ${sshPort}`,
      `ListenAddress ${address}`,
      `HostKey ${join(dir, "ssh_host_ed25519_key")}`,
      `PidFile ${join(dir, "sshd.pid")}`,
      `AuthorizedKeysFile ${join(dir, "authorized_keys")}`,
      "PermitRootLogin prohibit-password",
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "UsePAM no",
      "StrictModes no",
      // slipway opens one SSH connection per Docker API call (docker-modem); the rollout makes many at once.
      "MaxStartups 200",
      "MaxSessions 100",
      `SetEnv DOCKER_HOST=unix://${socket}`,
      "LogLevel ERROR",
      "",
    ].join("\n"));
    if (!existsSync("/run/sshd")) {
      mkdirSync("/run/sshd", { mode: 0o755 });
      createdPrivsep = true;
    }
    sh("/usr/sbin/sshd", ["-t", "-f", join(dir, "sshd_config")]);
    const sshd = spawn("nsenter", [...inNs, "/usr/sbin/sshd", "-D", "-e", "-f", join(dir, "sshd_config")], { stdio: ["ignore", "ignore", "pipe"] });
    let sshdOut = "";
    sshd.stderr?.on("data", (d: Buffer) => {
      sshdOut = (sshdOut + d.toString()).slice(-20000);
    });
    children.push(sshd);

    // The machine running Pulumi: known_hosts with the sshd's key, the client key, an ssh that reads this HOME.
    writeFileSync(join(home, ".ssh", "known_hosts"), `[${address}]:${sshPort} ${hostKey}\n`);
    writeFileSync(join(home, ".ssh", "config"), [
      "Host *",
      `  UserKnownHostsFile ${join(home, ".ssh", "known_hosts")}`,
      "  GlobalKnownHostsFile /dev/null",
      "  StrictHostKeyChecking yes",
      `  IdentityFile ${join(home, ".ssh", "id_ed25519")}`,
      "  IdentitiesOnly yes",
      "  BatchMode yes",
      "",
    ].join("\n"));
    mkdirSync(join(dir, "bin"));
    writeFileSync(join(dir, "bin", "ssh"), `#!/bin/sh\nexec /usr/bin/ssh -F ${join(home, ".ssh", "config")} "$@"\n`, { mode: 0o755 });
    const env = (basePath: string) => ({ HOME: home, PATH: `${join(dir, "bin")}:${basePath}`, SSH_AUTH_SOCK: "" });
    await waitFor("the remote sshd", () => {
      if (sshd.exitCode !== null) return false;
      const out = execFileSync(join(dir, "bin", "ssh"), ["-p", String(sshPort), `root@${address}`, "docker", "version", "--format", "{{.Server.Version}}"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 10_000 });
      return out.trim().length > 0;
    }, 30_000, () => sshdOut);
    log(`sshd up on ${address}:${sshPort}`);

    return {
      address,
      sshPort,
      dockerHost: `ssh://root@${address}:${sshPort}`,
      socket,
      docker,
      home,
      tlsHost: `tcp://${address}:2376`,
      certDir,
      hostKey,
      env,
      loadImages(refs) {
        execFileSync("sh", ["-c", `docker save "$@" | docker -H unix://${socket} load -q`, "sh", ...refs], { stdio: ["ignore", "ignore", "inherit"], timeout: 15 * 60_000 });
      },
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}
