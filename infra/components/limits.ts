// Docker resource settings shared by the components: limits and restart policy as the docker
// provider wants them.
import type { StackConfig } from "../../stacks/schema";

type Limits = StackConfig["api"]["limits"];

export function containerLimits(limits: Limits): { memory?: number; memorySwap?: number; cpus?: string } {
  if (!limits) return {};
  // memorySwap = memory: no swap beyond the limit, and no perpetual diff (Docker would report 2× memory).
  return { memory: limits.memoryMb, memorySwap: limits.memoryMb, cpus: String(limits.cpus) };
}

export function dockerLabels(labels: Record<string, string>): { label: string; value: string }[] {
  return Object.entries(labels).map(([label, value]) => ({ label, value }));
}
