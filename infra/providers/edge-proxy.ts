// EdgeProxy: the HAProxy process of a stack's edge, running inside the network namespace of the edge holder
// container (which owns the published port). A Pulumi dynamic provider, built like ReplicaSet: a tiny closure
// that loads the edge engine (src/edge) from the working copy. A config change is a seamless reload, a change of
// image or limits a handover to a new HAProxy container — neither drops a request (src/edge/proxy.ts).
import * as pulumi from "@pulumi/pulumi";
import type { EdgeProxySpec, HandoverTimeouts } from "../../src/edge";
import { DynamicResource, loadEngine, PROVIDER_CODE, providerCode, withoutProviderCode } from "./engine";
import { LOG_URN_KEY, type LogTarget, logUrnOf, type ResourceLog, withResourceLog } from "./resource-log";

export interface EdgeProxyInputs extends EdgeProxySpec, LogTarget {
  timeouts: HandoverTimeouts;
  dockerHost?: string;
}

export interface EdgeProxyProps extends EdgeProxyInputs {
  /** Name of the running HAProxy container. */
  container?: string;
}

type Inputs<T> = { [K in keyof T]: pulumi.Input<T[K]> };
export type EdgeProxyArgs = Inputs<EdgeProxyInputs>;

const engine = () => loadEngine<typeof import("../../src/edge")>("edge");

function specOf(p: EdgeProxyInputs): EdgeProxySpec {
  const { timeouts: _t, dockerHost: _d, logUrn: _l, container: _c, ...spec } = withoutProviderCode(p as EdgeProxyProps);
  return spec;
}

function contextOf(p: EdgeProxyInputs, log: ResourceLog) {
  const e = engine();
  // A killed `pulumi up` must not leave this process handing over edges behind the next one.
  e.exitWhenOrphaned();
  return { docker: e.connectDocker(p.dockerHost), timeouts: p.timeouts, log: (line: string) => log(`[edge] ${line}`) };
}

const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

/** Pure: the changed inputs (not where it logs). `stack` names another edge (a replacement); everything else is updated in place. */
export function diffEdgeProxy(olds: EdgeProxyProps, news: EdgeProxyInputs): pulumi.dynamic.DiffResult {
  const keys = [...new Set([...Object.keys(olds), ...Object.keys(news)])].filter((k) => k !== "container" && k !== LOG_URN_KEY && k !== PROVIDER_CODE) as (keyof EdgeProxyInputs)[];
  const changed = keys.filter((k) => !same(olds[k], news[k]));
  // `read` found no HAProxy running, or two (an interrupted handover): the next update converges that.
  const drifted = olds.container !== undefined && (olds.container === "" || olds.container.includes(","));
  return { changes: changed.length > 0 || drifted, replaces: changed.filter((k) => k === "stack"), deleteBeforeReplace: false };
}

export const edgeProxyProvider: pulumi.dynamic.ResourceProvider = {
  async create(inputs: EdgeProxyInputs) {
    const container = await withResourceLog(inputs.logUrn, (log) => engine().applyEdge(contextOf(inputs, log), specOf(inputs)));
    return { id: inputs.stack, outs: { ...inputs, container } };
  },
  async diff(_id: string, olds: EdgeProxyProps, news: EdgeProxyInputs) {
    return diffEdgeProxy(olds, news);
  },
  async update(_id: string, _olds: EdgeProxyProps, news: EdgeProxyInputs) {
    const container = await withResourceLog(news.logUrn, (log) => engine().applyEdge(contextOf(news, log), specOf(news)));
    return { outs: { ...news, container } };
  },
  async delete(_id: string, props: EdgeProxyProps) {
    await withResourceLog(props.logUrn, (log) => engine().removeAllEdges(contextOf(props, log), props.stack));
  },
  async read(id: string, props: EdgeProxyProps) {
    const e = engine();
    const running = await e.runningEdges(e.connectDocker(props.dockerHost), props.stack);
    // Anything but exactly the expected container running makes the next up converge it.
    const container = running.length === 1 && running[0] === e.edgeContainerName(specOf(props)) ? running[0] : running.join(",");
    return { id, props: { ...props, container } };
  },
};

export class EdgeProxy extends DynamicResource {
  /** Name of the running HAProxy container (for the runtime API, logs, maintenance). */
  declare readonly container: pulumi.Output<string>;

  constructor(name: string, args: EdgeProxyArgs, opts?: pulumi.CustomResourceOptions) {
    super(providerCode("edge-proxy", "edgeProxyProvider", edgeProxyProvider), "EdgeProxy", name, { ...args, logUrn: logUrnOf("EdgeProxy", name, opts), container: undefined }, opts);
  }
}
