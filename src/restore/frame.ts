// The frame around a restore's data change, the same for the dump restore (restore.ts) and the point-in-time one
// (pitr.ts): maintenance ON at the stack's edge before the data changes → (the restore's own step) → the running API
// image's migrations → maintenance OFF, only if the restore turned it on. A failure ends the frame as plan.ts decides
// (maintenanceAfter): off again where nothing changed, kept ON where the data may not fit the running code; every
// ending logs, and the error says, the state the edge is left in.
// Where it acts (one host's containers, a swarm's tasks) is the RestoreSite's (site.ts).
import { DEFAULT_MAINTENANCE_MESSAGE } from "../edge/maintenance";
import { OpsError } from "../postgres/errors";
import { type Failed, maintenanceAfter, type RestorePlan } from "./plan";
import type { RestoreSite } from "./site";

/** What clients see while restore holds maintenance on (unless --maintenance-message). */
export const RESTORE_MAINTENANCE_MESSAGE = `${DEFAULT_MAINTENANCE_MESSAGE.replace(/;.*$/, "")} (restoring data); back shortly.`;

export interface FrameOptions {
  site: RestoreSite;
  plan: RestorePlan;
  /** The database's stack (its slipway.stack label): the edge and the migrations' prefix. */
  stack: string | undefined;
  /** the --stack the operator gave, for the hints (npm run maintenance -- --stack …) */
  stackName: string;
  /** what clients get with the 503 while it is on (default RESTORE_MAINTENANCE_MESSAGE; --maintenance-message) */
  message?: string;
  log: (line: string) => void;
}

export class RestoreFrame {
  private onSince = 0;

  constructor(private readonly o: FrameOptions) {}

  /** Maintenance ON when the plan says so; a partly switched edge is turned off again and nothing is restored. */
  async maintenanceOn(): Promise<void> {
    const { plan, site, stack, message, log } = this.o;
    if (plan.maintenance.action !== "turn-on") return;
    this.onSince = Date.now();
    try {
      const edges = await site.setMaintenance(stack!, true, message ?? RESTORE_MAINTENANCE_MESSAGE);
      log(`maintenance: turned ON at ${edges.join(", ")} (clients get 503 with Retry-After)`);
    } catch (err) {
      // a partly switched edge (one of two HAProxies) must not stay on: best effort off, then stop before the data
      await site.setMaintenance(stack!, false).catch(() => undefined);
      throw new OpsError("maintenance-failed", `could not turn maintenance on at the edge of '${stack}' (${(err as Error).message}); nothing was restored. Retry, or pass --no-maintenance`);
    }
  }

  /** The running API image's migrations, so the restored data fits the code that serves it; `restored` says what stays if they fail. */
  async migrate(restored: string): Promise<void> {
    const { plan, site, stack, log } = this.o;
    if (plan.migrate.action !== "run") return;
    try {
      const output = await site.migrate(stack!, plan.migrate, log);
      const done = output.split("\n").find((l) => l.includes("migrations complete"));
      log(`migrations: done${done ? ` ${done.trim()}` : ""}`);
    } catch (err) {
      const error = err instanceof OpsError ? err : new OpsError("migrate-failed", `the migrations of the running API image could not run: ${(err as Error).message}`);
      await this.fail("migrate", new OpsError(error.kind, `${restored}, but ${error.message}`));
    }
  }

  /** The successful ending: maintenance off if the restore turned it on; the edge's state in words (logged). */
  async finish(restored: string): Promise<string> {
    const { edge, offFailed } = await this.end(maintenanceAfter(this.o.plan, this.o.stackName));
    if (offFailed) throw new OpsError("maintenance-failed", `${restored}, but ${edge}`);
    this.o.log(`edge: ${edge}`);
    return edge;
  }

  /** Ends a failed step: maintenance off again if the restore turned it on (and the step allows); the error says what state the edge is in. */
  async fail(failed: Failed, error: OpsError): Promise<never> {
    const { edge } = await this.end(maintenanceAfter(this.o.plan, this.o.stackName, failed));
    this.o.log(`edge: ${edge}`);
    throw new OpsError(error.kind, `${error.message}\nEdge: ${edge}`);
  }

  /** A failure after the data started to change: maintenance stays as it is (ON); the sentence on the edge's state, logged. */
  keepOn(why: string): string {
    const edge = this.o.plan.maintenance.action === "skip" ? "the edge was not touched (maintenance skipped)" : `maintenance stays ON (${why}); then \`npm run maintenance -- --stack ${this.o.stackName} off\``;
    this.o.log(`edge: ${edge}`);
    return edge;
  }

  private async end(after: { turnOff: boolean; edge: string }): Promise<{ edge: string; offFailed: boolean }> {
    if (!after.turnOff) return { edge: after.edge, offFailed: false };
    try {
      await this.o.site.setMaintenance(this.o.stack!, false);
      this.o.log(`maintenance: turned OFF (it was on for ${((Date.now() - this.onSince) / 1000).toFixed(1)} s)`);
      return { edge: after.edge, offFailed: false };
    } catch (err) {
      return { edge: `maintenance is still ON: turning it off failed (${(err as Error).message}); turn it off with \`npm run maintenance -- --stack ${this.o.stackName} off\``, offFailed: true };
    }
  }
}
