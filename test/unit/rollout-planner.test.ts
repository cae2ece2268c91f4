// Table-driven tests of the rollout planner: observed containers in, moves out.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { healthFromStatus, Move, ObservedContainer, plan, stepsOf } from "../../src/rollout/planner";

const NEW = "bbbbbbbb00000000";
const OLD = "aaaaaaaa00000000";
const ODD = "cccccccc00000000";
const desired = (replicas: number) => ({ stack: "demo", service: "api", revision: NEW, replicas });
const c = (rev: string, replica: number, over: Partial<ObservedContainer> = {}): ObservedContainer => ({
  name: `demo-api-${rev.slice(0, 8)}-${replica}`,
  revision: rev,
  replica,
  running: true,
  health: "healthy",
  ...over,
});
const n = (replica: number) => `demo-api-bbbbbbbb-${replica}`;
const o = (replica: number) => `demo-api-aaaaaaaa-${replica}`;

const cases: { name: string; replicas: number; observed: ObservedContainer[]; moves: Move[] }[] = [
  {
    name: "nothing yet: start N",
    replicas: 2,
    observed: [],
    moves: [
      { kind: "scale-up", replica: 1, start: n(1) },
      { kind: "scale-up", replica: 2, start: n(2) },
    ],
  },
  { name: "already converged: nothing to do", replicas: 2, observed: [c(NEW, 1), c(NEW, 2)], moves: [] },
  {
    name: "rollout: replace each old replica, in order",
    replicas: 3,
    observed: [c(OLD, 3), c(OLD, 1), c(OLD, 2)],
    moves: [1, 2, 3].map((r) => ({ kind: "replace", replica: r, start: n(r), retire: o(r) }) as Move),
  },
  {
    name: "interrupted rollout: replica 1 done, 2 new+old both running, 3 old",
    replicas: 3,
    observed: [c(NEW, 1), c(NEW, 2), c(OLD, 2), c(OLD, 3)],
    moves: [
      { kind: "replace", replica: 3, start: n(3), retire: o(3) },
      { kind: "retire", name: o(2), reason: "other revision" },
    ],
  },
  {
    name: "interrupted while new replica starting: wait for it rather than start another",
    replicas: 2,
    observed: [c(NEW, 1, { health: "starting" }), c(OLD, 1), c(OLD, 2)],
    moves: [
      { kind: "adopt", replica: 1, name: n(1) },
      { kind: "replace", replica: 2, start: n(2), retire: o(2) },
      { kind: "retire", name: o(1), reason: "other revision" },
    ],
  },
  {
    name: "stopped containers are discarded first (frees the name), then replaced",
    replicas: 2,
    observed: [c(NEW, 1, { running: false, health: "none" }), c(NEW, 2)],
    moves: [
      { kind: "discard", name: n(1) },
      { kind: "scale-up", replica: 1, start: n(1) },
    ],
  },
  {
    name: "unhealthy container of the wanted revision is retired (drained) up front: its name is needed",
    replicas: 1,
    observed: [c(NEW, 1, { health: "unhealthy" })],
    moves: [
      { kind: "retire", name: n(1), reason: "unhealthy" },
      { kind: "scale-up", replica: 1, start: n(1) },
    ],
  },
  {
    name: "unhealthy OLD replica is replaced new-first, in order, so capacity does not dip",
    replicas: 2,
    observed: [c(OLD, 1), c(OLD, 2, { health: "unhealthy" })],
    moves: [
      { kind: "replace", replica: 1, start: n(1), retire: o(1) },
      { kind: "replace", replica: 2, start: n(2), retire: o(2) },
    ],
  },
  {
    name: "duplicate of the wanted revision on one replica slot is retired",
    replicas: 1,
    observed: [c(NEW, 1), c(NEW, 1, { name: "demo-api-bbbbbbbb-1-copy" })],
    moves: [{ kind: "retire", name: "demo-api-bbbbbbbb-1-copy", reason: "duplicate" }],
  },
  {
    name: "scale up: keep existing, add missing",
    replicas: 3,
    observed: [c(NEW, 1), c(NEW, 2)],
    moves: [{ kind: "scale-up", replica: 3, start: n(3) }],
  },
  {
    name: "scale down: surplus retired",
    replicas: 1,
    observed: [c(NEW, 1), c(NEW, 2), c(NEW, 3)],
    moves: [
      { kind: "retire", name: n(2), reason: "surplus" },
      { kind: "retire", name: n(3), reason: "surplus" },
    ],
  },
  {
    name: "rollout with scale down: replace what maps, retire the rest last",
    replicas: 1,
    observed: [c(OLD, 1), c(OLD, 2)],
    moves: [
      { kind: "replace", replica: 1, start: n(1), retire: o(1) },
      { kind: "retire", name: o(2), reason: "other revision" },
    ],
  },
  {
    name: "rollout with scale up",
    replicas: 2,
    observed: [c(OLD, 1)],
    moves: [
      { kind: "replace", replica: 1, start: n(1), retire: o(1) },
      { kind: "scale-up", replica: 2, start: n(2) },
    ],
  },
  {
    name: "two stray revisions and unlabelled replica: one revision at the end, no orphans",
    replicas: 2,
    observed: [c(OLD, 1), c(ODD, 2), c(ODD, 0, { name: "demo-api-cccccccc-x", replica: 0 })],
    moves: [
      { kind: "replace", replica: 1, start: n(1), retire: o(1) },
      { kind: "replace", replica: 2, start: n(2), retire: "demo-api-cccccccc-2" },
      { kind: "retire", name: "demo-api-cccccccc-x", reason: "other revision" },
    ],
  },
  {
    name: "delete: replicas 0 retires everything",
    replicas: 0,
    observed: [c(NEW, 1), c(OLD, 2, { running: false, health: "none" })],
    moves: [
      { kind: "discard", name: o(2) },
      { kind: "retire", name: n(1), reason: "surplus" },
    ],
  },
];

