// Which version answers, request after request: a client that sends each request after the last answer came back,
// recording the `version` the API reports. A switch (blue-green) shows as one change; a client that sees an older
// version again after a newer one ("flips") saw both versions interleave (rolling, canary).
export interface VersionSample {
  t: number;
  version: string;
}

export function versionTimeline(url: string, intervalMs = 50): { stop(): Promise<VersionSample[]> } {
  const seen: VersionSample[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      try {
        const r = await fetch(`${url}/slow?ms=0`, { signal: AbortSignal.timeout(10_000) });
        if (r.ok) seen.push({ t: Date.now(), version: ((await r.json()) as { version: string }).version });
      } catch {
        // the load's own figures count failures; the timeline only records versions
      }
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return seen;
    },
  };
}

/** The versions in the order first seen, how often an earlier one came back, and the gap around the last change. */
export function switches(timeline: VersionSample[]): { order: string[]; flips: number; gapMs: number } {
  const order: string[] = [];
  let flips = 0;
  let gapMs = 0;
  for (let i = 0; i < timeline.length; i++) {
    const v = timeline[i]!.version;
    if (order.at(-1) !== v) {
      if (order.includes(v)) flips++;
      else if (i > 0) gapMs = timeline[i]!.t - timeline[i - 1]!.t;
      order.push(v);
    }
  }
  return { order, flips, gapMs };
}
