// A dynamic provider runs in a process the `pulumi` command starts. When that command is killed (CI cancelled,
// kill -9), the provider process is left behind, reparented, and would go on acting on Docker — beside the next
// `pulumi up`. Each provider calls this once: when its parent is gone, it exits, leaving what a killed `pulumi up`
// leaves (the next run converges from there).
let watching = false;

export function exitWhenOrphaned(log: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): void {
  if (watching) return;
  watching = true;
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid === parent) return;
    try {
      log(`[slipway] the pulumi process (pid ${parent}) is gone; this provider process stops acting on Docker and exits`);
    } finally {
      process.exit(70);
    }
  }, 1000).unref();
}

/**
 * Whether process `pid` on this machine is gone. Signal 0 tests without signalling: ESRCH means no such process;
 * EPERM means one we may not signal, which is alive.
 */
export function processGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "ESRCH";
  }
}
