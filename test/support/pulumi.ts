// The real Pulumi engine for tests, driven through the Automation API. Where it comes from is the
// environment's business, as for the verbs: the air-gapped toolchain tools/toolchain.sh provisions under
// .slipway/ (the default when it is built), or — SLIPWAY_TOOLCHAIN=official, or no toolchain built — the
// `pulumi` on PATH with its plugins where Pulumi keeps them ($PULUMI_HOME or ~/.pulumi), downloads allowed.
// Each caller gets its own file backend directory so tests never see each other's stacks.
import { execFile } from "node:child_process";
import { mkdtempSync, existsSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { delimiter, join, resolve } from "node:path";
import { LocalWorkspace, PulumiCommand, type Stack } from "@pulumi/pulumi/automation";

export const repoRoot = resolve(__dirname, "..", "..");
export const toolchainRoot = join(repoRoot, ".slipway", "toolchain");

/** true: the `pulumi` on PATH and Pulumi's own home (the official layout); false: our toolchain under .slipway/. */
export const officialEngine =
  process.env.SLIPWAY_TOOLCHAIN === "official" ||
  (process.env.SLIPWAY_TOOLCHAIN !== "air-gapped" && !existsSync(join(toolchainRoot, "bin", "pulumi")));

export const pulumiHome = process.env.PULUMI_HOME ?? (officialEngine ? join(homedir(), ".pulumi") : join(repoRoot, ".slipway", "pulumi-home"));

/** The pulumi binary tests run: ours, or the first `pulumi` on PATH. */
export function pulumiBinary(): string | undefined {
  if (!officialEngine) return join(toolchainRoot, "bin", "pulumi");
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (dir && existsSync(join(dir, "pulumi"))) return join(dir, "pulumi");
  }
  return undefined;
}

export function engineAvailable(): boolean {
  if (officialEngine) return pulumiBinary() !== undefined;
  return existsSync(join(toolchainRoot, "bin", "pulumi")) && existsSync(join(toolchainRoot, "bin", "pulumi-language-nodejs"));
}

/** Environment for every engine call: the engine's PATH and home, the test's own backend, a test passphrase. */
export function engineEnv(backendDir: string, extra: Record<string, string> = {}): Record<string, string> {
  const engine: Record<string, string> = officialEngine
    ? { PATH: process.env.PATH ?? "", PULUMI_HOME: pulumiHome }
    : { PATH: `${join(toolchainRoot, "bin")}:${process.env.PATH ?? ""}`, PULUMI_HOME: pulumiHome, PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true" };
  return {
    ...engine,
    PULUMI_BACKEND_URL: `file://${backendDir}`,
    PULUMI_CONFIG_PASSPHRASE: "slipway-test",
    PULUMI_SKIP_UPDATE_CHECK: "true",
    PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK: "true",
    ...extra,
  };
}

export function newBackendDir(label: string): string {
  return mkdtempSync(join(tmpdir(), `slipway-${label}-state-`));
}

export async function pulumiCommand(): Promise<PulumiCommand> {
  return officialEngine ? PulumiCommand.get({ skipVersionCheck: true }) : PulumiCommand.get({ root: toolchainRoot, skipVersionCheck: true });
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
    execFile(pulumiBinary() ?? "pulumi", [...args, "--stack", ps.stackName, "--cwd", ps.workDir, "--non-interactive"], { env, maxBuffer: 64 << 20 }, (err, stdout, stderr) =>
      err ? reject(new Error(`pulumi ${args.join(" ")}: ${stderr || err.message}`)) : resolve(stdout),
    ),
  );
}

/** The lines the engine prints under `header` ("<type> (<name>):") in the Diagnostics section of an up or preview. */
export function diagnosticsOf(output: string, header: string): string[] {
  const lines = output.split("\n");
  const start = lines.findIndex((l) => l.trim() === `${header}:`);
  if (start < 0) return [];
  const out: string[] = [];
  for (const l of lines.slice(start + 1)) {
    if (/^\s{2}\S/.test(l) || /^\S/.test(l)) break; // the next resource's header, or the next section
    if (l.trim()) out.push(l.trim());
  }
  return out;
}