describe("plan", () => {
  for (const t of cases) {
    it(t.name, () => assert.deepEqual(plan(desired(t.replicas), t.observed), t.moves));
  }
  it("rollback = converge to the previous revision: replicas already replaced are swapped back", () => {
    const previous = { ...desired(3), revision: OLD };
    assert.deepEqual(plan(previous, [c(NEW, 1), c(NEW, 2), c(OLD, 3)]), [
      { kind: "replace", replica: 1, start: o(1), retire: n(1) },
      { kind: "replace", replica: 2, start: o(2), retire: n(2) },
    ]);
  });
  it("rejects a negative replica count with a message naming it", () => {
    assert.throws(() => plan(desired(-1), []), /replicas must be a whole number/);
  });
  it("applying the plan's effects reaches exactly N of one revision", () => {
    let observed = [c(OLD, 1), c(NEW, 2, { health: "starting" }), c(ODD, 5), c(OLD, 3, { running: false })];
    for (let i = 0; i < 20; i++) {
      const moves = plan(desired(3), observed);
      if (moves.length === 0) break;
      observed = apply(observed, moves[0]);
    }
    assert.deepEqual(observed.map((x) => x.name).sort(), [n(1), n(2), n(3)]);
    assert.deepEqual(plan(desired(3), observed), []);
  });
});

function apply(observed: ObservedContainer[], m: Move): ObservedContainer[] {
  switch (m.kind) {
    case "discard":
    case "retire":
      return observed.filter((x) => x.name !== m.name);
    case "adopt":
      return observed.map((x) => (x.name === m.name ? { ...x, health: "healthy" } : x));
    case "scale-up":
      return [...observed, c(NEW, m.replica)];
    case "replace":
      return [...observed.filter((x) => x.name !== m.retire), c(NEW, m.replica)];
    case "batch":
      return m.moves.reduce(apply, observed);
    case "stage":
      return [...observed, c(NEW, m.replica, { routing: "idle" })];
    case "switch":
      return observed.map((x) => (m.live.includes(x.name) ? { ...x, routing: "live" } : m.idle.includes(x.name) ? { ...x, routing: "idle" } : x));
    case "canary":
      // Every share passed: all back to full weight.
      return observed.map((x) => (m.canaries.includes(x.name) || m.stable.includes(x.name) ? { ...x, routing: "live" } : x));
  }
}

