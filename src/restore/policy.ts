// Pure decisions restore makes before touching anything: is the dump filed under this stack's prefix,
// and may we go ahead without asking. Whether the target is production is an input (the stack's
// `environment`, or the operator's --environment), never inferred from a name. Messages name the thing
// and say what to do next (in the words of the --stack flag the prefix came from).

export type Confirmation = "proceed" | "ask" | "refuse";

export function confirmationNeeded(input: { production: boolean; yes: boolean; isTTY: boolean }): Confirmation {
  if (!input.production || input.yes) return "proceed";
  return input.isTTY ? "ask" : "refuse";
}

/** Why a dump filed under `dumpPrefix` must not be restored where backups are filed under `prefix`, or undefined if it may. */
export function prefixMismatchProblem(input: { dumpPrefix: string | undefined; prefix: string; force: boolean }): string | undefined {
  if (input.force || input.dumpPrefix === input.prefix) return undefined;
  if (input.dumpPrefix === undefined) {
    return `cannot tell which stack the file belongs to (its name is not <stack>-<YYYYMMDDTHHMMSSZ>-<tag>.dump); pass --force if you are sure it belongs in stack '${input.prefix}'`;
  }
  return `the file is a backup of stack '${input.dumpPrefix}', not '${input.prefix}'; pass --force to restore it into '${input.prefix}' anyway`;
}

/**
 * A dump never proven by a restore (no record, or one for other bytes) or one that failed its
 * verification: production refuses it unless forced; elsewhere, and when forced, a warning.
 */
export function verificationDecision(input: {
  state: { state: "verified" } | { state: "failed"; record: { verifiedAt: string; problems: string[] } } | { state: "never"; why: string };
  production: boolean;
  force: boolean;
}): { refuse?: string; warn?: string } {
  const { state } = input;
  if (state.state === "verified") return {};
  const what =
    state.state === "failed"
      ? `it FAILED its verification on ${state.record.verifiedAt}: ${state.record.problems.join("; ")}`
      : `it was never verified by a restore: ${state.why}`;
  if (input.production && !input.force) {
    return { refuse: `${what}. Restore a verified backup (npm run backup -- --verify takes one), or pass --force to restore this one into production anyway` };
  }
  return { warn: `warning: ${what}${input.production ? " (restoring into production because of --force)" : ""}` };
}
