// The one way slipway reaches a Docker engine: `dockerHost` as the stack names it, else DOCKER_HOST, else the
// local socket — the settings the Docker CLI and the Pulumi docker provider honour:
//   unix:///path                 the socket
//   tcp://host:port, http://…     plain HTTP, or TLS when DOCKER_TLS_VERIFY / DOCKER_TLS / DOCKER_CERT_PATH is set
//                                (or https://): ca.pem, cert.pem, key.pem from DOCKER_CERT_PATH (default ~/.docker),
//                                the server always verified against ca.pem
//   ssh://user@host[:port]       `docker system dial-stdio` on the host over SSH (the CLI's own transport), the host
//                                key checked against known_hosts (SLIPWAY_SSH_KNOWN_HOSTS, else ~/.ssh/known_hosts and
//                                /etc/ssh/ssh_known_hosts): an unknown or changed key is refused; authentication with
//                                the agent (SSH_AUTH_SOCK) and/or a key file (SLIPWAY_SSH_KEY, else ~/.ssh/id_ed25519,
//                                id_ecdsa, id_rsa; SLIPWAY_SSH_KEY_PASSPHRASE if it has one)
// dockerOptions() decides all of it from an injected environment (pure, unit-tested); connectDocker() applies it.
import { readFileSync } from "node:fs";
import { homedir, userInfo } from "node:os";
import { join } from "node:path";
import type Docker from "dockerode";
import { checkHostKey, HostKeyError, hostKeyAlgorithms, knownHostKeys, type KnownKey } from "./known-hosts";
import type { StackConfig } from "../../stacks/schema";

export { checkHostKey, HostKeyError, knownHostKeys, type KnownKey };

/** What dockerOptions() reads from the machine: the environment, the home directory and files. */
export interface ConnectEnv {
  env: Record<string, string | undefined>;
  home: string;
  /** the local user name (the SSH user when the URL names none) */
  user: string;
  /** a file's content, undefined when it does not exist */
  readFile(path: string): Buffer | undefined;
}

export function processConnectEnv(): ConnectEnv {
  return {
    env: process.env,
    home: process.env.HOME || homedir(),
    user: process.env.USER || userInfo().username,
    readFile(path) {
      try {
        return readFileSync(path);
      } catch {
        return undefined;
      }
    },
  };
}

export interface SshSettings {
  host: string;
  port: number;
  username: string;
  /** SSH_AUTH_SOCK, when set */
  agent?: string;
  /** the key file used (path), when one was found */
  keyFile?: string;
  privateKey?: Buffer;
  passphrase?: string;
  knownHostsFiles: string[];
  known: KnownKey[];
  revoked: Buffer[];
}

export type DockerConnection =
  | { kind: "default" }
  | { kind: "socket"; socketPath: string }
  | { kind: "http"; host: string; port: number }
  | { kind: "https"; host: string; port: number; ca?: Buffer; cert?: Buffer; key?: Buffer }
  | ({ kind: "ssh" } & SshSettings);

const DEFAULT_KEYS = ["id_ed25519", "id_ecdsa", "id_rsa"];

/**
 * Pure (given `ctx`): how to reach the engine `dockerHost` names (else DOCKER_HOST, else the local socket).
 * Throws, naming the host and the fix, when it cannot be reached safely: an SSH host absent from known_hosts,
 * no SSH credentials, TLS asked for without its certificates.
 */
