// The lines a stack file's refusal names (`slipway:<key>: …`), for unit tests of the stack schema and its policy.
import { loadStackConfig, StackConfigError } from "../../stacks/load";

/** The `slipway:` lines of the error that loading `raw` as stack "s" gives; [] when it loads. */
export function violations(raw: Record<string, unknown>): string[] {
  try {
    loadStackConfig("s", raw);
    return [];
  } catch (e) {
    if (!(e instanceof StackConfigError)) throw e;
    return e.message.split("\n").filter((l) => l.includes("slipway:"));
  }
}
