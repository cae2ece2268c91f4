// ReplicaSet: N API replicas on a Docker host, replaced one at a time (or api.rollout.surge at a time) behind the HAProxy edge.
// A Pulumi dynamic provider. Its code is serialized into the stack state, so the closure is kept tiny: every
// method loads the rollout engine (src/rollout) from the working copy at run time (./engine.ts). Pulumi ignores customTimeouts here; `rollout` carries our own.
// The shape of a replica set is declared once, as ReplicaSpec (src/rollout/spec.ts); the args and the stored
// properties derive from it, and `diff` walks its keys so a preview names every setting that changed.
import * as pulumi from "@pulumi/pulumi";
import type { EdgeTarget, ReplicaSpec, RolloutPolicy, RolloutTimeouts, Standby, StrategySettings } from "../../src/rollout";
import { DynamicResource, loadEngine, PROVIDER_CODE, providerCode, withoutProviderCode } from "./engine";
import { LOG_URN_KEY, type LogTarget, logUrnOf, type ResourceLog, withResourceLog } from "./resource-log";

/** What the provider receives and stores: the spec, where the edge is, how long steps may take, which engine, where it logs. */
export interface ReplicaSetInputs extends ReplicaSpec, LogTarget {
  edge?: EdgeTarget;
  rollout: RolloutTimeouts & StrategySettings;
  /** unix://, tcp://, ssh://user@host; DOCKER_HOST of the provider process when omitted. */
  dockerHost?: string;
}

/** The inputs as stored, plus what the provider observed. */
export interface ReplicaSetProps extends ReplicaSetInputs {
  /** Names of the running replica containers. */
  containers?: string[];
  /** Hash of everything that needs new containers when it changes (not the replica count). */
  revision?: string;
  /** blue-green: the previous set, running idle until `until` for a switch back; null when there is none (a missing
   * output would be unknown in every preview: the stack's apiStandby output would show as a change). */
  standby?: Standby | null;
}

type Inputs<T> = { [K in keyof T]: pulumi.Input<T[K]> };
export type ReplicaSetArgs = Inputs<ReplicaSetInputs>;

/** Inputs whose change makes it another replica set (a replacement); every other input is a rolling update. */
const IDENTITY: (keyof ReplicaSetInputs)[] = ["stack", "service"];
const OUTPUTS: (keyof ReplicaSetProps)[] = ["containers", "revision", "standby"];
/** Inputs no diff compares: outputs, and where the provider logs (resource-log.ts). */
const NOT_COMPARED: string[] = [...OUTPUTS, LOG_URN_KEY, PROVIDER_CODE];

const engine = () => loadEngine<typeof import("../../src/rollout")>("rollout");

function specOf(p: ReplicaSetInputs): ReplicaSpec {
  const { edge: _edge, rollout: _rollout, dockerHost: _dockerHost, logUrn: _logUrn, containers: _c, revision: _r, standby: _s, ...spec } = withoutProviderCode(p as ReplicaSetProps);
  return spec;
}

/** The strategy of `p`, with the standby an earlier run left (`olds`). */
function policyOf(p: ReplicaSetInputs, olds?: ReplicaSetProps): RolloutPolicy {
  // Stacks written before the strategy existed have neither key: rolling.
  return {
    strategy: p.rollout.strategy ?? "rolling",
    // Stacks written before surge existed: one at a time, as then.
    ...(p.rollout.surge !== undefined ? { surge: p.rollout.surge } : {}),
    keepOldMinutes: p.rollout.blueGreen?.keepOldMinutes ?? 0,
    ...(p.rollout.canary ? { canary: p.rollout.canary } : {}),
    ...(olds?.standby ? { standby: olds.standby } : {}),
  };
}