describe("plan: canary", () => {
  const canary = (replicas: number) => ({ ...desired(replicas), strategy: "canary" as const, canary: { replicas: 1, steps: [10, 50] } });
  const live = { routing: "live" as const };
  it("a new revision: stage one canary idle, then run the shares beside the serving set (nothing retired yet)", () => {
    assert.deepEqual(plan(canary(3), [c(OLD, 1, live), c(OLD, 2, live), c(OLD, 3, live)]), [
      { kind: "stage", replica: 1, start: n(1) },
      { kind: "canary", canaries: [n(1)], stable: [o(1), o(2), o(3)], steps: [10, 50] },
    ]);
  });
  it("an interrupted canary step (weights set by hand) runs the shares again from the first", () => {
    assert.deepEqual(plan(canary(2), [c(OLD, 1, { routing: "partial" }), c(OLD, 2, { routing: "partial" }), c(NEW, 1, { routing: "partial" })]), [
      { kind: "canary", canaries: [n(1)], stable: [o(1), o(2)], steps: [10, 50] },
    ]);
  });
  it("after the canary passed (full weight), the rest is a rolling replacement, the old replica 1 retired last", () => {
    assert.deepEqual(plan(canary(2), [c(OLD, 1, live), c(OLD, 2, live), c(NEW, 1, live)]), [
      { kind: "replace", replica: 2, start: n(2), retire: o(2) },
      { kind: "retire", name: o(1), reason: "other revision" },
    ]);
  });
  it("a first deploy has nothing to compare with: rolling", () => {
    assert.deepEqual(plan(canary(1), []), [{ kind: "scale-up", replica: 1, start: n(1) }]);
  });
  it("applying the plan's effects ends on N live of the new revision", () => {
    let observed = [c(OLD, 1, live), c(OLD, 2, live), c(OLD, 3, live)];
    for (let i = 0; i < 20; i++) {
      const moves = plan(canary(3), observed);
      if (moves.length === 0) break;
      observed = apply(observed, moves[0]!).map((x) => (x.routing === undefined ? { ...x, routing: "live" } : x));
    }
    assert.deepEqual(observed.map((x) => `${x.name} ${x.routing}`).sort(), [n(1), n(2), n(3)].map((x) => `${x} live`));
  });
});

describe("stepsOf: canary", () => {
  it("one held-and-judged step per share, then every replica back to full weight", () => {
    assert.deepEqual(stepsOf({ kind: "canary", canaries: [n(1)], stable: [o(1), o(2)], steps: [5, 25, 50] }).map((s) => `${s.kind} ${s.name}`), [
      "canary-step 5%", "canary-step 25%", "canary-step 50%", "switch canary passed",
    ]);
  });
});

