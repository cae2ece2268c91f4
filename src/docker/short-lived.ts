// A container that lives for one piece of a verb's work — the throwaway PostgreSQL a backup is proved in, the
// database client a backup on a swarm dumps through — and is removed however the work ends: normally, on an error,
// on SIGINT/SIGTERM. It carries the label LABEL_OWNER (`<hostname>/<pid>` of the process that made it); one left by a
// process killed outright (SIGKILL) is removed by the next run of the same kind on the same machine.
import type Docker from "dockerode";
import { hostname } from "node:os";
import { LABEL_ROLE, processGone } from "../vocabulary";

/** `<hostname>/<pid>` of the process that made it: whether that process is gone can be told on that machine only. */
export const LABEL_OWNER = "slipway.verify.owner";
/** How long a removal may take on a busy engine before it is left to the next run. */
export const SHORT_LIVED_REMOVE_TIMEOUT_MS = 120_000;

/** What the log lines call the container and the run that makes it ("throwaway container", "verification"). */
export interface ShortLivedKind {
  noun: string;
  run: string;
}

/** The labels that make a container of `role` short-lived and this process's. */
export function shortLivedLabels(role: string): Record<string, string> {
  return { [LABEL_ROLE]: role, [LABEL_OWNER]: `${hostname()}/${process.pid}` };
}

/** How the container comes to be: `create` makes it (the engine call, giving it shortLivedLabels(role)), `start` runs it until it is ready. */
export interface ShortLivedSteps {
  create: () => Promise<unknown>;
  start: () => Promise<void>;
}

/** How long a signal waits for a create call in flight before it removes (the engine lists a container before the call returns). */
const CREATE_SETTLE_MS = 30_000;

/**
 * Removes the containers of `role` left by a process of this machine that no longer runs, creates one, runs `work`,
 * and removes the container named `name` whatever happens: a busy engine can refuse a removal for a while (409
 * "removal already in progress", a kill that timed out), so it is tried again until the engine no longer knows the
 * container or `removeTimeoutMs` is spent (then it is left to the next run). A signal during the create call waits for
 * that call to return first: a removal that ran meanwhile could find nothing yet, and the container would outlive us.
 */
export async function withShortLived<T>(
  docker: Docker,
  opts: { name: string; role: string; kind: ShortLivedKind; removeTimeoutMs?: number; log: (line: string) => void },
  steps: ShortLivedSteps,
  work: () => Promise<T>,
): Promise<T> {
  const { name, log, kind } = opts;
  await removeAbandoned(docker, opts.role, kind, log);
  const removeTimeoutMs = opts.removeTimeoutMs ?? SHORT_LIVED_REMOVE_TIMEOUT_MS;
  const removeWithin = async (): Promise<void> => {
    const started = Date.now();
    let last: unknown;
    for (let attempt = 1; ; attempt++) {
      try {
        await docker.getContainer(name).remove({ force: true, v: true });
      } catch (err) {
        if ((err as { statusCode?: number }).statusCode !== 404) last = err;
      }
      const gone = await docker
        .getContainer(name)
        .inspect()
        .then(
          () => false,
          (err: { statusCode?: number }) => err.statusCode === 404,
        );
      if (gone) return log(`removed ${kind.noun} ${name}${attempt > 1 ? ` (attempt ${attempt}, ${((Date.now() - started) / 1000).toFixed(1)} s)` : ""}`);
      if (Date.now() - started >= removeTimeoutMs) {
        return log(`could not remove ${kind.noun} ${name} within ${removeTimeoutMs} ms (the next ${kind.run} removes it): ${String(last ?? "still listed")}`);
      }
      await new Promise((r) => setTimeout(r, Math.min(1000 * attempt, 5000)));
    }
  };
  let removed: Promise<void> | undefined;
  const remove = () => (removed ??= removeWithin());
  let creating: Promise<unknown> | undefined;
  let signalled = false;
  // SIGINT/SIGTERM (Ctrl-C, a cancelled `pulumi up`): no create starts after it; one in flight is let return; the
  // container is removed; then the process dies of the same signal.
  const onSignal = (signal: NodeJS.Signals) => {
    signalled = true;
    process.removeListener("SIGINT", onSignal);
    process.removeListener("SIGTERM", onSignal);
    const settled = creating ? Promise.race([creating.catch(() => undefined), new Promise((r) => setTimeout(r, CREATE_SETTLE_MS))]) : Promise.resolve();
    void settled.then(remove).finally(() => process.kill(process.pid, signal));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    if (signalled) await new Promise(() => undefined); // the signal's handler ends the process
    creating = steps.create();
    await creating;
    await steps.start();
    return await work();
  } finally {
    process.removeListener("SIGINT", onSignal);
    process.removeListener("SIGTERM", onSignal);
    await remove();
  }
}

/** Containers of `role` made on this machine by a process that no longer runs (killed with SIGKILL). */
async function removeAbandoned(docker: Docker, role: string, kind: ShortLivedKind, log: (line: string) => void): Promise<void> {
  const leftovers = await docker.listContainers({ all: true, filters: { label: [`${LABEL_ROLE}=${role}`] } });
  for (const c of leftovers) {
    const [host, pid] = (c.Labels[LABEL_OWNER] ?? "").split("/");
    if (host !== hostname() || !/^\d+$/.test(pid ?? "") || Number(pid) === process.pid || !processGone(Number(pid))) continue;
    await docker
      .getContainer(c.Id)
      .remove({ force: true, v: true })
      .then(
        () => log(`removed ${kind.noun} ${c.Names[0]?.replace(/^\//, "")} left by a ${kind.run} that was killed (pid ${pid})`),
        () => undefined,
      );
  }
}
