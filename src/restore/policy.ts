// Pure decisions restore makes before touching anything: which environment the database is in, is the dump filed
// under this stack's prefix, is it proven, and may we go ahead without asking. Whether the target is production is
// read from the database container itself (its slipway.environment label), else from its stack (file or config),
// else from what the operator states (--environment); never inferred from a name, and a statement that contradicts
// the container is refused. Each refusal has its own named override (--allow-…), which bypasses that check and no
// other. Messages name the thing and say what to do next (in the words of the --stack flag the prefix came from).

export type Confirmation = "proceed" | "ask" | "refuse";

export type Environment = "production" | "staging";
export const ENVIRONMENTS: readonly Environment[] = ["production", "staging"];

/**
 * The named overrides of restore's refusals (what `--force` bypassed, split): each bypasses its own check only.
 * Keys are the flags' names; values say what the flag lets through (the --help text and --force's refusal list them).
 */
export const RESTORE_OVERRIDES = {
  "allow-other-stack": "restore a dump whose file name says it is another stack's backup, or names no stack",
  "allow-unverified": "restore into production a dump never proven by a restore (no ok .verified.json for its bytes) or one that failed its verification",
} as const;
export type RestoreOverride = keyof typeof RESTORE_OVERRIDES;

/** Why --force is refused: it bypassed every check at once; the overrides that replace it, one per check. */
export function forceRefusal(): string {
  const list = Object.entries(RESTORE_OVERRIDES).map(([flag, what]) => `--${flag} (${what})`);
  return `--force is no longer accepted: it bypassed every check at once. Name the check you override: ${list.join("; ")}`;
}

/**
 * The environment a restore replaces data in. The database container's own `slipway.environment` label says it; a
 * container without it (created before the label existed: adding a label to an existing container would replace it,
 * and production's is protected, so the program ignores label changes) falls back to what its stack says (the stack
 * file or the stack's config). When both speak and one says production, it is production: a stack switched to
 * production keeps its container's older label. The operator's --environment is only needed when neither says
 * anything (a database outside any stack), and is refused, naming both, when it contradicts them.
 */
export function restoreEnvironment(input: {
  dbContainer: string;
  /** the container's slipway.environment label, if it carries one */
  label: string | undefined;
  /** what the container's stack says, and where that was read (for messages) */
  fallback?: { environment: string | undefined; source: string };
  /** --environment, if given */
  stated: Environment | undefined;
}): { environment: Environment; source: string } | { refuse: string } {
  const { dbContainer, label, fallback, stated } = input;
  const said = [
    ...(label !== undefined ? [{ environment: label, source: `database container '${dbContainer}' is labelled slipway.environment=${label}` }] : []),
    ...(fallback?.environment !== undefined ? [{ environment: fallback.environment, source: `${fallback.source} says environment ${fallback.environment}` }] : []),
  ];
  if (said.length === 0) {
    if (stated !== undefined) return { environment: stated, source: `--environment ${stated} (database container '${dbContainer}' carries no slipway.environment label and belongs to no stack that names one)` };
    return {
      refuse: `database container '${dbContainer}' carries no slipway.environment label and belongs to no stack that names one: pass --environment production|staging — restore must know whether it replaces production data, and never guesses it from a name`,
    };
  }
  const odd = said.find((s) => !(ENVIRONMENTS as readonly string[]).includes(s.environment));
  if (odd) return { refuse: `${odd.source}, which is neither production nor staging; refusing to guess whether it holds production data` };
  const known = said.find((s) => s.environment === "production") ?? said[0]!;
  const environment = known.environment as Environment;
  if (stated !== undefined && stated !== environment) {
    return { refuse: `--environment ${stated} contradicts the database: ${known.source}. Nothing was changed. Leave --environment out (the container says where it runs), or name the right container` };
  }
  return { environment, source: known.source };
}

export function confirmationNeeded(input: { production: boolean; yes: boolean; isTTY: boolean }): Confirmation {
  if (!input.production || input.yes) return "proceed";
  return input.isTTY ? "ask" : "refuse";
}

/** Why a dump filed under `dumpPrefix` must not be restored where backups are filed under `prefix`, or undefined if it may. */
export function prefixMismatchProblem(input: { dumpPrefix: string | undefined; prefix: string; allowOtherStack: boolean }): string | undefined {
  if (input.allowOtherStack || input.dumpPrefix === input.prefix) return undefined;
  if (input.dumpPrefix === undefined) {
    return `cannot tell which stack the file belongs to (its name is not <stack>-<YYYYMMDDTHHMMSSZ>-<tag>.dump); pass --allow-other-stack if you are sure it belongs in stack '${input.prefix}'`;
  }
  return `the file is a backup of stack '${input.dumpPrefix}', not '${input.prefix}'; pass --allow-other-stack to restore it into '${input.prefix}' anyway`;
}

/**
 * A dump never proven by a restore (no record, or one for other bytes) or one that failed its verification:
 * production refuses it unless --allow-unverified; elsewhere, and when allowed, a warning.
 */
export function verificationDecision(input: {
  state: { state: "verified" } | { state: "failed"; record: { verifiedAt: string; problems: string[] } } | { state: "never"; why: string };
  production: boolean;
  allowUnverified: boolean;
}): { refuse?: string; warn?: string } {
  const { state } = input;
  if (state.state === "verified") return {};
  const what =
    state.state === "failed"
      ? `it FAILED its verification on ${state.record.verifiedAt}: ${state.record.problems.join("; ")}`
      : `it was never verified by a restore: ${state.why}`;
  if (input.production && !input.allowUnverified) {
    return { refuse: `${what}. Restore a verified backup (npm run backup -- --verify takes one), or pass --allow-unverified to restore this one into production anyway` };
  }
  return { warn: `warning: ${what}${input.production ? " (restoring into production because of --allow-unverified)" : ""}` };
}
