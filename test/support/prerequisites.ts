// One skip policy for every test that needs something from the machine (a Docker engine of its own, the Pulumi
// toolchain, sshd, root, …): where CI=true a missing prerequisite FAILS — a CI machine without it must not pass
// by skipping — and only on a developer machine does the test skip, saying what is missing and how to get it.
// Use: `{ skip: skipUnless(missingRoot("mounts a tmpfs"), missingCommand("sshd", …)) }` on a test or describe.
import { spawnSync } from "node:child_process";
import { engineAvailable } from "./pulumi";

/** What is missing, said so a reader can fix it (a string), or nothing (undefined/false/null). */
export type Missing = string | undefined | false | null;

export type Decision = { action: "run" } | { action: "skip"; reason: string } | { action: "fail"; reason: string };

/** A CI run: the CI variable set to anything but empty, "0" or "false" (GitHub Actions and .ci/run set CI=true). */
export function isCi(env: NodeJS.ProcessEnv): boolean {
  const ci = (env.CI ?? "").trim().toLowerCase();
  return ci !== "" && ci !== "0" && ci !== "false";
}

/** The policy, pure: everything there → run; something missing → fail in CI, skip (with every reason) elsewhere. */
export function decide(missing: readonly Missing[], env: NodeJS.ProcessEnv): Decision {
  const reasons = missing.filter((m): m is string => typeof m === "string" && m !== "");
  if (reasons.length === 0) return { action: "run" };
  const reason = reasons.join("; ");
  return isCi(env) ? { action: "fail", reason } : { action: "skip", reason };
}

export class PrerequisiteMissing extends Error {
  constructor(reason: string) {
    super(`a prerequisite is missing with CI set (a CI run fails rather than skips): ${reason}`);
    this.name = "PrerequisiteMissing";
  }
}

/**
 * The value for node:test's `skip` option: false when everything is there; the reason on a developer machine;
 * with CI set it throws while the file declares its tests, so the file fails naming what is missing.
 */
export function skipUnless(missing: Missing | readonly Missing[], env: NodeJS.ProcessEnv = process.env): string | false {
  const d = decide(Array.isArray(missing) ? missing : [missing as Missing], env);
  if (d.action === "run") return false;
  if (d.action === "fail") throw new PrerequisiteMissing(d.reason);
  return `${d.reason} (a developer machine skips; with CI=true this fails)`;
}

// --- the checks: each says what is missing, or undefined ---------------------------------------------------------

/** Root (e.g. to mount, to start a dockerd or sshd of its own, to run as another user). */
export function missingRoot(forWhat: string): string | undefined {
  return process.getuid?.() === 0 ? undefined : `needs root to ${forWhat}`;
}

/** A command that runs (`args` a harmless invocation such as --version), with how to install it. */
export function missingCommand(command: string, args: string[], install: string): string | undefined {
  const r = spawnSync(command, args, { stdio: "ignore", timeout: 30_000 });
  return r.error ? `${command} is not installed (${install})` : undefined;
}

/** dockerd, to start engines of its own (a remote host, the swarm lab). */
export function missingDockerd(): string | undefined {
  const r = spawnSync("dockerd", ["--version"], { stdio: "ignore", timeout: 30_000 });
  return r.status === 0 ? undefined : "dockerd is not installed (bash tools/toolchain.sh installs Docker)";
}

/** The Pulumi engine the tests use (our toolchain, or the official CLI with SLIPWAY_TOOLCHAIN=official). */
export function missingPulumi(): string | undefined {
  return engineAvailable() ? undefined : "the Pulumi toolchain is not built (bash tools/toolchain.sh)";
}
