// What the backup/restore verbs need to know about a deployed stack, read from its Pulumi outputs
// and config: the database container, the Docker name prefix its backups are filed under, whether it
// is production, and its backup settings.
import { selectStack } from "./stack";

export interface StackTarget {
  /** The stack's Docker name prefix (slipway-<stack>); its backups are filed under it. */
  prefix: string;
  dbContainer: string;
  production: boolean;
  /** as written in the stack file: `keep` unset means the backup verb's default */
  backup?: { dir: string; keep?: number };
}

export async function stackTarget(stackName: string): Promise<StackTarget> {
  const stack = await selectStack(stackName).catch((err: Error) => {
    throw new Error(`no Pulumi stack "${stackName}" here (${err.message.split("\n")[0]}); pass --db-container to name the database yourself`);
  });
  const outputs = await stack.outputs();
  const db = outputs.dbContainer?.value;
  if (typeof db !== "string") {
    throw new Error(`stack "${stackName}" has no dbContainer output: deploy it first (npm run promote -- --stack ${stackName} ...) or pass --db-container`);
  }
  const backupRaw = await stack.getConfig("slipway:backup").catch(() => undefined);
  const backup = backupRaw ? (JSON.parse(backupRaw.value) as { dir: string; keep?: number }) : undefined;
  return {
    prefix: db.replace(/-db$/, ""),
    dbContainer: db,
    production: outputs.environment?.value === "production",
    ...(backup ? { backup: { dir: backup.dir, keep: backup.keep } } : {}),
  };
}
