// The edge's public face, as loaded by the EdgeProxy dynamic provider (infra/providers) and tests.
export { applyEdge, edgeContainerName, edgeRevision, observeEdges, removeAllEdges, runningEdges } from "./proxy";
export type { EdgeContext, EdgeProxySpec, HandoverTimeouts } from "./proxy";
export { renderHaproxyConfig } from "./haproxy-config";
export { connectDocker } from "../docker";
export { exitWhenOrphaned } from "../vocabulary/orphan";
