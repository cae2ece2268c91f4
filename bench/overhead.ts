// Where a deploy's time goes when nothing is under load (issue 22): on a production-shaped stack of 2 replicas brought
// up with `pulumi up`, `runs` promotes of a new image, then `runs` no-op previews and `runs` no-op ups, each timed —
// as a user types them (`pulumi preview --expect-no-changes`, `pulumi up --yes --skip-preview`: the CLI alone) and
// through the Automation API the verbs use (which adds `pulumi stack output` twice and `stack history` after an up).
// A promote's wall time is split by the engine's own events, timed as they arrive (the Automation API's event stream):
//   start → first step   the CLI, the engine, the language host, the program (loading, config, registrations) and
//                        the diffs of the resources before the first that changes;
//   each step            a resource's operation from its pre-event to its outputs (the pre-deploy backup, the
//                        migrations, the replica set's rollout…); the rollout's own steps (start, healthy, UP,
//                        drain, remove: SLIPWAY_ROLLOUT_EVENTS) are counted apart, so
//   overhead             = wall time − the rollout's own steps (what the issue asks ≤ 8 s);
//   after the last step  outputs, the state written, the CLI's exit.
// Medians of the runs, with the 1-minute load average before and after (a loaded machine says so). Figures, no
// verdicts; a failed run is reported, not thrown.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import path from "node:path";
import type { EngineEvent } from "@pulumi/pulumi/automation";
import type { ImageRefs } from "../test/support/docker-images";
import type { Environment } from "../stacks/schema";
import { type Scenario, startScenario } from "../test/support/deploy-scenario";
import { pulumiCli } from "../test/support/pulumi";

export interface OverheadFigures {
  /** staging: the pre-deploy backup unverified (the issue's figure); production: verified by a restore. */
  environment: Environment;
  runs: number;
  replicas: number;
  /** Medians, seconds. */
  promote: { wallS: number; rolloutStepsS: number; overheadS: number; startToFirstStepS: number; afterLastStepS: number; steps: Record<string, number> };
  noopPreviewS: number;
  noopUpS: number;
  /** Every run's figures, in order. */
  /** The CLI alone, as a user types it. */
  noopCliPreviewS: number;
  noopCliUpS: number;
  samples: { promoteWallS: number[]; rolloutStepsS: number[]; noopPreviewS: number[]; noopUpS: number[]; noopCliPreviewS: number[]; noopCliUpS: number[] };
  loadBefore: number;
  loadAfter: number;
  failures: string[];
}

export const median = (xs: number[]): number => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** A resource's name in a URN (its last `::` part). */
const nameOf = (urn: string): string => urn.slice(urn.lastIndexOf("::") + 2);

/**
 * Pure: the split of one `pulumi up` by the arrival times (ms) of its events: from `start` to the first step's
 * pre-event, each changed resource's pre-event to its outputs, the last outputs to `end`. Steps of "same" resources
 * (nothing to do) are not steps.
 */
export function splitByEvents(start: number, end: number, events: { at: number; event: EngineEvent }[]): { startToFirstStepS: number; afterLastStepS: number; steps: Record<string, number> } {
  const began = new Map<string, number>();
  const steps: Record<string, number> = {};
  let first = NaN;
  let last = NaN;
  for (const { at, event } of events) {
    const pre = event.resourcePreEvent?.metadata;
    const out = event.resOutputsEvent?.metadata;
    // Not steps: resources with nothing to do, the stack itself, the providers' own (re)configuration.
    if (pre && pre.op !== "same" && pre.op !== "read" && !pre.type.startsWith("pulumi:pulumi:Stack") && !pre.type.startsWith("pulumi:providers:")) {
      began.set(pre.urn, at);
      if (!(first <= at)) first = at;
    }
    if (out && began.has(out.urn)) {
      steps[nameOf(out.urn)] = (steps[nameOf(out.urn)] ?? 0) + (at - began.get(out.urn)!) / 1000;
      began.delete(out.urn);
      if (!(last >= at)) last = at;
    }
  }
  return { startToFirstStepS: (first - start) / 1000, afterLastStepS: (end - last) / 1000, steps };
}