describe("plan: blue-green", () => {
  const bg = (replicas: number, keep?: string) => ({ ...desired(replicas), strategy: "blue-green" as const, ...(keep ? { keep } : {}) });
  const live = { routing: "live" as const };
  const idle = { routing: "idle" as const };
  const cases: { name: string; desired: ReturnType<typeof bg>; observed: ObservedContainer[]; moves: Move[] }[] = [
    {
      name: "first deploy: stage N, then switch them live",
      desired: bg(2),
      observed: [],
      moves: [
        { kind: "stage", replica: 1, start: n(1) },
        { kind: "stage", replica: 2, start: n(2) },
        { kind: "switch", live: [n(1), n(2)], idle: [] },
      ],
    },
    {
      name: "new revision: stage a full set beside the old one, switch, then retire the old (no window)",
      desired: bg(2),
      observed: [c(OLD, 1, live), c(OLD, 2, live)],
      moves: [
        { kind: "stage", replica: 1, start: n(1) },
        { kind: "stage", replica: 2, start: n(2) },
        { kind: "switch", live: [n(1), n(2)], idle: [o(1), o(2)] },
        { kind: "retire", name: o(1), reason: "other revision" },
        { kind: "retire", name: o(2), reason: "other revision" },
      ],
    },
    {
      name: "never drains the serving set before the switch (no replace moves)",
      desired: bg(2),
      observed: [c(OLD, 1, live), c(OLD, 2, live), c(NEW, 1, idle)],
      moves: [
        { kind: "stage", replica: 2, start: n(2) },
        { kind: "switch", live: [n(1), n(2)], idle: [o(1), o(2)] },
        { kind: "retire", name: o(1), reason: "other revision" },
        { kind: "retire", name: o(2), reason: "other revision" },
      ],
    },
    {
      name: "switched, with a window: the old set stays as the standby",
      desired: bg(2, OLD),
      observed: [c(OLD, 1, idle), c(OLD, 2, idle), c(NEW, 1, live), c(NEW, 2, live)],
      moves: [],
    },
    {
      name: "switch back inside the window: nothing starts, the standby takes the traffic, the bad set stays idle",
      desired: { ...bg(2, NEW), revision: OLD },
      observed: [c(OLD, 1, idle), c(OLD, 2, idle), c(NEW, 1, live), c(NEW, 2, live)],
      moves: [{ kind: "switch", live: [o(1), o(2)], idle: [n(1), n(2)] }],
    },
    {
      name: "a third revision while a standby exists: stage, switch, retire the older standby",
      desired: { ...bg(1, NEW), revision: ODD },
      observed: [c(OLD, 1, idle), c(NEW, 1, live)],
      moves: [
        { kind: "stage", replica: 1, start: "demo-api-cccccccc-1" },
        { kind: "switch", live: ["demo-api-cccccccc-1"], idle: [n(1)] },
        { kind: "retire", name: o(1), reason: "other revision" },
      ],
    },
    {
      name: "an edge that lost its weights (a new edge): the standby is made idle again",
      desired: bg(1, OLD),
      observed: [c(OLD, 1, live), c(NEW, 1, live)],
      moves: [{ kind: "switch", live: [n(1)], idle: [o(1)] }],
    },
    {
      name: "interrupted before the switch: adopt the staged replica still starting, then switch",
      desired: bg(2),
      observed: [c(OLD, 1, live), c(OLD, 2, live), c(NEW, 1, { ...idle, health: "starting" }), c(NEW, 2, idle)],
      moves: [
        { kind: "adopt", replica: 1, name: n(1) },
        { kind: "switch", live: [n(1), n(2)], idle: [o(1), o(2)] },
        { kind: "retire", name: o(1), reason: "other revision" },
        { kind: "retire", name: o(2), reason: "other revision" },
      ],
    },
    {
      name: "no edge (routing absent): no switch; the old set is retired once the new one runs",
      desired: bg(1),
      observed: [c(OLD, 1), c(NEW, 1)],
      moves: [{ kind: "retire", name: o(1), reason: "other revision" }],
    },
    {
      name: "removing the set (0 replicas): everything retires, nothing switches, the standby too",
      desired: bg(0),
      observed: [c(OLD, 1, idle), c(NEW, 1, live)],
      moves: [
        { kind: "retire", name: o(1), reason: "other revision" },
        { kind: "retire", name: n(1), reason: "surplus" },
      ],
    },
  ];
  for (const t of cases) {
    it(t.name, () => assert.deepEqual(plan(t.desired, t.observed), t.moves));
  }
  it("rolling: a wanted replica left idle by a blue-green run is routed first, the others keep serving", () => {
    assert.deepEqual(plan(desired(2), [c(NEW, 1, idle), c(OLD, 2, live)]), [
      { kind: "switch", live: [n(1)], idle: [] },
      { kind: "replace", replica: 2, start: n(2), retire: o(2) },
    ]);
  });
  it("rolling ignores a standby: another revision is retired", () => {
    assert.deepEqual(plan({ ...desired(1), keep: OLD }, [c(OLD, 1, idle), c(NEW, 1, live)]), [{ kind: "retire", name: o(1), reason: "other revision" }]);
  });
  it("applying the plan's effects: N live of the new revision, the standby idle, and nothing else", () => {
    let observed = [c(OLD, 1, live), c(OLD, 2, live), c(OLD, 3, live), c(ODD, 1, idle)];
    for (let i = 0; i < 20; i++) {
      const moves = plan(bg(3, OLD), observed);
      if (moves.length === 0) break;
      // The serving set never has fewer than 3 live replicas at any step.
      assert.ok(observed.filter((x) => x.routing === "live").length >= 3, `step ${i}: capacity`);
      observed = apply(observed, moves[0]!);
    }
    assert.deepEqual(observed.filter((x) => x.routing === "live").map((x) => x.name).sort(), [n(1), n(2), n(3)]);
    assert.deepEqual(observed.filter((x) => x.routing === "idle").map((x) => x.name).sort(), [o(1), o(2), o(3)]);
  });
});

describe("stepsOf: blue-green", () => {
  it("stage = free slots idle, start, healthy, edge up (no drain: the serving set is untouched)", () => {
    assert.deepEqual(stepsOf({ kind: "stage", replica: 1, start: n(1) }).map((s) => s.kind), ["idle-free-slots", "start-new", "wait-healthy", "wait-edge-up"]);
  });
});