function contextOf(p: ReplicaSetInputs, log: ResourceLog) {
  const e = engine();
  // A killed `pulumi up` must not leave this process rolling replicas behind the next one.
  e.exitWhenOrphaned();
  // SLIPWAY_ROLLOUT_EVENTS=<file>: one JSON line per rollout step (replica, step, duration, outcome), for CI and
  // monitoring. The provider process inherits the environment of the `pulumi` command.
  const eventsFile = process.env.SLIPWAY_ROLLOUT_EVENTS;
  const fs = require("node:fs") as typeof import("node:fs");
  return {
    docker: e.connectDocker(p.dockerHost),
    edge: p.edge,
    timeouts: p.rollout,
    log,
    ...(eventsFile ? { onEvent: (event: object) => fs.appendFileSync(eventsFile, `${JSON.stringify(event)}\n`) } : {}),
  };
}

function outsOf(p: ReplicaSetInputs, result: { containers: string[]; standby?: Standby }): ReplicaSetProps {
  return { ...p, containers: result.containers, revision: engine().revisionOfSpec(specOf(p)), standby: result.standby ?? null };
}

const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

/** The keys whose values differ between two objects (either may be missing: then none are named). */
function changedKeys(a: object | undefined, b: object | undefined): string[] {
  if (!a || !b) return [];
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  return [...new Set([...Object.keys(x), ...Object.keys(y)])].filter((k) => !same(x[k], y[k])).sort();
}

/** Per changed input: a rolling update, or a replacement (identity). */
export type ReplicaSetDiff = pulumi.dynamic.DiffResult & { detailedDiff: Record<string, { kind: "update" | "update-replace"; inputDiff: boolean }> };

/**
 * Pure: which inputs changed, and whether that is a replacement. The Node dynamic-provider host of
 * @pulumi/pulumi 3.259 forwards only changes/replaces to the engine (the engine then names the changed inputs
 * in the preview itself); `detailedDiff` is returned for the hosts that forward it, and for tests.
 */
export function diffReplicaSet(olds: ReplicaSetProps, news: ReplicaSetInputs, now = Date.now()): ReplicaSetDiff {
  const keys = new Set([...Object.keys(olds), ...Object.keys(news)].filter((k) => !NOT_COMPARED.includes(k))) as Set<keyof ReplicaSetInputs>;
  const changed = [...keys].filter((k) => !same(olds[k], news[k])).sort();
  const replaces = changed.filter((k) => IDENTITY.includes(k));
  const detailedDiff: ReplicaSetDiff["detailedDiff"] = {};
  for (const k of changed) {
    // The rollout settings say how replicas move, not what runs (the revision excludes them): name the setting
    // that changed (rollout.surge, rollout.strategy), an update that starts no replica by itself.
    const subKeys = k === "rollout" ? changedKeys(olds.rollout, news.rollout) : [];
    if (subKeys.length > 0) for (const sub of subKeys) detailedDiff[`rollout.${sub}`] = { kind: "update", inputDiff: true };
    else detailedDiff[k] = { kind: IDENTITY.includes(k) ? "update-replace" : "update", inputDiff: true };
  }
  // Containers that vanished or multiplied outside Pulumi (found by read) also call for an update.
  const drifted = olds.containers !== undefined && olds.containers.length !== olds.replicas;
  if (drifted) detailedDiff.containers = { kind: "update", inputDiff: false };
  // A blue-green standby whose window has passed is work left: the next update removes it.
  const expired = olds.standby != null && Date.parse(olds.standby.until) <= now;
  if (expired) detailedDiff.standby = { kind: "update", inputDiff: false };
  return { changes: changed.length > 0 || drifted || expired, replaces, detailedDiff, deleteBeforeReplace: false };
}

/** The one-line summary of a change (src/rollout/summary.ts); a summary that cannot be made says why, never fails the diff. */
function summaryOf(olds: ReplicaSetProps, news: ReplicaSetInputs, changed: string[]): string {
  try {
    const running = olds.containers?.length;
    return engine().summarizeChange({ spec: specOf(olds), ...(olds.revision ? { revision: olds.revision } : {}), ...(running !== undefined ? { running } : {}) }, specOf(news), policyOf(news, olds), changed);
  } catch (e) {
    return `update of ${changed.join(", ")} (no summary: ${(e as Error).message})`;
  }
}

