// OpenSSH's known_hosts, as slipway's SSH transport to a Docker host checks it: which keys a file holds for host:port
// ([host]:port off port 22, hashed names, patterns, @revoked), whether a presented key is one of them, and the
// operator's message when it is not. Pure; src/docker/connect.ts reads the files and hands ssh2 the check.
import { createHmac } from "node:crypto";

/** A host key refused: unknown (not in known_hosts), changed (known_hosts has another key) or revoked. */
export class HostKeyError extends Error {
  constructor(
    readonly host: string,
    readonly port: number,
    readonly reason: "unknown" | "changed" | "revoked",
    files: string[],
  ) {
    const scan = `ssh-keyscan ${port === 22 ? "" : `-p ${port} `}${host}`;
    const where = files.join(", ");
    const how = {
      unknown: `its host key is not in ${where}. Verify the host's key fingerprint (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub on the host), then add it: ${scan} >> ~/.ssh/known_hosts (or point SLIPWAY_SSH_KNOWN_HOSTS at a file that has it)`,
      changed: `HOST KEY CHANGED: the key it presents differs from the one in ${where} — this may be an attack (or a reinstalled host). Check with its administrator; if the change is expected, remove the old entry (ssh-keygen -R ${port === 22 ? host : `'[${host}]:${port}'`}) and add the new one after verifying it: ${scan} >> ~/.ssh/known_hosts`,
      revoked: `its host key is marked @revoked in ${where}`,
    }[reason];
    super(`Docker host ssh://${host}${port === 22 ? "" : `:${port}`} refused: ${how}`);
    this.name = "HostKeyError";
  }
}

export interface KnownKey {
  /** key type as in known_hosts: ssh-ed25519, ecdsa-sha2-nistp256, ssh-rsa … */
  type: string;
  /** the key blob (SSH wire format), as ssh2 hands it to hostVerifier */
  blob: Buffer;
}

function patternMatches(pattern: string, name: string): boolean {
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".")}$`, "i");
  return re.test(name);
}

function hostFieldMatches(field: string, name: string): boolean {
  if (field.startsWith("|1|")) {
    const [, , salt, hash] = field.split("|");
    if (!salt || !hash) return false;
    return createHmac("sha1", Buffer.from(salt, "base64")).update(name).digest("base64") === hash;
  }
  let matched = false;
  for (const p of field.split(",")) {
    if (p.startsWith("!")) {
      if (patternMatches(p.slice(1), name)) return false;
    } else if (patternMatches(p, name)) {
      matched = true;
    }
  }
  return matched;
}

/** Pure: the keys known_hosts text holds for host:port (OpenSSH's rules: [host]:port off port 22, hashed names, patterns). */
export function knownHostKeys(text: string, host: string, port: number): { keys: KnownKey[]; revoked: Buffer[] } {
  const name = (port === 22 ? host : `[${host}]:${port}`).toLowerCase();
  const keys: KnownKey[] = [];
  const revoked: Buffer[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const fields = line.split(/\s+/);
    let marker: string | undefined;
    if (fields[0].startsWith("@")) marker = fields.shift();
    const [hosts, type, b64] = fields;
    if (!hosts || !type || !b64 || marker === "@cert-authority") continue;
    if (!hostFieldMatches(hosts, name)) continue;
    const blob = Buffer.from(b64, "base64");
    if (marker === "@revoked") revoked.push(blob);
    else keys.push({ type, blob });
  }
  return { keys, revoked };
}

/** ssh2's names of the host key algorithms a known_hosts key type verifies (so the server is asked for that one). */
export function hostKeyAlgorithms(types: string[]): string[] {
  const out: string[] = [];
  for (const t of types) {
    const algs = t === "ssh-rsa" ? ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"] : /^(ssh-ed25519|ecdsa-sha2-nistp(256|384|521))$/.test(t) ? [t] : [];
    for (const a of algs) if (!out.includes(a)) out.push(a);
  }
  return out;
}

/** Pure: whether the key an SSH server presents is the one known_hosts has; the HostKeyError when it is not. */
export function checkHostKey(s: { host: string; port: number; known: KnownKey[]; revoked: Buffer[]; knownHostsFiles: string[] }, presented: Buffer): HostKeyError | undefined {
  if (s.revoked.some((k) => k.equals(presented))) return new HostKeyError(s.host, s.port, "revoked", s.knownHostsFiles);
  if (s.known.some((k) => k.blob.equals(presented))) return undefined;
  return new HostKeyError(s.host, s.port, "changed", s.knownHostsFiles);
}