/** Seconds from the first rollout step's start to the last one's end, as the provider's events say (NaN: none). */
export function rolloutSpan(file: string): number {
  let text = "";
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return NaN;
  }
  const events = text.trim().split("\n").filter(Boolean).map((l) => JSON.parse(l) as { time: string; durationMs: number });
  if (events.length === 0) return NaN;
  const start = Math.min(...events.map((e) => Date.parse(e.time)));
  const end = Math.max(...events.map((e) => Date.parse(e.time) + e.durationMs));
  return (end - start) / 1000;
}

export async function overheadSteps(refs: ImageRefs, runs: number, name: string, environment: Environment): Promise<OverheadFigures> {
  const eventsDir = mkdtempSync(path.join(tmpdir(), "slipway-bench-overhead-"));
  const failures: string[] = [];
  const samples: OverheadFigures["samples"] = { promoteWallS: [], rolloutStepsS: [], noopPreviewS: [], noopUpS: [], noopCliPreviewS: [], noopCliUpS: [] };
  const splits: ReturnType<typeof splitByEvents>[] = [];
  const loadBefore = loadavg()[0]!;
  let scenario: Scenario | undefined;
  try {
    console.log(`\nbringing up a ${environment} stack ${name} (production's shape, 2 replicas) for the overhead rows with pulumi up …`);
    scenario = await startScenario(name, refs, () => undefined, { environment }).catch((e: Error) => {
      failures.push(`initial up: ${e.message.split("\n")[0]}`);
      return undefined;
    });
    if (scenario) {
      await scenario.ps.stack.setConfig("slipway:api.replicas", { value: "2" }, true);
      await scenario.up("2 replicas").catch((e: Error) => failures.push(`scale to 2: ${e.message.split("\n")[0]}`));
      // Images first: building them is not the deploy's time.
      const images = Array.from({ length: runs }, (_, i) => scenario!.apiImage(`o${i + 1}`));
      for (const [i, image] of images.entries()) {
        const events: { at: number; event: EngineEvent }[] = [];
        const file = path.join(eventsDir, `o${i + 1}.jsonl`);
        process.env.SLIPWAY_ROLLOUT_EVENTS = file;
        try {
          await scenario.ps.stack.setConfig("slipway:images.api", { value: image }, true);
          const start = Date.now();
          const result = await scenario.ps.stack.up({ message: `overhead ${i + 1}`, color: "never", onEvent: (event) => events.push({ at: Date.now(), event }) });
          const end = Date.now();
          if (result.summary.result !== "succeeded") throw new Error(`pulumi up: ${result.summary.result}`);
          const rollout = rolloutSpan(file);
          samples.promoteWallS.push((end - start) / 1000);
          samples.rolloutStepsS.push(rollout);
          const split = splitByEvents(start, end, events);
          splits.push(split);
          console.log(`promote ${i + 1}: ${((end - start) / 1000).toFixed(1)} s wall, rollout steps ${rollout.toFixed(1)} s, overhead ${((end - start) / 1000 - rollout).toFixed(1)} s; start → first step ${split.startToFirstStepS.toFixed(1)} s, ${Object.entries(split.steps).map(([k, v]) => `${k} ${v.toFixed(1)} s`).join(", ")}, after the last ${split.afterLastStepS.toFixed(1)} s`);
        } catch (e) {
          failures.push(`promote ${i + 1}: ${(e as Error).message.split("\n").slice(-3).join(" ").slice(0, 500)}`);
        } finally {
          delete process.env.SLIPWAY_ROLLOUT_EVENTS;
        }
      }
      for (let i = 0; i < runs; i++) {
        try {
          let start = Date.now();
          await scenario.ps.stack.preview({ expectNoChanges: true, color: "never" });
          samples.noopPreviewS.push((Date.now() - start) / 1000);
          start = Date.now();
          const up = await scenario.ps.stack.up({ color: "never", message: "no-op" });
          samples.noopUpS.push((Date.now() - start) / 1000);
          const changed = Object.entries(up.summary.resourceChanges ?? {}).filter(([op]) => op !== "same");
          if (changed.length) failures.push(`no-op up ${i + 1} changed: ${JSON.stringify(Object.fromEntries(changed))}`);
          start = Date.now();
          await pulumiCli(scenario.ps, ["preview", "--expect-no-changes", "--color", "never"]);
          samples.noopCliPreviewS.push((Date.now() - start) / 1000);
          start = Date.now();
          const cli = await pulumiCli(scenario.ps, ["up", "--yes", "--skip-preview", "--color", "never", "--message", "no-op (CLI)"]);
          samples.noopCliUpS.push((Date.now() - start) / 1000);
          if (!/^\s+\d+ unchanged\s*$/m.test(cli) || /^\s+[~+-]/m.test(cli)) failures.push(`no-op CLI up ${i + 1} changed something: ${cli.split("\n").filter((l) => /^\s+[~+-]/.test(l)).slice(0, 3).join(" | ")}`);
        } catch (e) {
          failures.push(`no-op ${i + 1}: ${(e as Error).message.split("\n").slice(-3).join(" ").slice(0, 500)}`);
        }
      }
    }
  } finally {
    await scenario?.cleanup();
    rmSync(eventsDir, { recursive: true, force: true });
  }
  const stepNames = [...new Set(splits.flatMap((s) => Object.keys(s.steps)))];
  const wall = median(samples.promoteWallS);
  const rollout = median(samples.rolloutStepsS);
  return {
    environment,
    runs,
    replicas: 2,
    promote: {
      wallS: wall,
      rolloutStepsS: rollout,
      overheadS: median(samples.promoteWallS.map((w, i) => w - samples.rolloutStepsS[i]!)),
      startToFirstStepS: median(splits.map((s) => s.startToFirstStepS)),
      afterLastStepS: median(splits.map((s) => s.afterLastStepS)),
      steps: Object.fromEntries(stepNames.map((n) => [n, median(splits.map((s) => s.steps[n] ?? NaN))])),
    },
    noopPreviewS: median(samples.noopPreviewS),
    noopUpS: median(samples.noopUpS),
    noopCliPreviewS: median(samples.noopCliPreviewS),
    noopCliUpS: median(samples.noopCliUpS),
    samples,
    loadBefore,
    loadAfter: loadavg()[0]!,
    failures,
  };
}