export const replicaSetProvider: pulumi.dynamic.ResourceProvider = {
  async check(_olds: ReplicaSetInputs, news: ReplicaSetInputs) {
    // In a preview, values computed by other resources are not known yet: validate them at `up`.
    if (engine().holdsPreviewUnknown(news)) return { inputs: news };
    try {
      engine().validateSpec(specOf(news));
      return { inputs: news };
    } catch (e) {
      const reason = (e as Error).message;
      const property = Object.keys(news).find((k) => new RegExp(`\\b${k}\\b`).test(reason)) ?? "image";
      return { inputs: news, failures: [{ property, reason }] };
    }
  },

  async create(inputs: ReplicaSetInputs) {
    return withResourceLog(inputs.logUrn, async (log) => {
      const result = await engine().converge(contextOf(inputs, log), specOf(inputs), undefined, policyOf(inputs));
      return { id: `${inputs.stack}/${inputs.service}`, outs: outsOf(inputs, result) };
    });
  },

  async diff(_id: string, olds: ReplicaSetProps, news: ReplicaSetInputs) {
    const diff = diffReplicaSet(olds, news);
    // What the next up will do, in one line under the resource (a preview's answer to "what happens?").
    if (diff.changes) await withResourceLog(news.logUrn, async (log) => log(`[rollout] ${summaryOf(olds, news, Object.keys(diff.detailedDiff))}`));
    return diff;
  },

  async update(_id: string, olds: ReplicaSetProps, news: ReplicaSetInputs) {
    return withResourceLog(news.logUrn, async (log) => {
      const result = await engine().converge(contextOf(news, log), specOf(news), specOf(olds), policyOf(news, olds));
      return { outs: outsOf(news, result) };
    });
  },

  async delete(_id: string, props: ReplicaSetProps) {
    await withResourceLog(props.logUrn, (log) => engine().removeAll(contextOf(props, log), specOf(props)));
  },

  async read(id: string, props: ReplicaSetProps) {
    const e = engine();
    const observed = (await e.observe(e.connectDocker(props.dockerHost), props.stack, props.service)).filter((c) => c.running);
    const names = (revision?: string) => observed.filter((c) => revision === undefined || c.revision === revision).map((c) => c.name).sort();
    // The serving set is the stored revision's; a standby's replicas are its own (gone: no standby).
    const { standby: _standby, ...rest } = props;
    const standby = props.standby && names(props.standby.revision).length > 0 ? { ...props.standby, containers: names(props.standby.revision) } : undefined;
    return { id, props: { ...rest, containers: names(props.revision), standby: standby ?? null } };
  },
};

export class ReplicaSet extends DynamicResource {
  declare readonly stack: pulumi.Output<string>;
  declare readonly service: pulumi.Output<string>;
  declare readonly image: pulumi.Output<string>;
  declare readonly replicas: pulumi.Output<number>;
  declare readonly env: pulumi.Output<Record<string, string>>;
  /** Names of the running replica containers. */
  declare readonly containers: pulumi.Output<string[]>;
  /** Hash of everything that needs new containers when it changes (not the replica count). */
  declare readonly revision: pulumi.Output<string>;
  /** blue-green: the previous set, running idle for a switch back, and until when. */
  declare readonly standby: pulumi.Output<Standby | null | undefined>;

  constructor(name: string, args: ReplicaSetArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      providerCode("replica-set", "replicaSetProvider", replicaSetProvider),
      "ReplicaSet",
      name,
      // env, the secrets and their key are secret in the stored inputs too, not only in the outputs.
      {
        ...args,
        env: pulumi.secret(args.env),
        ...(args.secrets !== undefined ? { secrets: pulumi.secret(args.secrets) } : {}),
        ...(args.secretsKey !== undefined ? { secretsKey: pulumi.secret(args.secretsKey) } : {}),
        logUrn: logUrnOf("ReplicaSet", name, opts),
        containers: undefined,
        revision: undefined,
        standby: undefined,
      },
      { ...opts, additionalSecretOutputs: [...(opts?.additionalSecretOutputs ?? []), "env", "secrets", "secretsKey"] },
    );
  }
}
