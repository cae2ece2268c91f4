// bench:deploy --target swarm (issue 17): the deploy steps on the three-node lab (tools/swarm-lab.sh), a production-
// shaped stack with `slipway:target: swarm` driven by `pulumi up` like the one-host rows, each under the same load
// through an edge node (POSTs writing rows, slow GETs): promote, an API env change, a rollback from the stack's history,
// a broken image (the up fails; what users saw), a worker drained, a node killed (requests failed — those in flight on
// it —, and the time until 3 tasks run on the survivors), the node back; then the cost as the service grows (a release
// of 1 replica and of 12: a swarm release starts the new revision's whole service at once), and last the anchor: plain
// Swarm updating the serving service's image itself (`docker service update --update-order start-first`), same edge,
// same load. Figures, never a verdict; a step that cannot run is reported, and the steps after it that need it too.
import { waitFor } from "../test/support/swarm-lab";
import { startSwarmScenario, type SwarmScenario } from "../test/support/swarm-scenario";
import type { StepFigures } from "../test/support/deploy-scenario";
import { reason } from "./failure";
import { rollback } from "../src/release/rollback";

export interface SwarmRow {
  step: string;
  figures?: StepFigures;
  /** the release's own span, as the SwarmRelease reports it ("release took N s") */
  releaseS?: number;
  replicas?: number;
  /** what else was measured (kill: time to the survivors; broken: the reason) */
  note?: string;
  failure?: string;
  /** the end of the failure's whole text (the JSON keeps it; the table prints `failure`) */
  detail?: string;
}

const releaseTook = (output: string): number | undefined => {
  const m = [...output.matchAll(/release took ([\d.]+)s/g)].at(-1);
  return m ? Number(m[1]) : undefined;
};