/** The printed breakdown. */
export function overheadTable(f: OverheadFigures): string {
  const s = (x: number) => (Number.isFinite(x) ? `${x.toFixed(1)} s` : "—");
  const rows: [string, string][] = [
    [`${f.environment}: ${f.environment === "production" ? "pre-deploy backup verified by a restore" : "pre-deploy backup unverified"}`, ""],
    [`promote (median of ${f.samples.promoteWallS.length}), wall`, s(f.promote.wallS)],
    ["  start → first step (CLI, engine, program, diffs)", s(f.promote.startToFirstStepS)],
    ...Object.entries(f.promote.steps).map(([k, v]): [string, string] => [`  step: ${k}`, s(v)]),
    ["  after the last step (outputs, state, exit)", s(f.promote.afterLastStepS)],
    ["  the rollout's own steps (start, healthy, UP, drain, remove)", s(f.promote.rolloutStepsS)],
    ["  overhead = wall − the rollout's own steps", s(f.promote.overheadS)],
    [`no-op \`pulumi preview --expect-no-changes\` (median of ${f.samples.noopCliPreviewS.length})`, s(f.noopCliPreviewS)],
    [`no-op \`pulumi up --yes --skip-preview\` (median of ${f.samples.noopCliUpS.length})`, s(f.noopCliUpS)],
    [`no-op preview, Automation API (median of ${f.samples.noopPreviewS.length})`, s(f.noopPreviewS)],
    [`no-op up, Automation API: + stack output ×2, history (median of ${f.samples.noopUpS.length})`, s(f.noopUpS)],
    ["load average (1 min) before → after", `${f.loadBefore.toFixed(2)} → ${f.loadAfter.toFixed(2)}`],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join("\n") + (f.failures.length ? `\n${f.failures.length} run(s) failed: ${f.failures.join("; ")}` : "");
}
