// Docker resource settings shared by the components, in the form the docker provider wants them.
import type { StackConfig } from "../../stacks/schema";

type Limits = StackConfig["database"]["limits"];

/** CFS period Docker uses for `--cpus` (100 ms, in µs). */
export const CPU_PERIOD_US = 100_000;

/**
 * Memory and CPU limits for a docker.Container. CPUs go in as a CFS quota per period — what `--cpus` sets —
 * rather than the provider's `cpus` string: a change of `cpuQuota` is applied to the running container in place,
 * while a change of `cpus` replaces it (a database outage); and the quota reads back exactly as written, so a
 * preview after an up stays empty. memorySwap = memory: no swap beyond the limit (Docker would report 2× memory).
 */
export function containerLimits(limits: Limits): { memory?: number; memorySwap?: number; cpuPeriod?: number; cpuQuota?: number } {
  if (!limits) return {};
  return { memory: limits.memoryMb, memorySwap: limits.memoryMb, cpuPeriod: CPU_PERIOD_US, cpuQuota: Math.round(limits.cpus * CPU_PERIOD_US) };
}

export function dockerLabels(labels: Record<string, string>): { label: string; value: string }[] {
  return Object.entries(labels).map(([label, value]) => ({ label, value }));
}

/** Docker json-file log rotation for a docker.Container (the same rotation the replicas and HAProxy get). */
export function logRotation(logs: StackConfig["logs"]): { logDriver: string; logOpts: Record<string, string> } {
  return { logDriver: "json-file", logOpts: { "max-size": `${logs.maxSizeMb}m`, "max-file": String(logs.maxFiles) } };
}