export function dockerConnection(dockerHost: string | undefined, ctx: ConnectEnv): DockerConnection {
  const target = dockerHost || ctx.env.DOCKER_HOST;
  if (!target) return { kind: "default" };
  const withScheme = target.includes("://") ? target : `tcp://${target}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new Error(`dockerHost "${target}": not a URL; use unix:///path, tcp://host:port, https://host:port or ssh://user@host[:port]`);
  }
  const from = dockerHost ? `dockerHost "${target}"` : `DOCKER_HOST "${target}"`;
  switch (url.protocol) {
    case "unix:":
      return { kind: "socket", socketPath: url.pathname || "/var/run/docker.sock" };
    case "tcp:":
    case "http:":
    case "https:": {
      const verify = (ctx.env.DOCKER_TLS_VERIFY ?? "") !== "" && ctx.env.DOCKER_TLS_VERIFY !== "0";
      const tls = url.protocol === "https:" || verify || (ctx.env.DOCKER_TLS ?? "") !== "" || (ctx.env.DOCKER_CERT_PATH ?? "") !== "";
      if (!tls) {
        if (url.protocol !== "http:" && url.port === "2376") {
          throw new Error(`${from}: port 2376 is Docker's TLS port, but neither DOCKER_TLS_VERIFY nor DOCKER_CERT_PATH is set; set DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH=<dir with ca.pem, cert.pem, key.pem>`);
        }
        return { kind: "http", host: url.hostname, port: Number(url.port) || 2375 };
      }
      const certDir = ctx.env.DOCKER_CERT_PATH || join(ctx.home, ".docker");
      const files = Object.fromEntries(["ca", "cert", "key"].map((f) => [f, ctx.readFile(join(certDir, `${f}.pem`))])) as Record<"ca" | "cert" | "key", Buffer | undefined>;
      if (verify && !files.ca) {
        throw new Error(`${from}: DOCKER_TLS_VERIFY is set but ${join(certDir, "ca.pem")} does not exist (DOCKER_CERT_PATH names the directory with ca.pem, cert.pem, key.pem)`);
      }
      if (Boolean(files.cert) !== Boolean(files.key)) {
        throw new Error(`${from}: ${certDir} has ${files.cert ? "cert.pem but no key.pem" : "key.pem but no cert.pem"}`);
      }
      return {
        kind: "https",
        host: url.hostname,
        port: Number(url.port) || 2376,
        ...(files.ca ? { ca: files.ca } : {}),
        ...(files.cert && files.key ? { cert: files.cert, key: files.key } : {}),
      };
    }
    case "ssh:": {
      const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
      const port = Number(url.port) || 22;
      const knownHostsFiles = ctx.env.SLIPWAY_SSH_KNOWN_HOSTS
        ? ctx.env.SLIPWAY_SSH_KNOWN_HOSTS.split(":").filter(Boolean)
        : [join(ctx.home, ".ssh", "known_hosts"), "/etc/ssh/ssh_known_hosts"];
      const known: KnownKey[] = [];
      const revoked: Buffer[] = [];
      for (const f of knownHostsFiles) {
        const r = knownHostKeys(ctx.readFile(f)?.toString("utf8") ?? "", host, port);
        known.push(...r.keys);
        revoked.push(...r.revoked);
      }
      if (known.length === 0) throw new HostKeyError(host, port, "unknown", knownHostsFiles);
      const keyFiles = ctx.env.SLIPWAY_SSH_KEY ? [ctx.env.SLIPWAY_SSH_KEY] : DEFAULT_KEYS.map((k) => join(ctx.home, ".ssh", k));
      let keyFile: string | undefined;
      let privateKey: Buffer | undefined;
      for (const f of keyFiles) {
        privateKey = ctx.readFile(f);
        if (privateKey) {
          keyFile = f;
          break;
        }
      }
      if (ctx.env.SLIPWAY_SSH_KEY && !privateKey) throw new Error(`${from}: SLIPWAY_SSH_KEY names ${ctx.env.SLIPWAY_SSH_KEY}, which cannot be read`);
      const agent = ctx.env.SSH_AUTH_SOCK || undefined;
      if (!agent && !privateKey) {
        throw new Error(`${from}: no SSH credentials — start an agent with the key (SSH_AUTH_SOCK), or set SLIPWAY_SSH_KEY to a private key file (default ~/.ssh/${DEFAULT_KEYS.join(", ~/.ssh/")})`);
      }
      return {
        kind: "ssh",
        host,
        port,
        username: decodeURIComponent(url.username) || ctx.user,
        ...(agent ? { agent } : {}),
        ...(privateKey ? { privateKey, keyFile } : {}),
        ...(privateKey && ctx.env.SLIPWAY_SSH_KEY_PASSPHRASE ? { passphrase: ctx.env.SLIPWAY_SSH_KEY_PASSPHRASE } : {}),
        knownHostsFiles,
        known,
        revoked,
      };
    }
    default:
      throw new Error(`${from}: use unix://, tcp://, https:// or ssh://`);
  }
}

/** Pure: dockerode's options for a connection (ssh2's for SSH, with the host key check and the known key types first). */
export function dockerodeOptions(c: DockerConnection, onRefused: (e: HostKeyError) => void = () => undefined): Docker.DockerOptions | undefined {
  switch (c.kind) {
    case "default":
      return undefined;
    case "socket":
      // docker-modem lays these options over its own defaults from DOCKER_HOST / DOCKER_CERT_PATH, and a `host`
      // there would win over socketPath: the stack's unix:// dockerHost must not be overridden by the shell's.
      return { socketPath: c.socketPath, host: undefined, port: undefined, ca: undefined, cert: undefined, key: undefined, protocol: "http" };
    case "http":
      return { host: c.host, port: c.port, protocol: "http" };
    case "https":
      return { host: c.host, port: c.port, protocol: "https", ...(c.ca ? { ca: c.ca } : {}), ...(c.cert ? { cert: c.cert, key: c.key } : {}) };
    case "ssh":
      return {
        protocol: "ssh",
        host: c.host,
        port: c.port,
        username: c.username,
        sshOptions: {
          ...(c.agent ? { agent: c.agent } : {}),
          ...(c.privateKey ? { privateKey: c.privateKey } : {}),
          ...(c.passphrase ? { passphrase: c.passphrase } : {}),
          // Ask for the key type known_hosts has, as OpenSSH does, so a known host is never mistaken for a changed one.
          algorithms: { serverHostKey: hostKeyAlgorithms(c.known.map((k) => k.type)) },
          hostVerifier: (key: Buffer) => {
            const refused = checkHostKey(c, key);
            if (refused) onRefused(refused);
            return refused === undefined;
          },
          readyTimeout: 30_000,
        },
      } as Docker.DockerOptions;
  }
}

