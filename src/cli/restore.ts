// `npm run restore` — restore a backup into a stack's running database, all or nothing, after
// checking the file (exists, checksum, readable to the end, right stack) and, on production,
// asking the operator to type the stack name (or --yes).
import * as readline from "node:readline/promises";
import { restore } from "../ops/restore";
import { stackTarget } from "../release/target";
import { runVerb, stringFlag, VerbSpec } from "./args";

const spec: VerbSpec = {
  name: "restore",
  summary: "Restore a backup made by `npm run backup` into a stack's running PostgreSQL container, in one transaction.",
  flags: {
    stack: { type: "string", value: "<stack>", description: "Pulumi stack whose database is replaced; with --db-container: the name its backups are filed under", required: true },
    "db-container": { type: "string", value: "<name>", description: "PostgreSQL container (default: the stack's dbContainer output)" },
    file: { type: "string", value: "<path>", description: "the .dump file (its .sha256 must be beside it)", required: true },
    yes: { type: "boolean", description: "do not ask for confirmation on production (required without a terminal)" },
    force: { type: "boolean", description: "restore even though the file's name says it is another stack's backup" },
    database: { type: "string", value: "<db>", description: "database name (default: the container's POSTGRES_DB)" },
    user: { type: "string", value: "<role>", description: "role to restore as (default: the container's POSTGRES_USER)" },
  },
  notes: ["Refuses, changing nothing, for a missing file, a checksum mismatch, a truncated or corrupt dump,", "another stack's dump (without --force) and production without confirmation."],
};

void runVerb(spec, async (values) => {
  const explicit = stringFlag(values, "db-container");
  // Without --db-container, --stack is a Pulumi stack: read its container and environment from it.
  const target = explicit ? undefined : await stackTarget(stringFlag(values, "stack")!);
  const prefix = target?.prefix ?? stringFlag(values, "stack")!;
  const result = await restore({
    prefix,
    dbContainer: explicit ?? target!.dbContainer,
    ...(target ? { production: target.production } : {}),
    file: stringFlag(values, "file")!,
    yes: values.yes === true,
    force: values.force === true,
    database: stringFlag(values, "database"),
    user: stringFlag(values, "user"),
    isTTY: !!process.stdin.isTTY && !!process.stderr.isTTY,
    confirm: async (question) => {
      const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
      try {
        return (await rl.question(question)).trim() === prefix;
      } finally {
        rl.close();
      }
    },
    log: (line) => console.error(line),
  });
  console.log(`restored ${result.file} into database '${result.database}' of stack '${result.prefix}'`);
});
