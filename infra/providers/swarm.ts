// The Swarm target's dynamic providers, loading src/swarm from the working copy at run time (./engine.ts):
// - SwarmRelease: the API, one Swarm service per revision in one of two colour slots, released behind every edge task
//   (src/swarm/release.ts). Any change of its inputs is a release (an update, never a replacement).
// - SwarmFile: a Swarm config or secret the edge's config server mounts (haproxy.cfg, the TLS PEM), removed once no
//   service's spec, current or previous, names it (src/swarm/configs.ts).
// - SwarmEdgeReady: waits until every edge task runs the edge's spec and has loaded its config (src/swarm/edge-config.ts).
// - SwarmTask: a one-off task run to its exit through the manager whenever its inputs change (database roles,
//   migrations); a failing task fails `pulumi up` with its exit code and log tail.
// Pulumi ignores customTimeouts here: the budgets are inputs.
import * as pulumi from "@pulumi/pulumi";
import type { CanarySettings, Colour, FileScope, OneOffSpec, ReleaseTimeouts, SwarmEdgeTarget, SwarmReleaseSpec, SwarmStandby } from "../../src/swarm";
import { DynamicResource, loadEngine, PROVIDER_CODE, providerCode, withoutProviderCode } from "./engine";
import { LOG_URN_KEY, type LogTarget, logUrnOf, type ResourceLog, withResourceLog } from "./resource-log";

const engine = () => loadEngine<typeof import("../../src/swarm")>("swarm");
const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

type Inputs<T> = { [K in keyof T]: pulumi.Input<T[K]> };
export type Diff = pulumi.dynamic.DiffResult & { detailedDiff: Record<string, { kind: "update" | "update-replace"; inputDiff: boolean }> };

/** Pure: which inputs changed (each an update: a release or a re-run, never a replacement); where it logs is no input that changes. */
export function diffInputs<T extends object>(olds: T, news: T, outputs: readonly string[]): Diff {
  const keys = [...new Set([...Object.keys(olds), ...Object.keys(news)])].filter((k) => !outputs.includes(k) && k !== LOG_URN_KEY && k !== PROVIDER_CODE).sort();
  const changed = keys.filter((k) => !same((olds as Record<string, unknown>)[k], (news as Record<string, unknown>)[k]));
  const detailedDiff: Diff["detailedDiff"] = {};
  for (const k of changed) detailedDiff[k] = { kind: "update", inputDiff: true };
  return { changes: changed.length > 0, replaces: [], detailedDiff, deleteBeforeReplace: false };
}

/**
 * Whether `dockerHost` is all that changed: the same swarm reached through another manager. Still a change (the new
 * address must be stored, or a later update or delete would call the old one), but one that runs nothing.
 */
export function onlyConnectionChanged<T extends { dockerHost?: string }>(olds: T, news: T, outputs: readonly string[] = []): boolean {
  const changed = Object.keys(diffInputs(olds, news, outputs).detailedDiff);
  return changed.length > 0 && changed.every((k) => k === "dockerHost");
}

export interface SwarmReleaseInputs extends SwarmReleaseSpec, LogTarget {
  edge: SwarmEdgeTarget;
  timeouts: ReleaseTimeouts;
  /** api.rollout.strategy blue-green: stage idle, switch at once, keep the old service idle `keepOldMinutes`. */
  blueGreen?: { keepOldMinutes: number };
  /** api.rollout.strategy canary: the canary's tasks, shares, hold and gate (src/swarm/release.ts canarySteps). */
  canary?: CanarySettings;
  /** The manager: unix://, tcp://, ssh://user@host; DOCKER_HOST of the provider process when omitted. */
  dockerHost?: string;
}

export interface SwarmReleaseProps extends SwarmReleaseInputs {
  /** The serving colour and its service. */
  colour?: Colour;
  service?: string;
  revision?: string;
  /** Blue-green: the previous service, running idle for a switch back, until when; null when there is none (as the
   * replica set's: a missing output is unknown in every preview). */
  standby?: SwarmStandby | null;
}

const RELEASE_OUTPUTS = ["colour", "service", "revision", "standby"] as const;

function releaseSpec(p: SwarmReleaseInputs): SwarmReleaseSpec {
  const { edge: _e, timeouts: _t, blueGreen: _b, canary: _cn, dockerHost: _d, logUrn: _l, colour: _c, service: _s, revision: _r, standby: _sb, ...spec } = withoutProviderCode(p as SwarmReleaseProps);
  return spec;
}

