// Docker json-file log rotation (stacks/schema.ts `logs`), in the Engine API's form; infra/components/limits.ts
// gives the same rotation to @pulumi/docker containers.
import type { StackConfig } from "../../stacks/schema";

export type LogRotation = StackConfig["logs"];

/** Docker's LogConfig for a rotation setting (json-file, max-size, max-file). */
export function logConfig(logs: LogRotation): { Type: string; Config: Record<string, string> } {
  return { Type: "json-file", Config: { "max-size": `${logs.maxSizeMb}m`, "max-file": String(logs.maxFiles) } };
}
