// Load for rollout tests and the benchmark: autocannon against the edge (loopback only), a GET/POST mix of
// `/slow?ms=N` with a share of slow requests, every request carrying a unique `x-request-id`. Afterwards,
// `countArrivals` reads the ids the replicas logged on arrival, so "executed twice" can be counted.
import { randomBytes } from "node:crypto";

// autocannon ships no types; this is the part we use.
interface AutocannonRequest { method?: string; path?: string; headers?: Record<string, string>; body?: string }
interface AutocannonResult {
  requests: { total: number };
  latency: { p50: number; p99: number; max: number };
  errors: number;
  timeouts: number;
  non2xx: number;
  statusCodeStats: Record<string, { count: number }>;
  duration: number;
}
interface AutocannonInstance extends NodeJS.EventEmitter { stop(): void }
type Autocannon = (opts: Record<string, unknown>, cb: (err: Error | null, result: AutocannonResult) => void) => AutocannonInstance;

export interface LoadOptions {
  /** Base URL of the edge, e.g. http://127.0.0.1:49153. Must be loopback. */
  url: string;
  connections?: number;
  /** Hard cap on the run; `stop()` usually ends it earlier. */
  maxSeconds?: number;
  /** Share of requests that are slow (`slowMs`), the rest take `fastMs`. */
  slowShare?: number;
  slowMs?: number;
  fastMs?: number;
  /** Share of POSTs (the rest are GETs). */
  postShare?: number;
  /**
   * "slow" (default): GET and POST /slow. "items": the POSTs are `POST /items {"name": <request id>}`, each
   * writing one row with a unique name (count them with `countRows`); the GETs stay /slow.
   */
  mix?: "slow" | "items";
  /** A non-loopback address of this machine the load may target too (the remote-host test's own veth address). */
  allowHost?: string;
}

export interface LoadReport {
  requests: number;
  ok: number;
  /** Responses by status code, for everything that was not 2xx. */
  non2xx: Record<string, number>;
  /** Connection errors (autocannon counts timeouts among them) by error code/message. */
  errors: Record<string, number>;
  timeouts: number;
  failed: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  durationS: number;
  /** Every id that was sent, with its method. */
  sent: Map<string, string>;
  /** Ids that got a 2xx. */
  answered: Set<string>;
  /** Responses by status code, per path kind ("items" or "slow"): which routes failed. */
  byRoute: Record<string, Record<string, number>>;
}

export interface RunningLoad {
  /** Prefix of every request id of this run (to pick them out of logs). */
  idPrefix: string;
  stop(): Promise<LoadReport>;
}

export function startLoad(opts: LoadOptions): RunningLoad {
  const target = new URL(opts.url);
  if (!["127.0.0.1", "localhost", "[::1]", ...(opts.allowHost ? [opts.allowHost] : [])].includes(target.hostname)) throw new Error(`load: ${opts.url} is not loopback`);
  const autocannon = require("autocannon") as Autocannon;
  const idPrefix = `ld${randomBytes(4).toString("hex")}`;
  const slowShare = opts.slowShare ?? 0.2;
  const postShare = opts.postShare ?? 0.5;
  const sent = new Map<string, string>();
  const answered = new Set<string>();
  const errors: Record<string, number> = {};
  const byRoute: Record<string, Record<string, number>> = {};
  let seq = 0;
  let stopper: () => void = () => undefined;

  const done = new Promise<LoadReport>((resolve, reject) => {
    const instance = autocannon(
      {
        url: opts.url,
        connections: opts.connections ?? 100,
        duration: opts.maxSeconds ?? 120,
        timeout: 30,
        requests: [
          {
            setupRequest: (req: AutocannonRequest, context: { id?: string }) => {
              const n = seq++;
              const id = `${idPrefix}-${n}`;
              // Deterministic mix: no RNG, so two runs of the benchmark send the same sequence.
              const method = (n * 7919) % 100 < postShare * 100 ? "POST" : "GET";
              const ms = (n * 104729) % 100 < slowShare * 100 ? (opts.slowMs ?? 1000) : (opts.fastMs ?? 50);
              sent.set(id, method);
              context.id = id;
              const headers = { ...(req.headers ?? {}), "x-request-id": id };
              if (opts.mix === "items" && method === "POST") {
                return { ...req, method, path: "/items", headers: { ...headers, "content-type": "application/json" }, body: JSON.stringify({ name: id }) };
              }
              return { ...req, method: opts.mix === "items" ? "GET" : method, path: `/slow?ms=${ms}`, headers, body: undefined };
            },
            onResponse: (status: number, _body: string, context: { id?: string }) => {
              if (status >= 200 && status < 300 && context.id) answered.add(context.id);
              const route = opts.mix === "items" && context.id && sent.get(context.id) === "POST" ? "items" : "slow";
              const counts = (byRoute[route] ??= {});
              counts[status] = (counts[status] ?? 0) + 1;
            },
          },
        ],
      },
      (err, result) => {
        if (err) return reject(err);
        const non2xx: Record<string, number> = {};
        for (const [code, { count }] of Object.entries(result.statusCodeStats ?? {})) {
          if (!code.startsWith("2")) non2xx[code] = count;
        }
        const ok = Object.entries(result.statusCodeStats ?? {}).filter(([c]) => c.startsWith("2")).reduce((s, [, v]) => s + v.count, 0);
        resolve({
          requests: result.requests.total,
          ok,
          non2xx,
          errors,
          timeouts: result.timeouts,
          failed: result.errors + result.non2xx,
          latencyP50Ms: result.latency.p50,
          latencyP99Ms: result.latency.p99,
          durationS: result.duration,
          sent,
          answered,
          byRoute,
        });
      },
    );
    instance.on("reqError", (e: NodeJS.ErrnoException) => {
      const kind = e.code ?? e.message ?? "unknown";
      errors[kind] = (errors[kind] ?? 0) + 1;
    });
    stopper = () => instance.stop();
  });
  return {
    idPrefix,
    stop: async () => {
      stopper();
      return done;
    },
  };
}

