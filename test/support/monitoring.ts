// The Prometheus values of a staging stack as the program renders them: the one fixture the monitoring unit tests
// and the promtool checks (toolchain tier) both render, so both check the same configuration.
import { EDGE_METRICS_PORT, type PrometheusConfigValues, PUSHGATEWAY_PORT } from "../../infra/components/monitoring";

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