describe("stepsOf", () => {
  it("replace = start, healthy, edge up, then drain, drained, remove", () => {
    assert.deepEqual(stepsOf({ kind: "replace", replica: 2, start: n(2), retire: o(2) }).map((s) => `${s.kind} ${s.name}`), [
      `start-new ${n(2)}`, `wait-healthy ${n(2)}`, `wait-edge-up ${n(2)}`,
      `drain-old ${o(2)}`, `wait-drained ${o(2)}`, `remove-old ${o(2)}`,
    ]);
  });
  it("discard removes without draining", () => {
    assert.deepEqual(stepsOf({ kind: "discard", name: o(1) }), [{ kind: "remove-old", name: o(1) }]);
  });
});

describe("healthFromStatus", () => {
  for (const [status, health] of [
    ["Up 3 seconds (healthy)", "healthy"],
    ["Up 1 second (health: starting)", "starting"],
    ["Up 2 minutes (unhealthy)", "unhealthy"],
    ["Exited (0) 2 seconds ago", "none"],
    ["Up 5 seconds", "none"],
  ] as const) {
    it(`${status} → ${health}`, () => assert.equal(healthFromStatus(status), health));
  }
});

describe("planner: surge (rolling in batches)", () => {
  const olds = (count: number) => Array.from({ length: count }, (_, i) => c(OLD, i + 1));
  const replace = (r: number): Move => ({ kind: "replace", replica: r, start: n(r), retire: o(r) });
  const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

  it("12 replicas, surge 4: three batches of four replacements, in replica order", () => {
    const moves = plan({ ...desired(12), surge: 4 }, olds(12));
    assert.deepEqual(moves, [
      { kind: "batch", moves: range(1, 4).map(replace) },
      { kind: "batch", moves: range(5, 8).map(replace) },
      { kind: "batch", moves: range(9, 12).map(replace) },
    ]);
  });

  it("a batch starts all its new replicas, waits for all of them healthy and UP, before draining any old one", () => {
    const [first] = plan({ ...desired(12), surge: 4 }, olds(12));
    const steps = stepsOf(first!).map((s) => `${s.kind} ${s.name}`);
    assert.deepEqual(steps, [
      ...range(1, 4).map((r) => `start-new ${n(r)}`),
      ...range(1, 4).map((r) => `wait-healthy ${n(r)}`),
      ...range(1, 4).map((r) => `wait-edge-up ${n(r)}`),
      ...range(1, 4).map((r) => `drain-old ${o(r)}`),
      ...range(1, 4).map((r) => `wait-drained ${o(r)}`),
      ...range(1, 4).map((r) => `remove-old ${o(r)}`),
    ]);
  });

  it("3 replicas, surge 1 (and surge absent): one replacement at a time, exactly as before surge existed", () => {
    assert.deepEqual(plan({ ...desired(3), surge: 1 }, olds(3)), range(1, 3).map(replace));
    assert.deepEqual(plan(desired(3), olds(3)), range(1, 3).map(replace));
  });

  it("surge = N: one batch of every replica; 10 replicas surge 4: batches of 4, 4, 2", () => {
    assert.deepEqual(plan({ ...desired(5), surge: 5 }, olds(5)), [{ kind: "batch", moves: range(1, 5).map(replace) }]);
    assert.deepEqual(plan({ ...desired(10), surge: 4 }, olds(10)).map((m) => (m.kind === "batch" ? m.moves.length : 1)), [4, 4, 2]);
  });

  it("a first deploy starts in batches too; a batch of one is the plain move", () => {
    const moves = plan({ ...desired(3), surge: 2 }, []);
    assert.deepEqual(moves, [
      { kind: "batch", moves: [1, 2].map((r): Move => ({ kind: "scale-up", replica: r, start: n(r) })) },
      { kind: "scale-up", replica: 3, start: n(3) },
    ]);
    // No old replica in the batch: only the new ones' steps.
    assert.deepEqual(stepsOf(moves[0]!).map((s) => s.kind), ["start-new", "start-new", "wait-healthy", "wait-healthy", "wait-edge-up", "wait-edge-up"]);
  });

  it("an interrupted batch converges: the started new replicas are adopted, the rest batched again", () => {
    const observed = [c(NEW, 1), c(NEW, 2, { health: "starting" }), ...olds(6)];
    assert.deepEqual(plan({ ...desired(6), surge: 4 }, observed), [
      { kind: "adopt", replica: 2, name: n(2) },
      { kind: "batch", moves: range(3, 6).map(replace) },
      { kind: "retire", name: o(1), reason: "other revision" },
      { kind: "retire", name: o(2), reason: "other revision" },
    ]);
  });

  it("applying the first move until none is left converges in N / surge batches", () => {
    let observed = olds(12);
    let rounds = 0;
    for (; rounds < 20; rounds++) {
      const moves = plan({ ...desired(12), surge: 4 }, observed);
      if (moves.length === 0) break;
      observed = apply(observed, moves[0]!);
    }
    assert.equal(rounds, 3);
    assert.deepEqual(observed.map((x) => x.name).sort(), range(1, 12).map(n).sort());
  });

  it("blue-green ignores surge (it stages a whole set); a surge below 1 is refused", () => {
    assert.deepEqual(plan({ ...desired(2), strategy: "blue-green", surge: 2 }, olds(2)), plan({ ...desired(2), strategy: "blue-green" }, olds(2)));
    assert.throws(() => plan({ ...desired(2), surge: 0 }, olds(2)), /surge must be a whole number >= 1/);
  });
});


