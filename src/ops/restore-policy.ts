// Pure decisions restore makes before touching anything: is the dump for this stack, and may we go
// ahead without asking. Messages name the thing and say what to do next.

/**
 * Fallback when the caller does not know the stack's `environment` (Pulumi.<stack>.yaml): the
 * stack name alone. Callers that have the config pass `production` to restore() instead.
 */
export function isProductionStack(stack: string): boolean {
  return /^prod(uction)?$/i.test(stack);
}

export type Confirmation = "proceed" | "ask" | "refuse";

export function confirmationNeeded(input: { production: boolean; yes: boolean; isTTY: boolean }): Confirmation {
  if (!input.production || input.yes) return "proceed";
  return input.isTTY ? "ask" : "refuse";
}

/** Why a dump taken from `dumpStack` must not be restored into `stack`, or undefined if it may. */
export function stackMismatchProblem(input: { dumpStack: string | undefined; stack: string; force: boolean }): string | undefined {
  if (input.force || input.dumpStack === input.stack) return undefined;
  if (input.dumpStack === undefined) {
    return `cannot tell which stack the file belongs to (its name is not <stack>-<YYYYMMDDTHHMMSSZ>-<tag>.dump); pass --force if you are sure it belongs in stack '${input.stack}'`;
  }
  return `the file is a backup of stack '${input.dumpStack}', not '${input.stack}'; pass --force to restore it into '${input.stack}' anyway`;
}