/** How many times each request id of `idPrefix` was logged on arrival, over the logs of all replicas. */
export function countArrivals(logs: Iterable<string>, idPrefix: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const text of logs) {
    for (const line of text.split("\n")) {
      if (!line.includes(idPrefix)) continue;
      let entry: { id?: unknown; msg?: unknown };
      try {
        entry = JSON.parse(line);
      } catch {
        continue;
      }
      if (entry.msg === "request" && typeof entry.id === "string" && entry.id.startsWith(idPrefix)) {
        counts.set(entry.id, (counts.get(entry.id) ?? 0) + 1);
      }
    }
  }
  return counts;
}

export interface ExecutionCheck {
  /** Ids executed more than once, with their methods. */
  duplicated: { id: string; method: string; times: number }[];
  duplicatedPosts: number;
  /** Ids answered 2xx but never logged (would mean logs were lost — the count is then not trustworthy). */
  answeredButNotLogged: number;
}

export function checkExecutions(report: LoadReport, arrivals: Map<string, number>): ExecutionCheck {
  const duplicated = [...arrivals].filter(([, n]) => n > 1).map(([id, times]) => ({ id, times, method: report.sent.get(id) ?? "?" }));
  return {
    duplicated,
    duplicatedPosts: duplicated.filter((d) => d.method === "POST").length,
    answeredButNotLogged: [...report.answered].filter((id) => !arrivals.has(id)).length,
  };
}

export interface RowCheck {
  /** 2xx answers to POST /items. */
  postsOk: number;
  /** Rows with this run's names. */
  rows: number;
  /** Names stored more than once. */
  rowsTwice: number;
  /** 2xx POSTs whose row is missing (a lost write). */
  lost: number;
}

/** Compares the rows a load run of mix "items" wrote (queried with `sql`) with the POSTs that were answered 2xx. */
export async function countRows(report: LoadReport, idPrefix: string, sql: (query: string) => Promise<string>): Promise<RowCheck> {
  const out = await sql(`select name, count(*) from items where name like '${idPrefix}-%' group by name`);
  const stored = new Map<string, number>();
  for (const line of out.split("\n").filter(Boolean)) {
    const [name, n] = line.split("|");
    stored.set(name, Number(n));
  }
  const postsOk = [...report.answered].filter((id) => report.sent.get(id) === "POST");
  return {
    postsOk: postsOk.length,
    rows: [...stored.values()].reduce((a, b) => a + b, 0),
    rowsTwice: [...stored.values()].filter((n) => n > 1).length,
    lost: postsOk.filter((id) => !stored.has(id)).length,
  };
}

/** One POST of `writeContinuously`: its unique name, when it was sent and acknowledged, how it ended. */
export interface Write {
  name: string;
  sentAt: number;
  /** when the 201 arrived; undefined for a write that failed or got no answer */
  ackAt?: number;
  status: number;
  /** how a failed write failed: the start of its answer (or the error) */
  failure?: string;
  endAt?: number;
}

/**
 * `writers` clients POSTing unique rows (`<tag>-<n>`) to `<url>/items`, one after another each, until stopped; each
 * write waits up to `timeoutMs` for its answer. The writes a recovery test checks row by row against the database.
 */
export function writeContinuously(url: string, tag: string, writers: number, timeoutMs = 15_000) {
  const writes: Write[] = [];
  let running = true;
  let n = 0;
  const loops = Array.from({ length: writers }, async () => {
    while (running) {
      const w: Write = { name: `${tag}-${n++}`, sentAt: Date.now(), status: 0 };
      writes.push(w);
      try {
        const r = await fetch(`${url}/items`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: w.name }), signal: AbortSignal.timeout(timeoutMs) });
        const body = await r.text();
        w.status = r.status;
        if (r.status === 201) w.ackAt = Date.now();
        else w.failure = body.slice(0, 60);
      } catch (e) {
        w.status = 0;
        w.failure = String((e as Error).cause ?? e).slice(0, 60);
      }
      w.endAt = Date.now();
      await new Promise((r) => setTimeout(r, 10));
    }
  });
  return {
    acked: () => writes.filter((w) => w.ackAt !== undefined).length,
    async stop(): Promise<Write[]> {
      running = false;
      await Promise.all(loops);
      return writes;
    },
  };
}
