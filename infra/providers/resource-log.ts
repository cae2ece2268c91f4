// Where a dynamic provider's lines go: the engine's log, filed under the resource that acts, so that `pulumi up` and
// `pulumi preview` print the rollout's steps, the edge's reloads and a release's summary under that resource
// (the replica set, the edge) instead of under pulumi:pulumi:Stack, where the engine puts a plugin's stderr.
// One place for ReplicaSet, EdgeProxy, SwarmRelease and SwarmTask.
//
// Why an input: @pulumi/pulumi 3.259's dynamic-provider host (cmd/dynamic-provider) has each request's URN but hands
// the provider only (id, olds, news). The resource cannot pass its own `urn` Output either (it resolves only once the
// engine has registered the inputs that would hold it), so the program computes the same URN (pulumi.createUrn: the
// stack, the project, the parent chain, the type, the name) and passes it as `logUrn`, an input that no provider's
// diff compares and no spec, revision or container name includes: adding it to an existing stack changes nothing.
// The host gets the engine's address as its argument (after the engine's optional flags);
// outside the host (unit tests, bench, a state without `logUrn`) the lines go to stderr as before.
import type * as pulumi from "@pulumi/pulumi";

/** The input each slipway dynamic resource carries: its own URN, for its log lines (see the head of this file). */
export interface LogTarget {
  logUrn?: string;
}

/** The input's name, for the diffs and specs that leave it out. */
export const LOG_URN_KEY = "logUrn" satisfies keyof LogTarget;

/** The URN the engine gives the dynamic resource `name` of `slipway:<type>` under `opts.parent` (the stack when none). */
export function logUrnOf(type: string, name: string, opts?: pulumi.CustomResourceOptions): pulumi.Output<string> {
  // Required here, not imported: this module's code is copied into the state with the providers' closures, and an
  // import would copy @pulumi/pulumi along.
  const { createUrn } = require("@pulumi/pulumi") as typeof pulumi;
  // A dynamic resource registers "pulumi-nodejs:dynamic/<module>:<type>" (engine.ts DynamicResource: module "slipway").
  return createUrn(name, `pulumi-nodejs:dynamic/slipway:${type}`, opts?.parent);
}

/** One resource's log: call it with a line (delivered in order); `flush` resolves once every line has been delivered. */
export interface ResourceLog {
  (line: string): void;
  flush(): Promise<void>;
}

/**
 * Pure: the engine's address when this process is the dynamic-provider host (`node …/cmd/dynamic-provider [flags]
 * <address>`), else undefined. The flags are skipped as the SDK's own providers do (provider/internals parseArgs).
 */
export function engineAddress(argv: readonly string[], mainFile: string | undefined): string | undefined {
  if (!mainFile || !/[\\/]cmd[\\/]dynamic-provider([\\/]index\.js)?$/.test(mainFile)) return undefined;
  const rest = argv.filter((a, i) => a !== "--logtostderr" && !a.startsWith("-v=") && a !== "--tracing" && argv[i - 1] !== "--tracing");
  return rest[0];
}

interface EngineLogClient {
  log(request: unknown, done: (err: Error | null) => void): void;
}
interface LogRequestClass {
  new (): { setSeverity(s: number): void; setMessage(m: string): void; setUrn(u: string): void; setStreamid(n: number): void; setEphemeral(e: boolean): void };
}

/** The host's one client of the engine's Log RPC (kept on `process`: this module's closure is copied into the state). */
function engineLog(): { client: EngineLogClient; LogRequest: LogRequestClass; info: number } | undefined {
  const cache = process as unknown as { slipwayEngineLog?: ReturnType<typeof engineLog> | null };
  if (cache.slipwayEngineLog !== undefined) return cache.slipwayEngineLog ?? undefined;
  const address = engineAddress(process.argv.slice(2), require.main?.filename);
  if (!address) {
    cache.slipwayEngineLog = null;
    return undefined;
  }
  // The host's own copies of grpc-js and the engine's protocol: the ones its @pulumi/pulumi was built with.
  const host = require.main!;
  const grpc = host.require("@grpc/grpc-js") as typeof import("@grpc/grpc-js");
  const { EngineClient } = host.require("@pulumi/pulumi/proto/engine_grpc_pb") as { EngineClient: new (address: string, credentials: unknown) => EngineLogClient };
  const proto = host.require("@pulumi/pulumi/proto/engine_pb") as { LogRequest: LogRequestClass; LogSeverity: { INFO: number } };
  cache.slipwayEngineLog = { client: new EngineClient(address, grpc.credentials.createInsecure()), LogRequest: proto.LogRequest, info: proto.LogSeverity.INFO };
  return cache.slipwayEngineLog;
}

/** The log of the resource `urn`: the engine's, inside the dynamic-provider host; stderr elsewhere, or without a URN. */
export function resourceLog(urn: string | undefined): ResourceLog {
  const toStderr = (line: string) => void process.stderr.write(`${line}\n`);
  const engine = urn ? engineLog() : undefined;
  let delivered = Promise.resolve();
  const log = (line: string) => {
    if (!engine || !urn) return toStderr(line);
    delivered = delivered.then(
      () =>
        new Promise<void>((resolve) => {
          const request = new engine.LogRequest();
          request.setSeverity(engine.info);
          request.setMessage(line);
          request.setUrn(urn);
          request.setStreamid(0);
          request.setEphemeral(false);
          // A line the engine did not take still reaches the operator, on stderr.
          engine.client.log(request, (err) => {
            if (err) toStderr(line);
            resolve();
          });
        }),
    );
  };
  return Object.assign(log, { flush: () => delivered });
}

/** Runs a provider method with the resource's log, and waits for every line to be delivered before it returns or throws. */
export async function withResourceLog<T>(urn: string | undefined, act: (log: ResourceLog) => Promise<T>): Promise<T> {
  const log = resourceLog(urn);
  try {
    return await act(log);
  } finally {
    await log.flush();
  }
}
