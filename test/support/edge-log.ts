// What the edge itself logged about the requests that failed: its JSON access-log lines with a 5xx status, from
// every running HAProxy of a stack. The `server` and `termination` fields tell a replica's own 5xx ("--") from a
// request the edge could not place ("<NOSRV>", "SC": connection refused after retries) — printed by tests when the
// load saw failures, so an intermittent burst leaves evidence.
import type Docker from "dockerode";
import { containerLogs } from "../../src/docker";
import { runningEdges } from "../../src/edge/proxy";

export async function edgeErrorLines(docker: Docker, stack: string, max = 10): Promise<string> {
  const out: string[] = [];
  for (const edge of await runningEdges(docker, stack).catch(() => [] as string[])) {
    const lines = (await containerLogs(docker, edge).catch(() => "")).split("\n").filter((l) => /"status":5\d\d/.test(l));
    const byKind = new Map<string, number>();
    for (const l of lines) {
      const m = /"server":"([^"]*)".*"termination":"([^"]*)"/.exec(l);
      const key = m ? `server ${m[1]} termination ${m[2]}` : "unparsed";
      byKind.set(key, (byKind.get(key) ?? 0) + 1);
    }
    out.push(`${edge}: ${lines.length} 5xx lines (${[...byKind].map(([k, n]) => `${n} × ${k}`).join(", ") || "none"})${lines.length ? `; first ${Math.min(max, lines.length)}:\n${lines.slice(0, max).join("\n")}` : ""}`);
  }
  return out.join("\n") || `no running edge of ${stack}`;
}