function releaseContext(p: SwarmReleaseInputs, log: ResourceLog) {
  const e = engine();
  e.exitWhenOrphaned(); // a killed `pulumi up` must not leave this process releasing behind the next one
  return { docker: e.connectDocker(p.dockerHost), edge: p.edge, timeouts: p.timeouts, log };
}

async function releaseOuts(p: SwarmReleaseInputs, serving?: Colour, standby?: SwarmStandby | null): Promise<SwarmReleaseProps> {
  const policy = { ...(p.blueGreen ? { blueGreen: p.blueGreen } : {}), ...(p.canary ? { canary: p.canary } : {}), ...(standby ? { standby } : {}) };
  const result = await withResourceLog(p.logUrn, (log) => engine().release(releaseContext(p, log), releaseSpec(p), serving, policy));
  return { ...p, colour: result.colour, service: result.service, revision: result.revision, standby: result.standby ?? null };
}

/** How long a diff waits for the manager's list of services (an unreachable manager: the update says so, not the diff). */
const LEFTOVER_ASK_MS = 10_000;

/**
 * The API service in the colour that does not serve, when it is neither the recorded standby nor expected: what an
 * interrupted run left (the next update drains and removes it, src/swarm/release.ts).
 */
async function leftoverOf(olds: SwarmReleaseProps): Promise<string | undefined> {
  if (!olds.colour) return undefined;
  const observed = await engine().observeServices(engine().connectDocker(olds.dockerHost), olds.stack);
  return observed.find((o) => o.colour !== olds.colour && o.name !== olds.standby?.service)?.name;
}

/** The one-line summary of a change (src/swarm/summary.ts); a summary that cannot be made says why, never fails the diff. */
function releaseSummary(olds: SwarmReleaseProps, news: SwarmReleaseInputs, changed: string[], now: number, leftover?: string): string {
  try {
    const stored = { spec: releaseSpec(olds), ...(olds.colour ? { colour: olds.colour } : {}), ...(olds.revision ? { revision: olds.revision } : {}), ...(olds.standby ? { standby: olds.standby } : {}), ...(leftover ? { leftover } : {}) };
    return engine().summarizeRelease(stored, releaseSpec(news), changed, { ...(news.blueGreen ? { blueGreen: news.blueGreen } : {}), ...(news.canary ? { canary: news.canary } : {}), now });
  } catch (e) {
    return `release of ${changed.join(", ")} (no summary: ${(e as Error).message})`;
  }
}

export const swarmReleaseProvider: pulumi.dynamic.ResourceProvider = {
  async check(_olds: SwarmReleaseInputs, news: SwarmReleaseInputs) {
    // In a preview, values computed by other resources are not known yet: validate them at `up`.
    if (engine().holdsPreviewUnknown(news)) return { inputs: news };
    try {
      engine().validateReleaseSpec(releaseSpec(news));
      return { inputs: news };
    } catch (e) {
      return { inputs: news, failures: [{ property: "image", reason: (e as Error).message }] };
    }
  },
  async create(inputs: SwarmReleaseInputs) {
    const outs = await releaseOuts(inputs);
    return { id: `${inputs.stack}/api`, outs };
  },
  async diff(_id: string, olds: SwarmReleaseProps, news: SwarmReleaseInputs) {
    const inputs = diffInputs(olds, news, RELEASE_OUTPUTS);
    // A blue-green standby whose window has passed is work left: the next update removes it.
    const now = Date.now();
    const expired = olds.standby != null && !engine().standbyLive(olds.standby, now);
    // So is a service an interrupted run left in the other colour (the manager asked; unreachable: the update says so).
    const leftover = await Promise.race([leftoverOf(olds).catch(() => undefined), new Promise<undefined>((r) => setTimeout(() => r(undefined), LEFTOVER_ASK_MS).unref())]);
    const work = { ...(expired ? { standby: { kind: "update" as const, inputDiff: false } } : {}), ...(leftover ? { leftover: { kind: "update" as const, inputDiff: false } } : {}) };
    const diff: Diff = Object.keys(work).length > 0 ? { ...inputs, changes: true, detailedDiff: { ...inputs.detailedDiff, ...work } } : inputs;
    // What the next up will do, in one line under the resource (a preview's answer to "what happens?").
    if (diff.changes) {
      const line = onlyConnectionChanged(olds, news, RELEASE_OUTPUTS) ? `through ${news.dockerHost ?? "DOCKER_HOST"} now (was ${olds.dockerHost ?? "DOCKER_HOST"}): nothing is released` : releaseSummary(olds, news, Object.keys(diff.detailedDiff), now, leftover);
      await withResourceLog(news.logUrn, async (log) => log(`[release] ${line}`));
    }
    return diff;
  },
  async update(_id: string, olds: SwarmReleaseProps, news: SwarmReleaseInputs) {
    // The same swarm through another manager: the release stands; only the address is stored.
    if (onlyConnectionChanged(olds, news, RELEASE_OUTPUTS)) return { outs: { ...news, colour: olds.colour, service: olds.service, revision: olds.revision, standby: olds.standby ?? null } };
    return { outs: await releaseOuts(news, olds.colour, olds.standby) };
  },
  async delete(_id: string, props: SwarmReleaseProps) {
    await engine().removeRelease(engine().connectDocker(props.dockerHost), props.stack);
  },
};