// Carries out a plan the way the executor does — one move, step by step, then plan again — on a model of Docker and
// the edge, and records after every step how many replicas the edge sends traffic to (weighted and not drained).
function simulate(d: Parameters<typeof plan>[0], start: ObservedContainer[]): { servingPerStep: number[]; end: ObservedContainer[]; starts: number } {
  let now = start.map((x) => ({ ...x }));
  const drained = new Set<string>();
  let freeIdle = d.strategy === "blue-green";
  const servingPerStep: number[] = [];
  let starts = 0;
  for (let i = 0; i < 40; i++) {
    const moves = plan(d, now);
    if (moves.length === 0) return { servingPerStep, end: now, starts };
    for (const s of stepsOf(moves[0]!)) {
      const set = (name: string, over: Partial<ObservedContainer>) => (now = now.map((x) => (x.name === name ? { ...x, ...over } : x)));
      switch (s.kind) {
        case "start-new":
          assert.ok(!now.some((x) => x.name === s.name), `start-new ${s.name}: the name is taken`);
          now.push({ name: s.name, revision: d.revision, replica: s.replica, running: true, health: "starting", routing: "absent" });
          starts++;
          break;
        case "wait-healthy": set(s.name, { health: "healthy" }); break;
        case "wait-edge-up": set(s.name, { routing: freeIdle ? "idle" : "live" }); break;
        case "drain-old": drained.add(s.name); break;
        case "remove-old": now = now.filter((x) => x.name !== s.name); drained.delete(s.name); break;
        case "idle-free-slots": freeIdle = true; break;
        case "switch":
          for (const name of s.live) set(name, { routing: "live" });
          for (const name of s.idle) set(name, { routing: "idle" });
          if (d.strategy !== "blue-green") freeIdle = false;
          break;
        case "canary-step":
          for (const name of [...s.canaries, ...s.stable]) set(name, { routing: "partial" });
          break;
        case "wait-drained": break;
      }
      servingPerStep.push(now.filter((x) => (x.routing === "live" || x.routing === "partial") && !drained.has(x.name)).length);
    }
  }
  throw new Error("did not converge in 40 moves");
}

