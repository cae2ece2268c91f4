// Unit tests for the graceful shutdown order (src/api/shutdown.ts).
import assert from "node:assert/strict";
import { test } from "node:test";
import { gracefulShutdown } from "../../src/api/shutdown";

test("drains first, waits the delay, then closes the server before the pool", async () => {
  const steps: string[] = [];
  await gracefulShutdown(
    {
      markDraining: () => steps.push("draining"),
      wait: async (ms) => void steps.push(`wait ${ms}`),
      closeServer: async () => void steps.push("close server"),
      closeStore: async () => void steps.push("close store"),
      log: () => {},
    },
    3000,
    "SIGTERM",
  );
  assert.deepEqual(steps, ["draining", "wait 3000", "close server", "close store"]);
});

test("a failing server close rejects and leaves the pool alone", async () => {
  const steps: string[] = [];
  await assert.rejects(
    gracefulShutdown(
      {
        markDraining: () => {},
        wait: async () => {},
        closeServer: async () => {
          throw new Error("boom");
        },
        closeStore: async () => void steps.push("close store"),
        log: () => {},
      },
      0,
      "SIGTERM",
    ),
    /boom/,
  );
  assert.deepEqual(steps, []);
});