export class SwarmRelease extends DynamicResource {
  declare readonly image: pulumi.Output<string>;
  declare readonly replicas: pulumi.Output<number>;
  declare readonly colour: pulumi.Output<Colour>;
  declare readonly service: pulumi.Output<string>;
  declare readonly revision: pulumi.Output<string>;
  declare readonly standby: pulumi.Output<SwarmStandby | null | undefined>;

  constructor(name: string, args: Inputs<SwarmReleaseInputs>, opts?: pulumi.CustomResourceOptions) {
    super(
      providerCode("swarm", "swarmReleaseProvider", swarmReleaseProvider),
      "SwarmRelease",
      name,
      // env, the secrets and their key are secret in the stored inputs too.
      { ...args, env: pulumi.secret(args.env), secrets: pulumi.secret(args.secrets), secretsKey: pulumi.secret(args.secretsKey), logUrn: logUrnOf("SwarmRelease", name, opts), colour: undefined, service: undefined, revision: undefined, standby: undefined },
      { ...opts, additionalSecretOutputs: [...(opts?.additionalSecretOutputs ?? []), "env", "secrets", "secretsKey"] },
    );
  }
}

export interface SwarmTaskInputs extends OneOffSpec, LogTarget {
  /** Values whose change re-runs the task (the image, the database service's ID…). */
  triggers: unknown[];
  dockerHost?: string;
}

function oneOff(p: SwarmTaskInputs): OneOffSpec {
  const { triggers: _t, dockerHost: _d, logUrn: _l, ...spec } = withoutProviderCode(p);
  return spec;
}

async function runTask(p: SwarmTaskInputs): Promise<void> {
  const e = engine();
  e.exitWhenOrphaned();
  await withResourceLog(p.logUrn, (log) => e.runOneOff(e.connectDocker(p.dockerHost), oneOff(p), log));
}

export const swarmTaskProvider: pulumi.dynamic.ResourceProvider = {
  async create(inputs: SwarmTaskInputs) {
    await runTask(inputs);
    return { id: `${inputs.stack}/${inputs.name}`, outs: inputs };
  },
  async diff(_id: string, olds: SwarmTaskInputs, news: SwarmTaskInputs) {
    return diffInputs(olds, news, []);
  },
  async update(_id: string, olds: SwarmTaskInputs, news: SwarmTaskInputs) {
    // Another manager of the same swarm (the one dockerHost named was lost): the task already ran there; the new
    // address is only stored, so that what comes next reaches a manager that answers.
    if (!onlyConnectionChanged(olds, news)) await runTask(news);
    return { outs: news };
  },
  // Nothing stays behind a one-off task (its service and secrets are removed after each run).
  async delete() {},
};

export class SwarmTask extends DynamicResource {
  constructor(name: string, args: Inputs<SwarmTaskInputs>, opts?: pulumi.CustomResourceOptions) {
    super(
      providerCode("swarm", "swarmTaskProvider", swarmTaskProvider),
      "SwarmTask",
      name,
      { ...args, secrets: pulumi.secret(args.secrets), secretsKey: pulumi.secret(args.secretsKey), logUrn: logUrnOf("SwarmTask", name, opts) },
      { ...opts, additionalSecretOutputs: [...(opts?.additionalSecretOutputs ?? []), "secrets", "secretsKey"] },
    );
  }
}

export interface SwarmFileInputs extends LogTarget, FileScope {
  /** Its content's hash in it (an HMAC for a secret): another content is another name (Swarm's objects are immutable). */
  name: string;
  content: string;
  dockerHost?: string;
}

export interface SwarmFileProps extends SwarmFileInputs {
  /** The object's Swarm ID (the resource's ID too). */
  fileId: string;
}

