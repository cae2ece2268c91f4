// Canary decisions, pure: the weights that give the canary replicas a share of the traffic, what the edge's
// access log says about the canary and the stable set during a step, and whether the canary passes its gate.
// The executor sets the weights and reads the log (src/edge/slots.ts); this module only decides.

import type { CanarySettings } from "../../stacks/schema";

/** api.rollout.canary: declared and defaulted in stacks/schema.ts. */
export type { CanarySettings };

/** HAProxy weights are whole numbers 1..256. */
const MAX_WEIGHT = 256;
const BASE_WEIGHT = 100;

/**
 * Per-server weights so that `canaries` servers together get `sharePercent` of new requests and `stable` servers
 * the rest (round robin by weight). Rounded to whole weights; `actual` is the share they give.
 */
export function canaryWeights(sharePercent: number, stable: number, canaries: number): { stable: number; canary: number; actual: number } {
  if (!(sharePercent > 0 && sharePercent < 100)) throw new Error(`canary share ${sharePercent}% must be between 0 and 100`);
  if (stable < 1 || canaries < 1) throw new Error("canary weights need at least one stable and one canary server");
  const p = sharePercent / 100;
  // canary/stable weight ratio r: canaries·r / (canaries·r + stable) = p
  const r = (p * stable) / ((1 - p) * canaries);
  let s = BASE_WEIGHT;
  let c = Math.round(BASE_WEIGHT * r);
  if (c > MAX_WEIGHT) {
    c = MAX_WEIGHT;
    s = Math.max(1, Math.round(MAX_WEIGHT / r));
  }
  c = Math.max(1, c);
  return { stable: s, canary: c, actual: (100 * canaries * c) / (canaries * c + stable * s) };
}

/** One request as the edge logged it (the JSON access log of src/edge/haproxy-config.ts). */
export interface AccessRecord {
  server: string;
  status: number;
  ms: number;
}

/** The edge's JSON access-log lines for `backend` (other lines — HAProxy's own messages — are skipped). */
export function parseAccessLog(text: string, backend: string): AccessRecord[] {
  const out: AccessRecord[] = [];
  for (const line of text.split("\n")) {
    if (!line.startsWith("{")) continue;
    try {
      const r = JSON.parse(line) as { backend?: string; server?: string; status?: number; ms?: number };
      if (r.backend === backend && typeof r.server === "string" && typeof r.status === "number" && typeof r.ms === "number") {
        out.push({ server: r.server, status: r.status, ms: r.ms });
      }
    } catch {
      // a line cut by the log window: not a request record
    }
  }
  return out;
}

export interface SetFigures {
  requests: number;
  errors5xx: number;
  /** 5xx share in percent. */
  errorRate: number;
  /** milliseconds; 0 without requests */
  p99Ms: number;
}

export function figuresOf(records: AccessRecord[]): SetFigures {
  const ms = records.map((r) => r.ms).sort((a, b) => a - b);
  const errors5xx = records.filter((r) => r.status >= 500).length;
  return {
    requests: records.length,
    errors5xx,
    errorRate: records.length ? (100 * errors5xx) / records.length : 0,
    p99Ms: ms.length ? ms[Math.min(ms.length - 1, Math.ceil(0.99 * ms.length) - 1)]! : 0,
  };
}

export interface CanaryVerdict {
  pass: boolean;
  /** The figures and the rule, in one sentence (quoted by `pulumi up` when the gate fails). */
  summary: string;
}

export function judgeCanary(share: number, canary: SetFigures, stable: SetFigures, s: Pick<CanarySettings, "maxErrorRateIncrease" | "maxP99Ratio" | "minRequests">): CanaryVerdict {
  const f = (x: SetFigures) => `${x.requests} requests, ${x.errors5xx} × 5xx (${x.errorRate.toFixed(1)} %), p99 ${x.p99Ms} ms`;
  const figures = `at ${share} %: canary ${f(canary)}; stable ${f(stable)}`;
  const problems: string[] = [];
  if (canary.errorRate > stable.errorRate + s.maxErrorRateIncrease) {
    problems.push(`5xx rate ${canary.errorRate.toFixed(1)} % > stable ${stable.errorRate.toFixed(1)} % + ${s.maxErrorRateIncrease} points`);
  }
  if (canary.requests >= s.minRequests && stable.requests > 0 && canary.p99Ms > stable.p99Ms * s.maxP99Ratio) {
    problems.push(`p99 ${canary.p99Ms} ms > ${s.maxP99Ratio} × stable ${stable.p99Ms} ms`);
  }
  const unjudged = canary.requests < s.minRequests ? ` (fewer than ${s.minRequests} canary requests: latency not judged)` : "";
  return problems.length
    ? { pass: false, summary: `canary gate failed ${figures}: ${problems.join("; ")}` }
    : { pass: true, summary: `canary gate passed ${figures}${unjudged}` };
}
