// The Automation API at the edge: open a stack of this project, change its image config, run
// preview/up with output streamed to the operator. Verbs call these; decisions live in history.ts.
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { LocalWorkspace, PulumiCommand, type Stack } from "@pulumi/pulumi/automation";
import type { HistoryEntry, Images } from "./history";

/** This repository; SLIPWAY_PROJECT_DIR points the verbs at another checkout (tests use it). */
export const projectDir = process.env.SLIPWAY_PROJECT_DIR ?? resolve(__dirname, "..", "..");

async function pulumiCommand(): Promise<PulumiCommand> {
  // Prefer the toolchain tools/toolchain.sh built; fall back to a `pulumi` on PATH.
  const root = join(projectDir, ".slipway", "toolchain");
  if (existsSync(join(root, "bin", "pulumi"))) return PulumiCommand.get({ root, skipVersionCheck: true });
  return PulumiCommand.get({ skipVersionCheck: true });
}

export async function openStack(stackName: string): Promise<Stack> {
  return LocalWorkspace.selectStack({ stackName, workDir: projectDir }, { pulumiCommand: await pulumiCommand() }).catch(
    async (err: Error) => {
      if (/no stack named|not found/i.test(err.message)) {
        return LocalWorkspace.createStack({ stackName, workDir: projectDir }, { pulumiCommand: await pulumiCommand() });
      }
      throw err;
    },
  );
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

export async function currentImages(stack: Stack): Promise<Images> {
  const raw = (await stack.getConfig("slipway:images")).value;
  return JSON.parse(raw) as Images;
}

export async function deploy(stack: Stack, message: string, log: (s: string) => void): Promise<Record<string, unknown>> {
  const result = await stack.up({ message, onOutput: log, color: "never" });
  return Object.fromEntries(Object.entries(result.outputs).map(([k, v]) => [k, v.secret ? "[secret]" : v.value]));
}

/** An existing stack of this project (never creates one). */
export async function selectStack(stackName: string): Promise<Stack> {
  return LocalWorkspace.selectStack({ stackName, workDir: projectDir }, { pulumiCommand: await pulumiCommand() });
}