export const swarmFileProvider: pulumi.dynamic.ResourceProvider = {
  async create(inputs: SwarmFileInputs) {
    const e = engine();
    const { id, pruned } = await e.ensureFile(e.connectDocker(inputs.dockerHost), scopeOf(inputs), inputs.name, inputs.content);
    if (pruned.length > 0) await withResourceLog(inputs.logUrn, async (log) => log(`[${inputs.kind}] removed ${pruned.join(", ")} (named by no service's spec, current or previous)`));
    return { id, outs: { ...withoutProviderCode(inputs), fileId: id } };
  },
  async diff(_id: string, olds: SwarmFileProps, news: SwarmFileInputs) {
    const diff = diffInputs(olds, news, ["fileId"]);
    // Another content is another object; another manager of the same swarm is only stored.
    const replaces = Object.keys(diff.detailedDiff).filter((k) => k !== "dockerHost");
    for (const k of replaces) diff.detailedDiff[k] = { kind: "update-replace", inputDiff: true };
    return { ...diff, replaces };
  },
  async update(_id: string, olds: SwarmFileProps, news: SwarmFileInputs) {
    return { outs: { ...withoutProviderCode(news), fileId: olds.fileId } };
  },
  async delete(_id: string, props: SwarmFileProps) {
    const e = engine();
    const outcome = await e.deleteFile(e.connectDocker(props.dockerHost), scopeOf(props), props.name);
    if (outcome === "left") await withResourceLog(props.logUrn, async (log) => log(`[${props.kind}] ${props.name} left for the previous spec of the service that used it (Swarm keeps it for a rollback); the next change or \`pulumi destroy\` removes it`));
  },
};

const scopeOf = (p: FileScope): FileScope => ({ stack: p.stack, role: p.role, kind: p.kind });

/**
 * A Swarm config or secret the edge's config server mounts (src/swarm/configs.ts: why not docker.ServiceConfig or
 * docker.Secret). A secret's content is a Pulumi secret in the state too.
 */
export class SwarmFile extends DynamicResource {
  declare readonly name: pulumi.Output<string>;
  declare readonly fileId: pulumi.Output<string>;

  constructor(name: string, args: Inputs<SwarmFileInputs>, opts?: pulumi.CustomResourceOptions) {
    super(
      providerCode("swarm", "swarmFileProvider", swarmFileProvider),
      "SwarmFile",
      name,
      { ...args, content: args.kind === "secret" ? pulumi.secret(args.content) : args.content, logUrn: logUrnOf("SwarmFile", name, opts), fileId: undefined },
      { ...opts, additionalSecretOutputs: [...(opts?.additionalSecretOutputs ?? []), ...(args.kind === "secret" ? ["content"] : [])] },
    );
  }
}

export interface SwarmEdgeReadyInputs extends LogTarget {
  stack: string;
  edge: SwarmEdgeTarget;
  /** The hash of the config every edge task must have loaded (its `description`). */
  configHash: string;
  /** The edge image every edge task must run. */
  image: string;
  timeoutMs: number;
  dockerHost?: string;
}

export const swarmEdgeReadyProvider: pulumi.dynamic.ResourceProvider = {
  async create(inputs: SwarmEdgeReadyInputs) {
    await waitEdge(inputs);
    return { id: `${inputs.stack}/edge`, outs: withoutProviderCode(inputs) };
  },
  async diff(_id: string, olds: SwarmEdgeReadyInputs, news: SwarmEdgeReadyInputs) {
    return diffInputs(olds, news, []);
  },
  async update(_id: string, olds: SwarmEdgeReadyInputs, news: SwarmEdgeReadyInputs) {
    if (!onlyConnectionChanged(olds, news)) await waitEdge(news);
    return { outs: withoutProviderCode(news) };
  },
  async delete() {},
};

async function waitEdge(p: SwarmEdgeReadyInputs): Promise<void> {
  const e = engine();
  e.exitWhenOrphaned();
  await withResourceLog(p.logUrn, (log) => e.waitEdgeConfig(e.connectDocker(p.dockerHost), p.stack, p.edge, p.configHash, p.timeoutMs, (l) => log(`[edge] ${l}`)));
}

/**
 * Every edge task on the edge's current spec with the current config loaded (src/swarm/edge-config.ts): what an up that
 * changes the edge waits for before it releases or returns.
 */
export class SwarmEdgeReady extends DynamicResource {
  constructor(name: string, args: Inputs<SwarmEdgeReadyInputs>, opts?: pulumi.CustomResourceOptions) {
    super(providerCode("swarm", "swarmEdgeReadyProvider", swarmEdgeReadyProvider), "SwarmEdgeReady", name, { ...args, logUrn: logUrnOf("SwarmEdgeReady", name, opts) }, opts);
  }
}