describe("plan: unhealthy replicas that still serve (Docker's checks time out under load)", () => {
  const sick = (rev: string, replica: number, routing: ObservedContainer["routing"] = "live") => c(rev, replica, { health: "unhealthy", routing });
  const live = { routing: "live" as const };
  const strategies = [
    { name: "rolling", d: desired(3) },
    { name: "surge 2", d: { ...desired(3), surge: 2 } },
    { name: "blue-green", d: { ...desired(3), strategy: "blue-green" as const } },
    { name: "canary", d: { ...desired(3), strategy: "canary" as const, canary: { replicas: 1, steps: [10, 50] } } },
  ];

  it("rolling, all 3 serving replicas unhealthy: each is replaced new first under a spare number, none retired up front", () => {
    assert.deepEqual(plan(desired(3), [sick(NEW, 1), sick(NEW, 2), sick(NEW, 3)]), [
      { kind: "replace", replica: 4, start: n(4), retire: n(1) },
      { kind: "replace", replica: 5, start: n(5), retire: n(2) },
      { kind: "replace", replica: 6, start: n(6), retire: n(3) },
    ]);
  });

  it("blue-green rollback (the observed case): the serving old set, all unhealthy, stays live until a staged set is switched in", () => {
    const rollback = { ...desired(3), revision: OLD, strategy: "blue-green" as const };
    const observed = [sick(OLD, 1), sick(OLD, 2), sick(OLD, 3), c(NEW, 1, { routing: "idle" }), c(NEW, 2, { routing: "idle" })];
    assert.deepEqual(plan(rollback, observed), [
      { kind: "stage", replica: 4, start: o(4) },
      { kind: "stage", replica: 5, start: o(5) },
      { kind: "stage", replica: 6, start: o(6) },
      { kind: "switch", live: [o(4), o(5), o(6)], idle: [o(1), o(2), o(3)] },
      { kind: "retire", name: o(1), reason: "unhealthy" },
      { kind: "retire", name: n(1), reason: "other revision" },
      { kind: "retire", name: o(2), reason: "unhealthy" },
      { kind: "retire", name: n(2), reason: "other revision" },
      { kind: "retire", name: o(3), reason: "unhealthy" },
    ]);
    const run = simulate(rollback, observed);
    assert.ok(Math.min(...run.servingPerStep) >= 3, `serving per step: ${run.servingPerStep.join(" ")}`);
    assert.deepEqual(run.end.map((x) => `${x.name} ${x.health} ${x.routing}`).sort(), [4, 5, 6].map((r) => `${o(r)} healthy live`));
  });

  for (const s of strategies) {
    it(`${s.name}: 3 serving wanted replicas all unhealthy → the edge never has zero serving replicas, and ends on 3 healthy live`, () => {
      const rev = s.d.revision;
      const name = (r: number) => `demo-api-${rev.slice(0, 8)}-${r}`;
      const run = simulate(s.d, [1, 2, 3].map((r) => c(rev, r, { health: "unhealthy", routing: "live", name: name(r) })));
      assert.ok(Math.min(...run.servingPerStep) >= 1, `serving per step: ${run.servingPerStep.join(" ")}`);
      assert.equal(run.end.length, 3);
      assert.ok(run.end.every((x) => x.revision === rev && x.health === "healthy" && x.routing === "live"), JSON.stringify(run.end));
      assert.ok(run.starts <= 3, `${run.starts} replicas started for 3 slots`);
    });
  }

  it("canary rollback: the serving set is the wanted revision now, all unhealthy, and is replaced new first", () => {
    const d = { ...desired(2), revision: OLD, strategy: "canary" as const, canary: { replicas: 1, steps: [10] } };
    assert.deepEqual(plan(d, [sick(OLD, 1), sick(OLD, 2)]), [
      { kind: "replace", replica: 3, start: o(3), retire: o(1) },
      { kind: "replace", replica: 4, start: o(4), retire: o(2) },
    ]);
  });

  it("another healthy replica serves: the unhealthy one is retired up front and restarted under its own name, as before", () => {
    assert.deepEqual(plan(desired(2), [c(NEW, 1, live), sick(NEW, 2)]), [
      { kind: "retire", name: n(2), reason: "unhealthy" },
      { kind: "scale-up", replica: 2, start: n(2) },
    ]);
  });

  it("unhealthy and not serving (idle, absent at the edge): retired up front, as before", () => {
    assert.deepEqual(plan(desired(2), [sick(NEW, 1, "idle"), sick(NEW, 2, "absent")]), [
      { kind: "retire", name: n(1), reason: "unhealthy" },
      { kind: "retire", name: n(2), reason: "unhealthy" },
      { kind: "scale-up", replica: 1, start: n(1) },
      { kind: "scale-up", replica: 2, start: n(2) },
    ]);
  });

  it("a spare number skips names a container of the set already holds", () => {
    assert.deepEqual(plan(desired(1), [sick(NEW, 1), c(NEW, 2, { running: false, health: "none" })]), [
      { kind: "discard", name: n(2) },
      { kind: "replace", replica: 3, start: n(3), retire: n(1) },
    ]);
  });

  it("interrupted replacement: the spare (still starting) takes the slot, the unhealthy one is retired after it", () => {
    assert.deepEqual(plan(desired(1), [sick(NEW, 1), c(NEW, 2, { health: "starting", routing: "live" })]), [
      { kind: "adopt", replica: 2, name: n(2) },
      { kind: "retire", name: n(1), reason: "unhealthy" },
    ]);
  });

  it("a replica under a spare number fills a vacant slot: nothing starts", () => {
    assert.deepEqual(plan(desired(3), [c(NEW, 2, live), c(NEW, 3, live), c(NEW, 4, live)]), []);
  });
});
