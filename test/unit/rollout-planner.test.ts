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
  }
}

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
