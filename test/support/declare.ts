// Runs the real Pulumi program under mocks (test/support/mock-program.ts, a child process) for one stack file with
// config overrides, and returns what it declared. The overrides file lives in a temp directory removed afterwards.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface Registered {
  type: string;
  name: string;
  provider?: string;
  inputs: Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export function declareProgram(stack: string, overrides?: Record<string, unknown>): { resources: Registered[]; error?: string } {
  const args = ["--import", "tsx", join(__dirname, "mock-program.ts"), stack];
  const dir = overrides ? mkdtempSync(join(tmpdir(), "slipway-mock-")) : undefined;
  try {
    if (dir) {
      const f = join(dir, "overrides.json");
      writeFileSync(f, JSON.stringify(overrides));
      args.push(f);
    }
    const out = execFileSync(process.execPath, args, { encoding: "utf8", timeout: 60_000 });
    return JSON.parse(out.trim().split("\n").pop()!);
  } finally {
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
}
