// The Prometheus values of a staging stack as the program renders them: the one fixture the monitoring unit tests
// and the promtool checks (toolchain tier) both render, so both check the same configuration.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { EDGE_METRICS_PORT, MONITORING_DIR, type PrometheusConfigValues, PUSHGATEWAY_PORT } from "../../infra/components/monitoring";

export const STAGING_PROMETHEUS_VALUES: PrometheusConfigValues & { expectedReplicas: number } = {
  stack: "slipway-staging",
  scrapeIntervalSeconds: 15,
  apiAlias: "api",
  apiPort: 3000,
  edgeHost: "slipway-staging-edge",
  edgeMetricsPort: EDGE_METRICS_PORT,
  pushgatewayHost: "slipway-staging-pushgateway",
  pushgatewayPort: PUSHGATEWAY_PORT,
  expectedReplicas: 2,
};

/** How many rules monitoring/alerts.yml holds, read from the file: what promtool and Prometheus must report loading. */
export function alertRuleCount(): number {
  const doc = parse(readFileSync(join(MONITORING_DIR, "alerts.yml"), "utf8")) as { groups: { rules: unknown[] }[] };
  return doc.groups.flatMap((g) => g.rules).length;
}
