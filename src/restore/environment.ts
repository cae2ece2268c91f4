// Which environment a restore's database container holds, read from the container itself (its slipway.environment
// label) and from its stack: the stack the verb read (its environment output or config), or for --db-container the
// stack file of the stack its slipway.project/slipway.stack labels name. The decision (and
// the refusal of an --environment that contradicts it) is policy.ts's restoreEnvironment.
import type Docker from "dockerode";
import { LABEL_ENVIRONMENT, LABEL_PROJECT, LABEL_STACK } from "../vocabulary";
import { type Environment, restoreEnvironment } from "./policy";

export interface ContainerLabels {
  environment?: string;
  project?: string;
  stack?: string;
}

/** The labels of the database container that say where it belongs; a missing container has none (restore refuses it later, by name). */
export async function databaseLabels(docker: Docker, dbContainer: string): Promise<ContainerLabels> {
  const info = await docker
    .getContainer(dbContainer)
    .inspect()
    .catch(() => undefined);
  const labels = info?.Config.Labels ?? {};
  const get = (key: string) => (labels[key] ? labels[key] : undefined);
  return { environment: get(LABEL_ENVIRONMENT), project: get(LABEL_PROJECT), stack: get(LABEL_STACK) };
}

/** The short stack name a `<project>-<stack>` prefix label names (undefined when the labels do not fit). */
export function stackOfLabels(labels: ContainerLabels): string | undefined {
  if (!labels.project || !labels.stack?.startsWith(`${labels.project}-`)) return undefined;
  return labels.stack.slice(labels.project.length + 1) || undefined;
}

/**
 * The environment of `dbContainer`: its label and `stack` (the Pulumi stack the verb read) or else the stack file of
 * the stack its labels name; what the operator stated only when none of them says; or the refusal.
 */
export async function resolveEnvironment(input: {
  docker: Docker;
  dbContainer: string;
  stated: Environment | undefined;
  /** the Pulumi stack the verb read, when it read one: its name and whether its environment output or config says production */
  stack?: { name: string; production: boolean };
  /** reads a stack file's slipway:environment (the CLI passes src/release's stackFileEnvironment) */
  stackFile: (stack: string) => string | undefined;
}): Promise<{ environment: Environment; source: string } | { refuse: string }> {
  const labels = await databaseLabels(input.docker, input.dbContainer);
  let fallback: { environment: string | undefined; source: string } | undefined;
  if (input.stack) {
    fallback = { environment: input.stack.production ? "production" : "staging", source: `stack "${input.stack.name}" (its environment output or config)` };
  } else {
    const short = stackOfLabels(labels);
    if (short !== undefined) fallback = { environment: input.stackFile(short), source: `the stack file Pulumi.${short}.yaml of the container's stack (${labels.stack})` };
  }
  return restoreEnvironment({ dbContainer: input.dbContainer, label: labels.environment, fallback, stated: input.stated });
}
