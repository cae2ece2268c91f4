// The real Pulumi engine for tests: the CLI, language host and plugins provisioned by
// tools/toolchain.sh under .slipway/, driven through the Automation API. Each caller gets its own
// file backend directory so tests never see each other's stacks.
import { execFile } from "node:child_process";
import { mkdtempSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { LocalWorkspace, PulumiCommand, type Stack } from "@pulumi/pulumi/automation";

export const repoRoot = resolve(__dirname, "..", "..");
export const toolchainRoot = join(repoRoot, ".slipway", "toolchain");
export const pulumiHome = process.env.PULUMI_HOME ?? join(repoRoot, ".slipway", "pulumi-home");

export function engineAvailable(): boolean {
  return existsSync(join(toolchainRoot, "bin", "pulumi")) && existsSync(join(toolchainRoot, "bin", "pulumi-language-nodejs"));
}

/** Environment for every engine call: our toolchain first on PATH, no downloads, a local passphrase. */
export function engineEnv(backendDir: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: `${join(toolchainRoot, "bin")}:${process.env.PATH ?? ""}`,
    PULUMI_HOME: pulumiHome,
    PULUMI_BACKEND_URL: `file://${backendDir}`,
    PULUMI_CONFIG_PASSPHRASE: "slipway-test",
    PULUMI_SKIP_UPDATE_CHECK: "true",
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
    PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK: "true",
    ...extra,
  };
}

export function newBackendDir(label: string): string {
  return mkdtempSync(join(tmpdir(), `slipway-${label}-state-`));
}

export async function pulumiCommand(): Promise<PulumiCommand> {
  return PulumiCommand.get({ root: toolchainRoot, skipVersionCheck: true });
}

/** A stack of the program in `workDir` (a directory with Pulumi.yaml), on its own backend. */
export async function localStack(opts: {
  workDir: string;
  stackName: string;
  backendDir: string;
  env?: Record<string, string>;
}): Promise<Stack> {
  const envVars = engineEnv(opts.backendDir, opts.env);
  // The Automation API reads some settings from the process environment as well.
  Object.assign(process.env, { PULUMI_CONFIG_PASSPHRASE: envVars.PULUMI_CONFIG_PASSPHRASE });
  return LocalWorkspace.createOrSelectStack(
    { stackName: opts.stackName, workDir: opts.workDir },
    { pulumiCommand: await pulumiCommand(), envVars, pulumiHome },
  );
}

/** Runs the pulumi CLI on a test stack (for commands the Automation API lacks, e.g. `state unprotect`). */
export function pulumiCli(ps: { stackName: string; workDir: string; backendDir: string }, args: string[]): Promise<string> {
  const env = { ...process.env, ...engineEnv(ps.backendDir) };
  return new Promise((resolve, reject) =>
    execFile(join(toolchainRoot, "bin", "pulumi"), [...args, "--stack", ps.stackName, "--cwd", ps.workDir, "--non-interactive"], { env, maxBuffer: 64 << 20 }, (err, stdout, stderr) =>
      err ? reject(new Error(`pulumi ${args.join(" ")}: ${stderr || err.message}`)) : resolve(stdout),
    ),
  );
}
