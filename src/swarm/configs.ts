// The edge's files as Swarm objects, through the manager: its haproxy.cfg a Swarm config, its certificate and key (PEM)
// a Swarm secret. Both are immutable: each content is its own object, named by its content's hash (the name changes
// exactly when the content does; a secret's name by an HMAC, which tells nothing of the key). Swarm also keeps the
// objects a service's *previous* spec names (what `docker service rollback` needs), and refuses to remove them: right
// after the config server moves to a new one, the old one cannot go. So an object of the stack is removed once neither
// the current nor the previous spec of any service names it — when it is deleted, if it can be, else by the next
// change (at most two stay: the one serving and the one before it) or by `pulumi destroy` (once the services are gone).
import type Docker from "dockerode";
import { isStatus } from "../docker";
import { LABEL_ROLE, LABEL_STACK, type Role } from "../vocabulary";

/** A Swarm config or a Swarm secret: the same life, another API. */
export type SwarmFileKind = "config" | "secret";

interface FileRefs {
  Spec?: { TaskTemplate?: { ContainerSpec?: { Configs?: { ConfigName?: string }[]; Secrets?: { SecretName?: string }[] } } };
  PreviousSpec?: FileRefs["Spec"];
}

/** Pure: the names of `kind` services hold, now (`current`) and in their previous spec (`previous`). */
export function filesNamed(services: readonly FileRefs[], kind: SwarmFileKind = "config"): { current: Set<string>; previous: Set<string> } {
  const names = (spec: FileRefs["Spec"]) => {
    const c = spec?.TaskTemplate?.ContainerSpec;
    return (kind === "config" ? (c?.Configs ?? []).map((x) => x.ConfigName) : (c?.Secrets ?? []).map((x) => x.SecretName)).filter((n): n is string => !!n);
  };
  return {
    current: new Set(services.flatMap((s) => names(s.Spec))),
    previous: new Set(services.flatMap((s) => names(s.PreviousSpec))),
  };
}

/** Pure: which of the stack's objects can go (named by no service's spec, current or previous; `keep` excepted). */
export function removableFiles(stackFiles: readonly string[], services: readonly FileRefs[], keep: readonly string[] = [], kind: SwarmFileKind = "config"): string[] {
  const { current, previous } = filesNamed(services, kind);
  return stackFiles.filter((n) => !current.has(n) && !previous.has(n) && !keep.includes(n)).sort();
}

/** The engine's calls for one kind. */
function api(docker: Docker, kind: SwarmFileKind) {
  return kind === "config"
    ? { list: (o: object) => docker.listConfigs(o), create: (o: object) => docker.createConfig(o), get: (name: string) => docker.getConfig(name) }
    : { list: (o: object) => docker.listSecrets(o), create: (o: object) => docker.createSecret(o), get: (name: string) => docker.getSecret(name) };
}

/** What a stack's objects of one role are: the stack, the role (the label that finds them), the kind. */
export interface FileScope {
  stack: string;
  role: Role;
  kind: SwarmFileKind;
}

/** The stack's objects of this role, by name. */
async function scopeFiles(docker: Docker, s: FileScope): Promise<string[]> {
  const list = (await api(docker, s.kind).list({ filters: { label: [`${LABEL_STACK}=${s.stack}`, `${LABEL_ROLE}=${s.role}`] } })) as { Spec?: { Name?: string } }[];
  return list.map((c) => c.Spec?.Name ?? "").filter(Boolean);
}

/** Removes the scope's objects no service names any more (`keep` excepted); what Swarm still refuses stays. */
export async function pruneFiles(docker: Docker, s: FileScope, keep: readonly string[] = []): Promise<string[]> {
  const services = (await docker.listServices()) as FileRefs[];
  const removed: string[] = [];
  for (const name of removableFiles(await scopeFiles(docker, s), services, keep, s.kind)) {
    try {
      await api(docker, s.kind).get(name).remove();
      removed.push(name);
    } catch {
      // Gone already, or a service created since the list names it: the next prune decides.
    }
  }
  return removed;
}

/** Creates the object `name` (or finds it: the same name holds the same content), then prunes the scope's unused ones. */
export async function ensureFile(docker: Docker, s: FileScope, name: string, content: string): Promise<{ id: string; pruned: string[] }> {
  let id: string;
  try {
    const created = (await api(docker, s.kind).create({ Name: name, Labels: { [LABEL_STACK]: s.stack, [LABEL_ROLE]: s.role }, Data: Buffer.from(content, "utf8").toString("base64") })) as { id?: string; ID?: string };
    id = created.id ?? created.ID ?? "";
  } catch (e) {
    if (!isStatus(e, 409)) throw e;
    id = ((await api(docker, s.kind).get(name).inspect()) as { ID: string }).ID;
  }
  return { id, pruned: await pruneFiles(docker, s, [name]) };
}

/**
 * Deletes the object `name`: removed when no service names it; left (and said so) when only a previous spec does — the
 * next change or `pulumi destroy` removes it. A service whose current spec names it is an error: it is still in use.
 */
export async function deleteFile(docker: Docker, s: FileScope, name: string): Promise<"removed" | "left"> {
  const { current, previous } = filesNamed((await docker.listServices()) as FileRefs[], s.kind);
  if (current.has(name)) throw new Error(`${s.kind} ${name} is still in a service's spec; it cannot be removed`);
  let outcome: "removed" | "left" = "left";
  if (!previous.has(name)) {
    await api(docker, s.kind).get(name).remove().catch((e: unknown) => {
      if (!isStatus(e, 404)) throw e;
    });
    outcome = "removed";
  }
  await pruneFiles(docker, s);
  return outcome;
}
