// The Automation API at the edge: open a stack of this project (openStack creates a missing one), read its
// history, change its image config, run `pulumi up` with output streamed to the operator. Verbs call
// these; decisions live in history.ts.
import { existsSync, mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { LocalWorkspace, PulumiCommand, type Stack } from "@pulumi/pulumi/automation";
import type { HistoryEntry, Images } from "./history";

/** This repository; SLIPWAY_PROJECT_DIR points the verbs at another checkout (tests use it). */
const projectDir = process.env.SLIPWAY_PROJECT_DIR ?? resolve(__dirname, "..", "..");

async function pulumiCommand(): Promise<PulumiCommand> {
  // Prefer the toolchain tools/toolchain.sh built; fall back to a `pulumi` on PATH.
  const root = join(projectDir, ".slipway", "toolchain");
  if (existsSync(join(root, "bin", "pulumi"))) return PulumiCommand.get({ root, skipVersionCheck: true });
  return PulumiCommand.get({ skipVersionCheck: true });
}

/** The defaults of tools/env.sh, so `npm run <verb>` works without sourcing it; the caller's env wins. */
function localEnv(): Record<string, string> {
  const env: Record<string, string> = {
    PULUMI_HOME: process.env.PULUMI_HOME ?? join(projectDir, ".slipway", "pulumi-home"),
    PULUMI_BACKEND_URL: process.env.PULUMI_BACKEND_URL ?? `file://${join(projectDir, ".slipway", "state")}`,
    PULUMI_SKIP_UPDATE_CHECK: "true",
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: process.env.PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION ?? "true",
  };
  if (!process.env.PULUMI_CONFIG_PASSPHRASE && !process.env.PULUMI_CONFIG_PASSPHRASE_FILE) env.PULUMI_CONFIG_PASSPHRASE = "slipway-local";
  mkdirSync(env.PULUMI_BACKEND_URL!.startsWith("file://") ? env.PULUMI_BACKEND_URL!.slice(7) : projectDir, { recursive: true });
  return env;
}

async function workspaceOptions() {
  return { pulumiCommand: await pulumiCommand(), envVars: localEnv() };
}

export async function openStack(stackName: string): Promise<Stack> {
  return LocalWorkspace.selectStack({ stackName, workDir: projectDir }, await workspaceOptions()).catch(async (err: Error) => {
    if (/no stack named|not found/i.test(err.message)) {
      return LocalWorkspace.createStack({ stackName, workDir: projectDir }, await workspaceOptions());
    }
    throw err;
  });
}

export async function history(stack: Stack): Promise<HistoryEntry[]> {
  // Secrets stay hidden: only plain keys (images) are read from the history.
  return (await stack.history(undefined, undefined, false)) as unknown as HistoryEntry[];
}

export async function setImages(stack: Stack, images: Partial<Images>): Promise<void> {
  for (const [name, ref] of Object.entries(images)) {
    if (ref) await stack.setConfig(`slipway:images.${name}`, { value: ref }, true);
  }
}

export async function deploy(stack: Stack, message: string, log: (s: string) => void): Promise<Record<string, unknown>> {
  const result = await stack.up({ message, onOutput: log, color: "never" });
  return Object.fromEntries(Object.entries(result.outputs).map(([k, v]) => [k, v.secret ? "[secret]" : v.value]));
}

/** An existing stack of this project (never creates one). */
export async function selectStack(stackName: string): Promise<Stack> {
  return LocalWorkspace.selectStack({ stackName, workDir: projectDir }, await workspaceOptions());
}
