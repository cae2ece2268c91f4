// The database roles of a stack (src/vocabulary/database.ts), made and kept by slipway's roles step: a psql script
// run as the superuser over the database container's local socket, idempotent, so every deploy may run it and an
// existing stack converts by a normal deploy. Pure: the script and the command line are built here and tested;
// the program's deploy step (infra/components/deploy-steps.ts) runs the command.
import { DB_ROLES } from "../vocabulary";
import { type Database, shellJoin } from "./commands";

/** The environment variables the roles command reads the two roles' passwords from (never on a command line). */
export const ROLE_PASSWORD_ENV = { owner: "SLIPWAY_DB_OWNER_PASSWORD", api: "SLIPWAY_DB_API_PASSWORD" } as const;

const SYSTEM_SCHEMA = "n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%'";
const NOT_FROM_EXTENSION = (classid: string, objid: string) =>
  `NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = '${classid}'::regclass AND d.objid = ${objid} AND d.deptype = 'e')`;

/**
 * The script (psql, ON_ERROR_STOP, variables `owner_password`, `api_password` and `dbname` set before it):
 * - OWNER and API exist, can log in with their passwords, and are neither superuser nor able to create roles or
 *   databases, replicate or bypass row security;
 * - OWNER owns the database (so, through pg_database_owner, the `public` schema) and every schema, table, view,
 *   sequence, function and type the superuser owned there (what earlier deploys' migrations made as the superuser);
 * - only OWNER and API may connect (CONNECT is revoked from PUBLIC); API may use `public`;
 * - API gets SELECT/INSERT/UPDATE/DELETE on OWNER's tables and USAGE/SELECT/UPDATE on its sequences: on those in
 *   `public` now, and — default privileges, not bound to a schema, so they survive restore's re-created schemas — on
 *   every one OWNER creates later;
 * - the superuser's password is cleared: it can log in on the container's local socket only.
 */
export function rolesScript(): string {
  const { owner, api } = DB_ROLES;
  const ensure = (role: string, password: string) => [
    `SELECT format('CREATE ROLE %I', '${role}') WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${role}') \\gexec`,
    `ALTER ROLE ${role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD :'${password}';`,
  ];
  return [
    "SET client_min_messages = warning;",
    ...ensure(owner, "owner_password"),
    ...ensure(api, "api_password"),
    "BEGIN;",
    `ALTER DATABASE :"dbname" OWNER TO ${owner};`,
    `REVOKE ALL ON DATABASE :"dbname" FROM PUBLIC;`,
    `GRANT CONNECT ON DATABASE :"dbname" TO ${owner}, ${api};`,
    "DO $slipway$",
    "DECLARE r record;",
    "BEGIN",
    // schemas the superuser made (public belongs to pg_database_owner, i.e. now to OWNER)
    `  FOR r IN SELECT n.nspname FROM pg_namespace n WHERE n.nspowner = (SELECT oid FROM pg_roles WHERE rolname = current_user) AND ${SYSTEM_SCHEMA} AND ${NOT_FROM_EXTENSION("pg_namespace", "n.oid")} LOOP`,
    `    EXECUTE format('ALTER SCHEMA %I OWNER TO ${owner}', r.nspname);`,
    "  END LOOP;",
    // relations; a sequence owned by a column moves with its table (and cannot be moved alone)
    "  FOR r IN SELECT n.nspname, c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace",
    `    WHERE c.relowner = (SELECT oid FROM pg_roles WHERE rolname = current_user) AND ${SYSTEM_SCHEMA} AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')`,
    `      AND ${NOT_FROM_EXTENSION("pg_class", "c.oid")}`,
    "      AND NOT (c.relkind = 'S' AND EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype IN ('a', 'i'))) LOOP",
    "    EXECUTE format('ALTER %s %I.%I OWNER TO " + owner + "',",
    "      CASE r.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'f' THEN 'FOREIGN TABLE' WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END, r.nspname, r.relname);",
    "  END LOOP;",
    "  FOR r IN SELECT p.oid::regprocedure AS sig FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace",
    `    WHERE p.proowner = (SELECT oid FROM pg_roles WHERE rolname = current_user) AND ${SYSTEM_SCHEMA} AND ${NOT_FROM_EXTENSION("pg_proc", "p.oid")} LOOP`,
    `    EXECUTE format('ALTER ROUTINE %s OWNER TO ${owner}', r.sig);`,
    "  END LOOP;",
    // stand-alone types (enums, domains, ranges); a table's row type moves with the table
    "  FOR r IN SELECT n.nspname, t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace",
    `    WHERE t.typowner = (SELECT oid FROM pg_roles WHERE rolname = current_user) AND ${SYSTEM_SCHEMA} AND t.typtype IN ('e', 'd', 'r') AND ${NOT_FROM_EXTENSION("pg_type", "t.oid")} LOOP`,
    `    EXECUTE format('ALTER TYPE %I.%I OWNER TO ${owner}', r.nspname, r.typname);`,
    "  END LOOP;",
    "END",
    "$slipway$;",
    `GRANT USAGE ON SCHEMA public TO ${api};`,
    `GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ${api};`,
    `GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO ${api};`,
    `ALTER DEFAULT PRIVILEGES FOR ROLE ${owner} GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO ${api};`,
    `ALTER DEFAULT PRIVILEGES FOR ROLE ${owner} GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO ${api};`,
    "ALTER ROLE CURRENT_USER PASSWORD NULL;",
    "COMMIT;",
    "",
  ].join("\n");
}