/** `onlyScale`: the first up, the scale rows and the anchor only (no deploy kinds, no faults). */
export async function swarmTargetSteps(connections: number, onlyScale = false): Promise<SwarmRow[]> {
  const rows: SwarmRow[] = [];
  console.log("\n== slipway on the swarm lab (three nodes): bringing up a production-shaped stack with pulumi up …");
  let s: SwarmScenario;
  try {
    // 12 replicas at the end: pools of 3 keep 2 × 12 × 3 (the old service and the new one at once) within PostgreSQL's
    // limit. Staging, production's shape otherwise: production refuses fewer than 2 replicas, and the row of 1 is the unit.
    s = await startSwarmScenario("bsw", { connections, poolMax: 3, environment: "staging", log: () => undefined });
  } catch (e) {
    rows.push({ step: "the lab and the stack", failure: reason((e as Error).message) });
    return rows;
  }
  let killed: number | undefined;
  let ready = true;
  // What a step's deploy measured beside the figures.
  let drainNote = "";
  let killNote = "";
  let anchorS = 0;
  /** A measured step: its figures, the release's span from the up's output, failures reported, never thrown. */
  const step = async (name: string, deploy: (capture: (out: string) => void) => Promise<unknown>, extra: Partial<SwarmRow> = {}): Promise<SwarmRow | undefined> => {
    if (!ready) {
      rows.push({ step: name, failure: "a step before it failed" });
      return undefined;
    }
    console.log(`\n== swarm: ${name}`);
    let output = "";
    try {
      const figures = await s.measure(name, () => deploy((out) => (output += out)));
      // A deploy that failed is in the figures (the broken image's is expected): its reason goes into the note.
      const row: SwarmRow = { step: name, figures, ...extra, ...(figures.error ? { note: `up failed: ${reason(figures.error).slice(0, 160)}` } : {}) };
      const took = releaseTook(output);
      if (took !== undefined) row.releaseS = took;
      rows.push(row);
      return row;
    } catch (e) {
      ready = false;
      rows.push({ step: name, failure: reason((e as Error).message), detail: (e as Error).message.slice(-4000) });
      return undefined;
    }
  };
  try {
    const started = Date.now();
    try {
      const out = await s.up("initial");
      const took = releaseTook(out);
      rows.push({ step: "first up (no load)", note: `${((Date.now() - started) / 1000).toFixed(1)} s`, ...(took !== undefined ? { releaseS: took } : {}) });
      for (let i = 0; i < s.lab.edgeNodes.length; i++) await waitFor(`GET /health through ${s.lab.edgeNodes[i]!.name}`, 120_000, async () => ((await s.get(`${s.edgeUrl(i)}/health`)).status === 200 ? true : undefined));
    } catch (e) {
      ready = false;
      rows.push({ step: "first up (no load)", failure: reason((e as Error).message), detail: (e as Error).message.slice(-4000) });
    }
    const v2 = ready && !onlyScale ? await s.apiImage("v2") : "";
    if (!onlyScale) {
      await step("promote", async (capture) => {
        await s.setApiImage(v2);
        capture(await s.up("promote v2"));
      }, { replicas: 3 });
      await step("env change", async (capture) => {
        await s.ps.stack.setConfig("slipway:api.env.FEATURE", { value: "on" }, true);
        capture(await s.up("env FEATURE=on"));
      }, { replicas: 3 });
      await step("roll back from history", async () => {
        await rollback(s.ps.stack, { reason: "bench", log: () => undefined });
      }, { replicas: 3 });
      if (ready) {
        const broken = await s.apiImage("broken", { cmd: ["node", "-e", "process.exit(3)"] });
        await step("broken image (the up fails)", async (capture) => {
          await s.setApiImage(broken);
          capture(await s.up("broken"));
        });
        await s.setApiImage(v2);
        await s.up("back to v2").catch((e: Error) => {
          ready = false;
          rows.push({ step: "back to v2 after the broken image", failure: reason(e.message) });
        });
      }
      const victim = s.lab.nodes[2]!; // an edge node, not the one the load goes through, not the database's nor the manager named
      if (ready) await s.ensureTaskOn(victim.name);
      const drain = await step("drain a worker", async () => {
        await s.lab.cli(["node", "update", "--availability", "drain", victim.name]);
        const { ms } = await waitFor(`no API task on ${victim.name}`, 300_000, async () => {
          const { rows: tasks } = await s.servingTasks();
          return tasks.length === 3 && tasks.every((r) => !r.startsWith(`${victim.name} `) && / Running /.test(` ${r} `)) ? true : undefined;
        });
        drainNote = `3 tasks off ${victim.name} in ${(ms / 1000).toFixed(1)} s`;
      });
      if (drain) drain.note = drainNote;
      await s.lab.cli(["node", "update", "--availability", "active", victim.name]).catch(() => undefined);
      if (ready) await s.ensureTaskOn(victim.name);
      const kill = await step("kill a node", async () => {
        const { service } = await s.servingTasks();
        killed = victim.index;
        await s.lab.kill(victim.index);
        const { ms } = await waitFor(`3 API tasks running off ${victim.name}`, 300_000, async () => {
          const tasks = (await s.lab.cli(["service", "ps", service, "--filter", "desired-state=running", "--format", "{{.Node}} {{.CurrentState}}"])).trim().split("\n").filter(Boolean);
          return tasks.length === 3 && tasks.every((r) => !r.startsWith(`${victim.name} `) && / Running /.test(` ${r} `)) ? true : undefined;
        });
        killNote = `3 tasks on the survivors ${(ms / 1000).toFixed(1)} s after the kill; failed ≤ ${connections} (one in flight per connection) expected`;
        // Requests in flight on the dead node's tasks end by the edge's server timeout before the load stops.
        await new Promise((r) => setTimeout(r, s.serverTimeoutMs + 5000));
      });
      if (kill) kill.note = killNote;
      if (killed !== undefined) {
        await s.lab.start(killed).catch(() => undefined);
        killed = undefined;
        await waitFor(`${victim.name} Ready again`, 300_000, async () => ((await s.lab.cli(["node", "ls", "--format", "{{.Hostname}} {{.Status}}"])).includes(`${victim.name} Ready`) ? true : undefined)).catch(() => undefined);
      }
    }
    // The cost as the service grows: a release of 1 replica, then of 12 (the scale-ups between are not measured; the
    // edge gets the slots 12 need, both services' tasks at once).
    for (const replicas of [1, 12]) {
      if (!ready) break;
      try {
        await s.ps.stack.setConfig("slipway:api.replicas", { value: String(replicas) }, true);
        await s.ps.stack.setConfig("slipway:edge.slots", { value: String(Math.max(10, 2 * replicas + 1)) }, true);
        await s.up(`${replicas} replicas`);
      } catch (e) {
        ready = false;
        rows.push({ step: `scale to ${replicas}`, failure: reason((e as Error).message), detail: (e as Error).message.slice(-4000) });
        break;
      }
      const ref = await s.apiImage(`s${replicas}`);
      await step(`promote, ${replicas} replica${replicas === 1 ? "" : "s"}`, async (capture) => {
        await s.setApiImage(ref);
        capture(await s.up(`promote at ${replicas}`));
      }, { replicas });
    }
    // The anchor, last (it changes the serving service behind Pulumi's back): Swarm's own start-first update of it.
    if (ready) {
      const anchor = await s.apiImage("anchor");
      const row = await step("plain Swarm: service update --update-order start-first", async () => {
        const { service } = await s.servingTasks();
        const t0 = Date.now();
        await s.lab.cli(["service", "update", "--detach=false", "--quiet", "--no-resolve-image", "--image", anchor, "--update-order", "start-first", "--update-parallelism", "1", service]);
        anchorS = (Date.now() - t0) / 1000;
      });
      if (row) {
        row.releaseS = anchorS;
        row.note = "Swarm's update_config alone: no drain at the edge (its DNS lists the new tasks when they start)";
        if (row.figures) row.figures.perpetualDiff = "(changed outside Pulumi)";
      }
    }
  } finally {
    if (killed !== undefined) await s.lab.start(killed).catch(() => undefined);
    await s.cleanup();
  }
  return rows;
}
/** The printed table. */
export function swarmTable(rows: SwarmRow[]): string {
  const head = ["step", "replicas", "requests", "failed", "non-2xx", "errors", "2xx POSTs", "rows", "twice", "lost", "p50 ms", "p99 ms", "deploy s", "release s", "preview after", "note"];
  const body = rows.map((r) => {
    if (r.failure) return [r.step, "", `FAILED: ${r.failure.slice(0, 160)}`, "", "", "", "", "", "", "", "", "", "", "", "", ""];
    const f = r.figures;
    const release = r.releaseS !== undefined ? r.releaseS.toFixed(1) : "";
    if (!f) return [r.step, String(r.replicas ?? 3), "", "", "", "", "", "", "", "", "", "", "", release, "", r.note ?? ""];
    // After a failed up the stack file still names what failed: its preview is not the release's.
    const preview = f.error ? "(up failed)" : f.perpetualDiff === "" ? "empty" : f.perpetualDiff.startsWith("(") ? f.perpetualDiff : "CHANGES";
    return [r.step, String(r.replicas ?? 3), String(f.requests), String(f.failed), JSON.stringify(f.non2xx), JSON.stringify(f.errors), String(f.rows.postsOk), String(f.rows.rows),
      String(f.rows.rowsTwice), String(f.rows.lost), String(f.p50Ms), String(f.p99Ms), f.deployS.toFixed(1), release, preview, r.note ?? ""];
  });
  const width = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  return [head, ...body].map((cols) => cols.map((c, i) => c.padEnd(width[i]!)).join("  ")).join("\n");
}
