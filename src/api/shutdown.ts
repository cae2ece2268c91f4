// The graceful SIGTERM sequence, as an ordered list of injected steps so its order can be tested.

export interface ShutdownSteps {
  markDraining(): void;
  wait(ms: number): Promise<void>;
  /** Stop accepting connections and let in-flight requests finish. */
  closeServer(): Promise<void>;
  closeStore(): Promise<void>;
  log(msg: string, fields?: Record<string, unknown>): void;
}

export async function gracefulShutdown(steps: ShutdownSteps, delayMs: number, signal: string): Promise<void> {
  // /health turns 503 first; the delay gives load balancers time to notice before the listener goes away.
  steps.markDraining();
  steps.log("shutdown: draining", { signal, delayMs });
  await steps.wait(delayMs);
  steps.log("shutdown: closing server, waiting for in-flight requests");
  await steps.closeServer();
  await steps.closeStore();
  steps.log("shutdown: done");
}
