// Maintenance mode at the edge (as `kamal app maintenance`): every request answered 503 with Retry-After and a
// message, by HAProxy itself, while the replicas keep running untouched. Switched through the runtime API (a map
// entry, no reload, no restart) on every running HAProxy of the stack, and written to the map file as well so a
// later reload or handover keeps it.
import type Docker from "dockerode";
import { ContainerUnavailableError, isStatus } from "../docker";
import { MAINTENANCE_MAP } from "./haproxy-config";
import { putFile, runningEdges } from "./proxy";
import { edgeRuntime } from "./runtime-api";

export const DEFAULT_MAINTENANCE_MESSAGE = "Down for maintenance; back shortly.";

/** The map file's content for a state (pure). */
export function maintenanceMapFile(on: boolean, message = DEFAULT_MAINTENANCE_MESSAGE): string {
  if (!on) return "";
  if (/[\r\n]/.test(message)) throw new Error("maintenance message must be one line");
  return `on ${message}\n`;
}

/** The runtime-API command that sets the entry: the value's spaces and backslashes escaped for the CLI's word splitting. */
export function addMapCommand(message: string, map = MAINTENANCE_MAP): string {
  return `add map ${map} on ${message.replace(/\\/g, "\\\\").replace(/ /g, "\\ ").replace(/;/g, "\\;")}`;
}

/** The message of the `on` entry in a `show map` answer ("0x… on <message>" lines), undefined when there is none. */
export function maintenanceOfShowMap(answer: string): string | undefined {
  const line = answer.split("\n").find((l) => / on /.test(` ${l} `));
  return line ? line.replace(/^\S+\s+on\s+/, "") : undefined;
}

/** Sets the map of one HAProxy through its runtime API: cleared, then (on) the entry; an answer is an error. */
export async function applyMaintenance(api: { command(cmd: string): Promise<string> }, where: string, on: boolean, message: string, map = MAINTENANCE_MAP): Promise<void> {
  const clear = (await api.command(`clear map ${map}`)).trim();
  if (clear !== "") throw new Error(`edge ${where}: clear map answered "${clear}"`);
  if (on) {
    const added = (await api.command(addMapCommand(message, map))).trim();
    if (added !== "") throw new Error(`edge ${where}: add map answered "${added}"`);
  }
}

/** Turns maintenance on or off on every running HAProxy of `stack`; returns their names. */
export async function setMaintenance(docker: Docker, stack: string, on: boolean, message = DEFAULT_MAINTENANCE_MESSAGE): Promise<string[]> {
  const edges = await runningEdges(docker, stack);
  if (edges.length === 0) throw new Error(`no running edge (HAProxy) of ${stack}: deploy the stack first`);
  const file = maintenanceMapFile(on, message);
  const set: string[] = [];
  for (const edge of edges) {
    try {
      await putFile(docker, edge, MAINTENANCE_MAP, file);
      await applyMaintenance(edgeRuntime(docker, edge), edge, on, message);
      set.push(edge);
    } catch (err) {
      // An HAProxy a handover is removing (the old one, whose removal the engine finishes after the deploy's program,
      // so after its stack lock): it serves no one any more, the new one has the state.
      if (!(err instanceof ContainerUnavailableError || isStatus(err, 404, 409)) || edges.length === 1) throw err;
    }
  }
  if (set.length === 0) throw new Error(`no running edge (HAProxy) of ${stack} took the change: retry`);
  return set;
}

/** The message if maintenance is on at the stack's edge, else undefined (read from the running HAProxy). */
export async function maintenanceState(docker: Docker, stack: string): Promise<string | undefined> {
  const [edge] = await runningEdges(docker, stack);
  if (!edge) return undefined;
  return maintenanceOfShowMap(await edgeRuntime(docker, edge).command(`show map ${MAINTENANCE_MAP}`));
}