export function connectDocker(dockerHost?: string, ctx: ConnectEnv = processConnectEnv()): Docker {
  const DockerCtor = require("dockerode") as typeof Docker;
  const connection = dockerConnection(dockerHost, ctx);
  let refused: HostKeyError | undefined;
  const docker = new DockerCtor(dockerodeOptions(connection, (e) => (refused = e)));
  if (connection.kind === "ssh") {
    // ssh2 says only "Host denied (verification failed)": answer with the reason and the fix instead.
    const modem = docker.modem as { dial(options: unknown, callback: (err: unknown, data: unknown) => void): void };
    const dial = modem.dial.bind(modem);
    modem.dial = (options, callback) =>
      dial(options, (err, data) => {
        if (err instanceof Error && /verification failed/.test(err.message) && refused) return callback(refused, data);
        if (err instanceof Error && /All configured authentication methods failed/.test(err.message)) {
          const how = [connection.agent ? `the agent (SSH_AUTH_SOCK)` : "", connection.keyFile ? `the key ${connection.keyFile}` : ""].filter(Boolean).join(" and ");
          return callback(new Error(`Docker host ssh://${connection.username}@${connection.host}:${connection.port}: authentication failed with ${how} (SLIPWAY_SSH_KEY names another key file)`), data);
        }
        callback(err, data);
      });
  }
  return docker;
}

/**
 * Pure: the host a port published by the engine at `dockerHost` is reached on, from the machine running slipway.
 * Local engines (none, unix://): the bind address. A remote engine: the bind address when it is a specific
 * address, the engine's host name when it is 0.0.0.0/:: — and for a loopback bind (reachable only on that
 * host, e.g. behind your own proxy there) the engine's host name too, with `loopbackOnRemote` set.
 */
export function publishedHost(dockerHost: string | undefined, bindAddress: string): { host: string; loopbackOnRemote: boolean } {
  let remote: string | undefined;
  if (dockerHost && !dockerHost.startsWith("unix:")) {
    const u = new URL(dockerHost.includes("://") ? dockerHost : `tcp://${dockerHost}`);
    const h = u.hostname.replace(/^\[(.*)\]$/, "$1");
    if (h !== "localhost" && h !== "127.0.0.1" && h !== "::1") remote = h;
  }
  const any = bindAddress === "0.0.0.0" || bindAddress === "::" || bindAddress === "";
  const loopback = bindAddress === "localhost" || bindAddress.startsWith("127.") || bindAddress === "::1";
  if (!remote) return { host: any ? "127.0.0.1" : bindAddress, loopbackOnRemote: false };
  if (any || loopback) return { host: remote, loopbackOnRemote: loopback };
  return { host: bindAddress, loopbackOnRemote: false };
}

/**
 * Pure: the `edgeUrl` output — `edge.publicUrl` as written (without a trailing slash) when set, else the edge's
 * published address as seen from the machine running Pulumi (publishedHost), https on `tls.port` with TLS.
 */
export function edgeUrl(edge: Pick<StackConfig["edge"], "publicUrl" | "bindAddress" | "port" | "tls">, dockerHost: string | undefined): string {
  if (edge.publicUrl) return edge.publicUrl.replace(/\/+$/, "");
  const { host } = publishedHost(dockerHost, edge.bindAddress);
  const urlHost = host.includes(":") ? `[${host}]` : host;
  return edge.tls.enabled ? `https://${urlHost}:${edge.tls.port}` : `http://${urlHost}:${edge.port}`;
}

/** Whether a dockerode error is an HTTP status from the engine in `codes` (404 gone, 304 already stopped…). */
export function isStatus(e: unknown, ...codes: number[]): boolean {
  return codes.includes((e as { statusCode?: number } | undefined)?.statusCode ?? 0);
}

/** A .catch() handler that swallows the given engine statuses and rethrows anything else. */
export function ignoreStatus(...codes: number[]) {
  return (e: unknown): void => {
    if (!isStatus(e, ...codes)) throw e;
  };
}
