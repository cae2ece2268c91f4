// Entry point of the demo API (`node dist/api/server.js`): config, pool, HTTP listener, signal handling.
import { buildApp } from "./app";
import { readConfig, withFileEnv } from "./config";
import { gracefulShutdown } from "./shutdown";
import { pgStore } from "./store";

/**
 * The test-only routes (GET|POST /slow, src/api/slow.ts), or undefined where the image was built without them: the
 * production image's build removes that module (images/api/Dockerfile, build arg TEST_ROUTES=false), so no run-time
 * setting can turn them on there.
 */
async function testRoutes(): Promise<typeof import("./slow") | undefined> {
  try {
    return await import("./slow");
  } catch (error) {
    if ((error as { code?: unknown }).code === "MODULE_NOT_FOUND" && /Cannot find module '\.\/slow'/.test(String(error))) return undefined;
    throw error;
  }
}

async function main(): Promise<void> {
  // Secrets come as files (PGPASSWORD_FILE, …): read once, into this object, never back into process.env.
  const config = readConfig(withFileEnv(process.env));
  let draining = false;
  let onIdleError = (_error: Error): void => {};
  const store = pgStore(config.db, (error) => onIdleError(error), { connectWaitMs: config.dbConnectWaitMs });
  const app = buildApp({ store, version: config.version, isDraining: () => draining, logger: true });
  const slow = await testRoutes();
  slow?.registerSlowRoutes(app, config.version);
  onIdleError = (error) => app.log.error({ err: error }, "database connection lost");

  if (config.shutdownMode === "abrupt") {
    // Test-only variant: behaves like an app that ignores drain etiquette.
    for (const signal of ["SIGTERM", "SIGINT"] as const) process.once(signal, () => process.exit(0));
  } else {
    let stopping = false;
    const stop = (signal: string): void => {
      if (stopping) return;
      stopping = true;
      gracefulShutdown(
        {
          markDraining: () => (draining = true),
          wait: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
          closeServer: () => app.close(),
          closeStore: () => store.close(),
          log: (msg, fields) => app.log.info(fields ?? {}, msg),
        },
        config.shutdownDelayMs,
        signal,
      ).then(
        () => process.exit(0),
        (error: unknown) => {
          app.log.error({ err: error }, "shutdown failed");
          process.exit(1);
        },
      );
    };
    process.on("SIGTERM", () => stop("SIGTERM"));
    process.on("SIGINT", () => stop("SIGINT"));
  }

  await app.listen({ host: "0.0.0.0", port: config.port });
  app.log.info({ version: config.version, port: config.port, shutdownMode: config.shutdownMode, testRoutes: slow !== undefined }, "api started");
}

main().catch((error: unknown) => {
  console.error(JSON.stringify({ level: 60, msg: "api failed to start", error: String(error) }));
  process.exit(1);
});
