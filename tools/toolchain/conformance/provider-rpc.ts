// Talks to a provider plugin binary directly over the ResourceProvider gRPC protocol, the way the
// engine does: start it without an engine address (it then serves on a port it prints), and call
// GetSchema, Configure and Diff. No engine, no stack, no Docker needed; a few milliseconds a call.
// The gRPC and protobuf libraries are the ones @pulumi/pulumi itself ships with.
import { spawn, type ChildProcessByStdio } from "node:child_process";
import { dirname } from "node:path";
import type { Readable } from "node:stream";
import type * as GrpcJs from "@grpc/grpc-js";
import type * as StructPb from "google-protobuf/google/protobuf/struct_pb";
import type * as ProviderPb from "@pulumi/pulumi/proto/provider_pb";
import type * as ProviderGrpc from "@pulumi/pulumi/proto/provider_grpc_pb";

const pulumiDir = dirname(require.resolve("@pulumi/pulumi/package.json"));
const fromPulumi = (id: string) => require(require.resolve(id, { paths: [pulumiDir] }));
const grpc: typeof GrpcJs = fromPulumi("@grpc/grpc-js");
const structPb: typeof StructPb = fromPulumi("google-protobuf/google/protobuf/struct_pb");
const providerPb: typeof ProviderPb = require("@pulumi/pulumi/proto/provider_pb");
const providerGrpc: typeof ProviderGrpc = require("@pulumi/pulumi/proto/provider_grpc_pb");

export type PropertyMap = Record<string, unknown>;

export interface DiffResult {
  replaces: string[];
  diffs: string[];
  /** property path → PropertyDiff kind name (ADD, ADD_REPLACE, DELETE, DELETE_REPLACE, UPDATE, UPDATE_REPLACE). */
  detailed: Record<string, string>;
  deleteBeforeReplace: boolean;
}

const KIND_NAMES = Object.fromEntries(Object.entries(providerPb.PropertyDiff.Kind).map(([k, v]) => [v, k])) as Record<number, string>;

// Without an engine address a plugin never notices that its parent is gone: whatever is still
// running when this process exits (a failed test, an interrupt) is killed with it.
const running = new Set<ChildProcessByStdio<null, Readable, Readable>>();
process.once("exit", () => {
  for (const c of running) c.kill("SIGKILL");
});

export class ProviderPlugin {
  private constructor(
    private readonly child: ChildProcessByStdio<null, Readable, Readable>,
    private readonly client: ProviderGrpc.ResourceProviderClient,
    private readonly stderr: () => string,
  ) {}

  /** Starts the plugin binary and connects to it; fails within `timeoutMs` if it never prints its port. */
  static async start(binary: string, timeoutMs = 20_000): Promise<ProviderPlugin> {
    const child = spawn(binary, [], { stdio: ["ignore", "pipe", "pipe"] });
    running.add(child);
    child.once("exit", () => running.delete(child));
    let err = "";
    child.stderr.on("data", (d: Buffer) => {
      err = (err + d.toString("utf8")).slice(-4000);
    });
    const port = await new Promise<string>((resolvePort, reject) => {
      let out = "";
      const timer = setTimeout(() => reject(new Error(`${binary} printed no port within ${timeoutMs} ms: ${err}`)), timeoutMs);
      child.once("error", (e) => {
        clearTimeout(timer);
        reject(e);
      });
      child.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`${binary} exited with ${code} before serving: ${err}`));
      });
      child.stdout.on("data", (d: Buffer) => {
        out += d.toString("utf8");
        const m = /^(\d+)\s*$/m.exec(out);
        if (m) {
          clearTimeout(timer);
          resolvePort(m[1]);
        }
      });
    });
    child.removeAllListeners("exit");
    child.once("exit", () => running.delete(child));
    const client = new providerGrpc.ResourceProviderClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    return new ProviderPlugin(child, client, () => err);
  }

  private call<Req, Res>(method: string, req: Req): Promise<Res> {
    const fn = (this.client as unknown as Record<string, (r: Req, cb: (e: GrpcJs.ServiceError | null, r: Res) => void) => void>)[method];
    return new Promise((resolveCall, reject) =>
      fn.call(this.client, req, (e, r) => (e ? reject(new Error(`${method}: ${e.message}\n${this.stderr()}`)) : resolveCall(r))),
    );
  }

  async getSchema(): Promise<unknown> {
    const res = await this.call<ProviderPb.GetSchemaRequest, ProviderPb.GetSchemaResponse>("getSchema", new providerPb.GetSchemaRequest());
    return JSON.parse(res.getSchema());
  }

  async configure(args: PropertyMap = {}): Promise<void> {
    const req = new providerPb.ConfigureRequest();
    req.setArgs(structPb.Struct.fromJavaScript(args as Record<string, StructPb.JavaScriptValue>));
    req.setAcceptsecrets(true);
    req.setAcceptresources(true);
    req.setSendsOldInputs(true);
    req.setSendsOldInputsToDelete(true);
    await this.call("configure", req);
  }

  /** Diff of a resource whose state is `olds` (and inputs `oldInputs`, default `olds`) against `news`. */
  async diff(type: string, olds: PropertyMap, news: PropertyMap, oldInputs: PropertyMap = olds): Promise<DiffResult> {
    const req = new providerPb.DiffRequest();
    const name = "conformance";
    req.setId("conformance-id");
    req.setUrn(`urn:pulumi:conformance::conformance::${type}::${name}`);
    req.setName(name);
    req.setType(type);
    const struct = (m: PropertyMap) => structPb.Struct.fromJavaScript(m as Record<string, StructPb.JavaScriptValue>);
    req.setOlds(struct(olds));
    req.setNews(struct(news));
    req.setOldInputs(struct(oldInputs));
    const res = await this.call<ProviderPb.DiffRequest, ProviderPb.DiffResponse>("diff", req);
    const detailed: Record<string, string> = {};
    res.getDetaileddiffMap().forEach((v, k) => {
      detailed[k] = KIND_NAMES[v.getKind()] ?? String(v.getKind());
    });
    return { replaces: res.getReplacesList(), diffs: res.getDiffsList(), detailed, deleteBeforeReplace: res.getDeletebeforereplace() };
  }

  /** Stops the plugin (SIGINT, as the engine does; SIGKILL after 5 s). */
  async close(): Promise<void> {
    this.client.close();
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    await new Promise<void>((resolveClose) => {
      const timer = setTimeout(() => this.child.kill("SIGKILL"), 5000);
      this.child.once("exit", () => {
        clearTimeout(timer);
        resolveClose();
      });
      this.child.kill("SIGINT");
    });
  }
}