/**
 * The shell command of the roles step: the passwords come from the environment (ROLE_PASSWORD_ENV, Pulumi secrets)
 * into psql's stdin through the shell's printf builtin — no command line, no container environment holds them.
 * Runs as `db.user` in `dbContainer` over its local socket (`docker exec -i`).
 */
export function rolesCommand(dbContainer: string, db: Database): string {
  const psql = ["docker", "exec", "-i", dbContainer, "psql", "--no-psqlrc", "--quiet", "--set", "ON_ERROR_STOP=1", "--set", `dbname=${db.database}`, "--username", db.user, "--dbname", db.database];
  // Random passwords of letters and digits: refuse anything else rather than quote it into psql's \set.
  const check = Object.values(ROLE_PASSWORD_ENV).map((v) => `case "$${v}" in ''|*[!A-Za-z0-9]*) echo "${v} must be letters and digits" >&2; exit 2;; esac`);
  const vars = `printf '\\\\set owner_password %s\\n\\\\set api_password %s\\n' "$${ROLE_PASSWORD_ENV.owner}" "$${ROLE_PASSWORD_ENV.api}"`;
  return [...check, `{ ${vars}; printf '%s' ${shellJoin([rolesScript()])}; } | ${shellJoin(psql)}`].join("\n");
}

/**
 * A temporary login role for restore's migrations (psql script; `dbname` set): a member of the stack's OWNER role
 * (of the superuser on a stack without roles), with CONNECT on the database and `password` (letters and digits).
 * It prints the role the migrations must switch to (`-c role=…`), so what they create belongs to OWNER.
 */
export function tempLoginScript(name: string, password: string): string {
  if (!/^[a-z0-9_]+$/.test(name) || !/^[A-Za-z0-9]+$/.test(password)) throw new Error("tempLoginScript: name must be [a-z0-9_], password letters and digits");
  return [
    "SET client_min_messages = warning;",
    `SELECT CASE WHEN EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${DB_ROLES.owner}') THEN '${DB_ROLES.owner}' ELSE current_user END AS target \\gset`,
    `CREATE ROLE ${name} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD '${password}' IN ROLE :"target";`,
    `GRANT CONNECT ON DATABASE :"dbname" TO ${name};`,
    "\\echo :target",
    "",
  ].join("\n");
}

/** Drops the temporary login role again (its CONNECT grant first: a role with privileges cannot be dropped). */
export function dropTempLoginScript(name: string): string {
  if (!/^[a-z0-9_]+$/.test(name)) throw new Error("dropTempLoginScript: name must be [a-z0-9_]");
  return [
    "SET client_min_messages = warning;",
    `SELECT format('REVOKE CONNECT ON DATABASE %I FROM %I', :'dbname', '${name}') WHERE EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${name}') \\gexec`,
    `DROP ROLE IF EXISTS ${name};`,
    "",
  ].join("\n");
}

/** psql as the superuser on the local socket, reading a script from stdin (ON_ERROR_STOP, `dbname` set). */
export function psqlAdmin(db: Database): string[] {
  return ["psql", "--no-psqlrc", "--quiet", "--tuples-only", "--no-align", "--set", "ON_ERROR_STOP=1", "--set", `dbname=${db.database}`, "--username", db.user, "--dbname", db.database];
}
