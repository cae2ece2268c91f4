// The edge's haproxy.cfg as Swarm configs, through the manager. A Swarm config is immutable: each text is its own
// config, named by its content's hash (the name changes exactly when the text does). Swarm also keeps the configs a
// service's *previous* spec names (what `docker service rollback` needs), and refuses to remove them: right after the
// edge service moves to a new config, the old one cannot go. So a config of the stack is removed once neither the
// current nor the previous spec of any service names it — when it is deleted, if it can be, else by the next change
// (at most two stay: the one serving and the one before it) or by `pulumi destroy` (once the edge service is gone).
import type Docker from "dockerode";
import { isStatus } from "../docker";
import { LABEL_ROLE, LABEL_STACK, ROLES } from "../vocabulary";

interface ConfigNames {
  Spec?: { TaskTemplate?: { ContainerSpec?: { Configs?: { ConfigName?: string }[] } } };
  PreviousSpec?: ConfigNames["Spec"];
}

/** Pure: the config names services hold, now (`current`) and in their previous spec (`previous`). */
export function configsNamed(services: readonly ConfigNames[]): { current: Set<string>; previous: Set<string> } {
  const names = (spec: ConfigNames["Spec"]) => (spec?.TaskTemplate?.ContainerSpec?.Configs ?? []).map((c) => c.ConfigName ?? "").filter(Boolean);
  return {
    current: new Set(services.flatMap((s) => names(s.Spec))),
    previous: new Set(services.flatMap((s) => names(s.PreviousSpec))),
  };
}

/** Pure: which of the stack's configs can go (named by no service's spec, current or previous; `keep` excepted). */
export function removableConfigs(stackConfigs: readonly string[], services: readonly ConfigNames[], keep: readonly string[] = []): string[] {
  const { current, previous } = configsNamed(services);
  return stackConfigs.filter((n) => !current.has(n) && !previous.has(n) && !keep.includes(n)).sort();
}

const labelFilter = (stack: string) => ({ label: [`${LABEL_STACK}=${stack}`, `${LABEL_ROLE}=${ROLES.edgeConfig}`] });

/** The stack's edge configs, by name. */
async function stackConfigs(docker: Docker, stack: string): Promise<string[]> {
  const list = (await docker.listConfigs({ filters: labelFilter(stack) })) as { Spec?: { Name?: string } }[];
  return list.map((c) => c.Spec?.Name ?? "").filter(Boolean);
}

/** Removes the stack's configs no service names any more (`keep` excepted); what Swarm still refuses stays. */
export async function pruneConfigs(docker: Docker, stack: string, keep: readonly string[] = []): Promise<string[]> {
  const services = (await docker.listServices()) as ConfigNames[];
  const removed: string[] = [];
  for (const name of removableConfigs(await stackConfigs(docker, stack), services, keep)) {
    try {
      await docker.getConfig(name).remove();
      removed.push(name);
    } catch (e) {
      if (isStatus(e, 404)) continue;
      // A service created since the list: it stays for the next prune.
    }
  }
  return removed;
}

/** Creates the config `name` (or finds it: the same name holds the same text), then prunes the stack's unused ones. */
export async function ensureConfig(docker: Docker, stack: string, name: string, text: string): Promise<{ id: string; pruned: string[] }> {
  let id: string;
  try {
    const created = (await docker.createConfig({ Name: name, Labels: { [LABEL_STACK]: stack, [LABEL_ROLE]: ROLES.edgeConfig }, Data: Buffer.from(text, "utf8").toString("base64") })) as { id?: string; ID?: string };
    id = created.id ?? created.ID ?? "";
  } catch (e) {
    if (!isStatus(e, 409)) throw e;
    id = ((await docker.getConfig(name).inspect()) as { ID: string }).ID;
  }
  return { id, pruned: await pruneConfigs(docker, stack, [name]) };
}

/**
 * Deletes the config `name`: removed when no service names it; left (and said so) when only a previous spec does — the
 * next change or `pulumi destroy` removes it. A service whose current spec names it is an error: it still serves.
 */
export async function deleteConfig(docker: Docker, stack: string, name: string): Promise<"removed" | "left"> {
  const { current, previous } = configsNamed((await docker.listServices()) as ConfigNames[]);
  if (current.has(name)) throw new Error(`config ${name} is still what a service runs; it cannot be removed`);
  let outcome: "removed" | "left" = "left";
  if (!previous.has(name)) {
    try {
      await docker.getConfig(name).remove();
      outcome = "removed";
    } catch (e) {
      if (!isStatus(e, 404)) throw e;
      outcome = "removed";
    }
  }
  await pruneConfigs(docker, stack);
  return outcome;
}
